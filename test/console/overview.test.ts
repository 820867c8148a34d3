import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { invokedAs } from '../../adapters/aws/call-recorder.js';
import { CloudWatchMetricsReader } from '../../adapters/observability/cloudwatch-metrics-reader.js';
import { createMetrics } from '../../adapters/observability/metrics.js';
import { metricsReader } from '../../adapters/observability/metrics-reader.js';
import {
  overviewLines,
  overviewMetrics,
  overviewWindow,
  quarantineSummary,
} from '../../core/console/overview.js';
import { LocalMetricsStore } from '../../local/metrics-store.js';
import { COLLECTOR_FUNCTION, PROFILE_PROCESSOR_FUNCTION } from '../../resources/functions/index.js';
import { ALARM_RULES, METRIC, METRICS_NAMESPACE } from '../../resources/metrics.js';

const NOW = new Date('2026-03-01T12:30:20Z');

describe('overview lines', () => {
  const metrics = overviewMetrics({ ProfileProcessor: 'cdp-ProfileProcessor-abc' });
  const window = overviewWindow(NOW, 15);

  it('reads the metrics the alarms watch, by their names and dimensions', () => {
    const lag = metrics.find((m) => m.id === 'processorLag')!;
    expect(lag).toMatchObject({
      namespace: 'AWS/Lambda',
      metricName: 'IteratorAge',
      dimensions: { FunctionName: 'cdp-ProfileProcessor-abc' },
      stat: 'Maximum',
      alarm: { name: 'ProfileProcessorIteratorAge' },
    });
    expect(metrics.find((m) => m.id === 'quarantinedProcess')).toMatchObject({
      namespace: METRICS_NAMESPACE,
      metricName: METRIC.recordsQuarantined,
      dimensions: { service: PROFILE_PROCESSOR_FUNCTION.id },
      alarm: { name: `${PROFILE_PROCESSOR_FUNCTION.id}${METRIC.recordsQuarantined}` },
    });
    // Refusals are the client's error: no alarm watches them.
    expect(metrics.find((m) => m.id === 'refused')!.alarm).toBeUndefined();
    expect(new Set(metrics.map((m) => m.id)).size).toBe(metrics.length);
    for (const m of metrics) expect(m.id).toMatch(/^[a-z][a-zA-Z0-9_]*$/);
  });

  it('fills every minute of the window and flags a line exactly when its alarm would fire', () => {
    expect(window.end.toISOString()).toBe('2026-03-01T12:31:00.000Z');
    const lines = overviewLines(
      metrics,
      [
        { id: 'accepted', points: [{ at: '2026-03-01T12:20:00.000Z', value: 7 }] },
        // Quarantined 6 minutes ago: outside the alarm's 5-minute period, so the alarm is back to OK.
        { id: 'quarantinedLake', points: [{ at: '2026-03-01T12:24:00.000Z', value: 2 }] },
        { id: 'quarantinedProcess', points: [{ at: '2026-03-01T12:27:00.000Z', value: 1 }] },
        {
          id: 'processorLag',
          points: [
            { at: '2026-03-01T12:29:00.000Z', value: 400_000 },
            { at: '2026-03-01T12:30:00.000Z', value: 1_000 },
          ],
        },
        { id: 'lakeLag', points: [{ at: '2026-03-01T12:30:00.000Z', value: 301_000 }] },
      ],
      window,
      5,
    );
    const line = (id: string) => lines.find((l) => l.id === id)!;
    expect(line('accepted').points).toHaveLength(15);
    expect(line('accepted').total).toBe(7);
    expect(line('accepted').points.find((p) => p.value === 7)!.at).toBe('2026-03-01T12:20:00.000Z');
    expect(line('quarantinedLake').alarm).toMatchObject({ state: 'ok', value: 0, threshold: 0 });
    expect(line('quarantinedProcess').alarm).toMatchObject({
      state: 'alarm',
      value: 1,
      periodMinutes: ALARM_RULES.countPeriodMinutes,
    });
    // The iterator-age alarm looks at the last minute's maximum against 5 minutes.
    expect(line('processorLag').alarm).toMatchObject({ state: 'ok', value: 1_000, threshold: 300_000 });
    expect(line('processorLag').total).toBe(400_000);
    expect(line('lakeLag').alarm).toMatchObject({ state: 'alarm', value: 301_000 });
    expect(line('deltasFailed').alarm).toMatchObject({ state: 'ok' });
  });

  it('summarises quarantine by stage and reason, most frequent first', () => {
    expect(
      quarantineSummary([
        { stage: 'process', reason: 'invalid_json' },
        { stage: 'collect', reason: 'schema_validation' },
        { stage: 'process', reason: 'invalid_json' },
      ]),
    ).toEqual({
      records: 3,
      byReason: [
        { stage: 'process', reason: 'invalid_json', records: 2 },
        { stage: 'collect', reason: 'schema_validation', records: 1 },
      ],
    });
  });
});

