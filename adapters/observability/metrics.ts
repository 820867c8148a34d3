import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE, type MetricName } from '../../resources/metrics.js';

export interface HandlerMetrics {
  count(name: MetricName, value: number): void;
  /** Writes what was counted in this invocation (one EMF line) and starts over. */
  flush(): void;
}

/**
 * Counters for one handler, in the embedded metric format: CloudWatch turns the log line into metrics,
 * with no API call on the hot path. The service dimension is the function's definition id, which the
 * stack's alarms use. Locally `POWERTOOLS_METRICS_DISABLED` keeps them out of the console.
 */
export function createMetrics(serviceName: string): HandlerMetrics {
  const service = process.env.POWERTOOLS_SERVICE_NAME ?? serviceName;
  // Built on the first count, not at import: a cold start does not pay for it.
  let metrics: Metrics | undefined;
  return {
    count(name, value) {
      if (value <= 0) return;
      metrics ??= new Metrics({ namespace: METRICS_NAMESPACE, serviceName: service });
      metrics.addMetric(name, MetricUnit.Count, value);
      for (const sink of metricSinks) sink(service, name, value);
    },
    flush() {
      if (metrics?.hasStoredMetrics()) metrics.publishStoredMetrics();
    },
  };
}

/** Receives every count a handler makes, as it makes it. */
export type MetricSink = (service: string, name: MetricName, value: number) => void;

/**
 * Sinks called with every count. Empty on AWS, where CloudWatch reads the EMF lines; the local runtime
 * registers its metrics store here (`local/metrics-store.ts`), so the console's overview reads the same
 * counts locally as from CloudWatch.
 */
export const metricSinks: MetricSink[] = [];
