import type { DestinationType } from '../../core/activate/destinations.js';
import type { DeltaSink, MembershipDelta } from '../../core/segments/delta.js';
import { loadOnce } from '../../core/shared/load-once.js';
import { ENV, loadConfig, nonEmptyString } from '../../resources/env.js';
import { DELTA_QUEUES } from '../../resources/queues.js';

/** Where membership deltas go, read from the environment once, at cold start. */
export interface DeltaSinkSettings {
  readonly controlTable: string;
  /** Set: every published delta is also recorded in the lake's `membership_changes`. */
  readonly lakeBucket?: string;
  /** Set (the local runtime without queue URLs): the file queues under this folder stand in for SQS. */
  readonly localDataDir?: string;
  readonly queueUrls: Readonly<Record<DestinationType, string>>;
}

/** Validates the sink's settings; throws a `ConfigError` naming every variable that is missing. */
export function deltaSinkSettings(env: Record<string, string | undefined> = process.env): DeltaSinkSettings {
  const controlTable = loadConfig({ [ENV.controlTable]: nonEmptyString }, env)[ENV.controlTable];
  const lakeBucket = env[ENV.lakeBucket] || undefined;
  const common = { controlTable, ...(lakeBucket ? { lakeBucket } : {}) };
  if (env.CDP_LOCAL_DATA_DIR && !DELTA_QUEUES.some((q) => env[q.envVar]))
    return {
      ...common,
      localDataDir: env.CDP_LOCAL_DATA_DIR,
      queueUrls: {} as Record<DestinationType, string>,
    };
  const urls = loadConfig(Object.fromEntries(DELTA_QUEUES.map((q) => [q.envVar, nonEmptyString])), env);
  return {
    ...common,
    queueUrls: Object.fromEntries(DELTA_QUEUES.map((q) => [q.destinationType, urls[q.envVar]!])) as Record<
      DestinationType,
      string
    >,
  };
}

/**
 * A sink that loads the real one (its SQS client, destination store and routing) with the first delta
 * it is given: the stream processor publishes only when a batch changes a real-time membership, and
 * most of its cold starts never need one. The settings are validated before, at cold start.
 */
export function deltaSinkLoadedOnFirstDelta(
  settings: DeltaSinkSettings,
  load: (settings: DeltaSinkSettings) => Promise<DeltaSink> = async (s) =>
    (await import('./delta-sink.js')).deltaSinkFrom(s),
): DeltaSink {
  // A failed load is not kept: the next batch (the retry of this one) loads it again.
  const sink = loadOnce(() => load(settings));
  return {
    async publish(deltas: readonly MembershipDelta[]) {
      if (deltas.length === 0) return;
      await (await sink()).publish(deltas);
    },
  };
}
