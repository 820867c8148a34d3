import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMetrics } from '../../adapters/observability/metrics.js';
import { METRIC, METRICS_NAMESPACE } from '../../resources/metrics.js';

describe('handler metrics', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  const emitted = () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    return lines;
  };

  it('writes one EMF line per invocation in the CDP namespace, with the service dimension the alarms use', () => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    vi.stubEnv('POWERTOOLS_SERVICE_NAME', 'ProfileProcessor');
    const lines = emitted();
    const metrics = createMetrics('fallback');
    metrics.count(METRIC.eventsProcessed, 40);
    metrics.count(METRIC.recordsQuarantined, 2);
    metrics.count(METRIC.profilesMerged, 0);
    metrics.flush();
    metrics.flush();

    expect(lines).toHaveLength(1);
    const emf = JSON.parse(lines[0]!);
    const [directive] = emf._aws.CloudWatchMetrics;
    expect(directive.Namespace).toBe(METRICS_NAMESPACE);
    expect(directive.Dimensions).toEqual([['service']]);
    expect(directive.Metrics.map((m: { Name: string }) => m.Name).sort()).toEqual(
      [METRIC.eventsProcessed, METRIC.recordsQuarantined].sort(),
    );
    expect(emf).toMatchObject({ service: 'ProfileProcessor', EventsProcessed: 40, RecordsQuarantined: 2 });
    expect(emf).not.toHaveProperty('ProfilesMerged');
  });

  it('stays silent when disabled, as the local runtime sets it', () => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    const lines = emitted();
    const metrics = createMetrics('collector');
    metrics.count(METRIC.eventsAccepted, 3);
    metrics.flush();
    expect(lines).toEqual([]);
  });
});