describe('local metrics store', () => {
  let undo: (() => void) | undefined;
  afterEach(() => undo?.());

  it("records handlers' counts under the invoking function's id, and reads them like GetMetricData", async () => {
    let now = Date.parse('2026-03-01T12:00:10Z');
    const store = new LocalMetricsStore(() => now);
    undo = store.register();
    expect(metricsReader()).toBe(store);
    const metrics = createMetrics('collector');
    invokedAs(COLLECTOR_FUNCTION.id, () => metrics.count(METRIC.eventsAccepted, 3));
    metrics.count(METRIC.eventsAccepted, 0); // zero is not a data point, as with EMF
    now += 30_000;
    invokedAs(COLLECTOR_FUNCTION.id, () => metrics.count(METRIC.eventsAccepted, 2));
    now += 60_000;
    invokedAs(COLLECTOR_FUNCTION.id, () => metrics.count(METRIC.eventsRejected, 1));
    store.record('AWS/Lambda', 'IteratorAge', { FunctionName: 'LakeWriter' }, 900);
    store.record('AWS/Lambda', 'IteratorAge', { FunctionName: 'LakeWriter' }, 200);

    const series = await store.read(
      overviewMetrics(),
      new Date('2026-03-01T12:00:00Z'),
      new Date('2026-03-01T12:05:00Z'),
      60,
    );
    const of = (id: string) => series.find((s) => s.id === id)!.points;
    expect(of('accepted')).toEqual([{ at: '2026-03-01T12:00:00.000Z', value: 5 }]);
    expect(of('refused')).toEqual([{ at: '2026-03-01T12:01:00.000Z', value: 1 }]);
    expect(of('lakeLag')).toEqual([{ at: '2026-03-01T12:01:00.000Z', value: 900 }]);
    expect(of('processorLag')).toEqual([]);
    // Outside the window: nothing.
    const before = await store.read(
      overviewMetrics(),
      new Date('2026-03-01T11:00:00Z'),
      new Date('2026-03-01T12:00:00Z'),
      60,
    );
    expect(before.every((s) => s.points.length === 0)).toBe(true);
    undo();
    undo = undefined;
    expect(metricsReader()).not.toBe(store);
  });
});

describe('CloudWatch metrics reader', () => {
  const cw = mockClient(CloudWatchClient);
  afterEach(() => cw.reset());

  it('asks GetMetricData for every line with its stat and period, and follows pages', async () => {
    cw.on(GetMetricDataCommand)
      .resolvesOnce({
        MetricDataResults: [
          {
            Id: 'accepted',
            Timestamps: [new Date('2026-03-01T12:01:00Z'), new Date('2026-03-01T12:00:00Z')],
            Values: [4, 6],
          },
        ],
        NextToken: 'page-2',
      })
      .resolves({
        MetricDataResults: [
          { Id: 'accepted', Timestamps: [new Date('2026-03-01T12:02:00Z')], Values: [1] },
          { Id: 'processorLag', Timestamps: [new Date('2026-03-01T12:02:00Z')], Values: [1200] },
        ],
      });
    const queries = overviewMetrics({ ProfileProcessor: 'cdp-ProfileProcessor-abc' });
    const start = new Date('2026-03-01T12:00:00Z');
    const end = new Date('2026-03-01T13:00:00Z');
    const series = await new CloudWatchMetricsReader(new CloudWatchClient({ region: 'us-east-1' })).read(
      queries,
      start,
      end,
      60,
    );
    const calls = cw.commandCalls(GetMetricDataCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.NextToken).toBe('page-2');
    expect(calls[0]).toMatchObject({ StartTime: start, EndTime: end });
    expect(calls[0]!.MetricDataQueries).toHaveLength(queries.length);
    expect(calls[0]!.MetricDataQueries!.find((q) => q.Id === 'processorLag')).toEqual({
      Id: 'processorLag',
      ReturnData: true,
      MetricStat: {
        Metric: {
          Namespace: 'AWS/Lambda',
          MetricName: 'IteratorAge',
          Dimensions: [{ Name: 'FunctionName', Value: 'cdp-ProfileProcessor-abc' }],
        },
        Period: 60,
        Stat: 'Maximum',
      },
    });
    expect(calls[0]!.MetricDataQueries!.find((q) => q.Id === 'accepted')!.MetricStat).toMatchObject({
      Metric: {
        Namespace: 'CDP',
        MetricName: 'EventsAccepted',
        Dimensions: [{ Name: 'service', Value: 'Collector' }],
      },
      Stat: 'Sum',
    });
    expect(series.find((s) => s.id === 'accepted')!.points).toEqual([
      { at: '2026-03-01T12:00:00.000Z', value: 6 },
      { at: '2026-03-01T12:01:00.000Z', value: 4 },
      { at: '2026-03-01T12:02:00.000Z', value: 1 },
    ]);
    expect(series.find((s) => s.id === 'processorLag')!.points).toEqual([
      { at: '2026-03-01T12:02:00.000Z', value: 1200 },
    ]);
    expect(series.find((s) => s.id === 'deltasFailed')!.points).toEqual([]);
  });
});
