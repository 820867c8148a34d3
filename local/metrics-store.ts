import { invokingFunction } from '../adapters/aws/call-recorder.js';
import { metricSinks } from '../adapters/observability/metrics.js';
import { localMetricsReaders } from '../adapters/observability/metrics-reader.js';
import type { MetricQuery, MetricSeries, MetricsReader } from '../core/console/overview.js';
import { METRICS_NAMESPACE, type MetricName } from '../resources/metrics.js';

/** A day of minutes, like the longest window the overview offers. */
const RETENTION_MS = 24 * 60 * 60_000;

interface Bucket {
  sum: number;
  max: number;
}

/**
 * CloudWatch's part for the local runtime: the counts handlers make (the same names, the `service`
 * dimension = the function's definition id, as the stack sets it) and the stream consumers' iterator
 * age (`AWS/Lambda` `IteratorAge` by `FunctionName`), kept per minute in memory for a day. The console's
 * overview reads it through the same `MetricsReader` interface as CloudWatch.
 */
export class LocalMetricsStore implements MetricsReader {
  private readonly series = new Map<string, Map<number, Bucket>>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Registers the store as the handlers' metric sink and the overview's reader; returns the undo. */
  register(): () => void {
    const sink = (service: string, name: MetricName, value: number) =>
      // Locally every handler shares one process: the running invocation names the function.
      this.record(METRICS_NAMESPACE, name, { service: invokingFunction() ?? service }, value);
    metricSinks.push(sink);
    localMetricsReaders.push(this);
    return () => {
      metricSinks.splice(metricSinks.indexOf(sink), 1);
      localMetricsReaders.splice(localMetricsReaders.indexOf(this), 1);
    };
  }

  record(namespace: string, metricName: string, dimensions: Record<string, string>, value: number): void {
    const key = seriesKey(namespace, metricName, dimensions);
    const now = this.now();
    const minute = Math.floor(now / 60_000) * 60_000;
    const buckets = this.series.get(key) ?? new Map<number, Bucket>();
    this.series.set(key, buckets);
    const b = buckets.get(minute);
    if (b) {
      b.sum += value;
      b.max = Math.max(b.max, value);
    } else buckets.set(minute, { sum: value, max: value });
    // Buckets are added in time order: the oldest are first, so pruning stops at the first young one.
    for (const t of buckets.keys()) {
      if (t >= now - RETENTION_MS) break;
      buckets.delete(t);
    }
  }

  async read(
    queries: readonly MetricQuery[],
    start: Date,
    end: Date,
    periodSeconds: number,
  ): Promise<MetricSeries[]> {
    const period = periodSeconds * 1000;
    return queries.map((q) => {
      const byPeriod = new Map<number, number>();
      for (const [t, b] of this.series.get(seriesKey(q.namespace, q.metricName, q.dimensions)) ?? []) {
        if (t < start.getTime() || t >= end.getTime()) continue;
        const at = start.getTime() + Math.floor((t - start.getTime()) / period) * period;
        const prev = byPeriod.get(at);
        const value = q.stat === 'Sum' ? b.sum : b.max;
        byPeriod.set(
          at,
          prev === undefined ? value : q.stat === 'Sum' ? prev + value : Math.max(prev, value),
        );
      }
      return {
        id: q.id,
        points: [...byPeriod]
          .sort(([a], [b]) => a - b)
          .map(([at, value]) => ({ at: new Date(at).toISOString(), value })),
      };
    });
  }
}

function seriesKey(namespace: string, metricName: string, dimensions: Record<string, string>): string {
  const dims = Object.entries(dimensions)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return `${namespace}|${metricName}|${dims}`;
}
