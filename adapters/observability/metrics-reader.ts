import type { MetricsReader } from '../../core/console/overview.js';
import { cloudWatchClient } from '../aws/clients.js';
import { CloudWatchMetricsReader } from './cloudwatch-metrics-reader.js';

/**
 * Readers registered by the local runtime (its metrics store, `local/metrics-store.ts`): there is no
 * CloudWatch emulator. Empty on AWS, where the overview reads CloudWatch.
 */
export const localMetricsReaders: MetricsReader[] = [];

let cloudWatch: CloudWatchMetricsReader | undefined;

/** The newest registered local reader, else CloudWatch. Asked per request: a test may start several CDPs. */
export function metricsReader(): MetricsReader {
  const local = localMetricsReaders.at(-1);
  if (local) return local;
  cloudWatch ??= new CloudWatchMetricsReader(cloudWatchClient());
  return cloudWatch;
}
