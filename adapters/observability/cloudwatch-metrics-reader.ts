import {
  type CloudWatchClient,
  GetMetricDataCommand,
  type MetricDataResult,
} from '@aws-sdk/client-cloudwatch';
import type { MetricQuery, MetricSeries, MetricsReader } from '../../core/console/overview.js';

/** GetMetricData takes at most 500 queries per call; the overview asks for about ten. */
const MAX_QUERIES = 500;

/**
 * The overview's metrics from CloudWatch: one `GetMetricData` call (plus pages) for every line, which
 * costs per metric read ($0.01 per 1,000), so the console refreshes it every 30 s, not per second.
 */
export class CloudWatchMetricsReader implements MetricsReader {
  constructor(private readonly cloudwatch: CloudWatchClient) {}

  async read(
    queries: readonly MetricQuery[],
    start: Date,
    end: Date,
    periodSeconds: number,
  ): Promise<MetricSeries[]> {
    const points = new Map<string, Array<{ at: string; value: number }>>(queries.map((q) => [q.id, []]));
    for (let i = 0; i < queries.length; i += MAX_QUERIES) {
      let nextToken: string | undefined;
      do {
        const res = await this.cloudwatch.send(
          new GetMetricDataCommand({
            StartTime: start,
            EndTime: end,
            ScanBy: 'TimestampAscending',
            NextToken: nextToken,
            MetricDataQueries: queries.slice(i, i + MAX_QUERIES).map((q) => ({
              Id: q.id,
              ReturnData: true,
              MetricStat: {
                Metric: {
                  Namespace: q.namespace,
                  MetricName: q.metricName,
                  Dimensions: Object.entries(q.dimensions).map(([Name, Value]) => ({ Name, Value })),
                },
                Period: periodSeconds,
                Stat: q.stat,
              },
            })),
          }),
        );
        for (const r of res.MetricDataResults ?? []) collect(points, r);
        nextToken = res.NextToken;
      } while (nextToken);
    }
    return [...points].map(([id, list]) => ({
      id,
      points: list.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0)),
    }));
  }
}

function collect(points: Map<string, Array<{ at: string; value: number }>>, r: MetricDataResult): void {
  const list = r.Id ? points.get(r.Id) : undefined;
  if (!list) return;
  (r.Timestamps ?? []).forEach((t, i) => {
    const value = r.Values?.[i];
    if (value !== undefined) list.push({ at: new Date(t).toISOString(), value });
  });
}
