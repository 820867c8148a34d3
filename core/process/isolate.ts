import type { CanonicalEvent } from './normalize.js';
import { type BatchOrigin, type PipelineDeps, type PipelineResult, processBatch } from './pipeline.js';

export interface IsolatedResult {
  readonly applied: number;
  readonly duplicates: number;
  readonly merges: number;
  readonly blockedMerges: number;
  readonly attempts: number;
  /** Events that can never be stored (index into the input), with the store's reason. */
  readonly rejected: ReadonlyArray<{ index: number; error: Error }>;
}

/**
 * Processes a batch as one unit, and when the store refuses it for good (an item it cannot hold, a
 * value it cannot represent), splits it in halves until the culprit is alone: that event is rejected
 * with the reason, every other event is committed. The halves keep their records' offsets in the
 * original delivery, so what a failed attempt already committed is recognised, not applied twice.
 * Errors that are not permanent (lost races, throttling, the network) fail the whole batch, to be
 * delivered again.
 */
export async function processIsolated(
  events: readonly CanonicalEvent[],
  deps: PipelineDeps,
  now: Date,
  origin: BatchOrigin,
  isPermanent: (err: Error) => boolean,
): Promise<IsolatedResult> {
  const offsets = events.map((_, i) => origin.offsets?.[i] ?? i);
  const total = { applied: 0, duplicates: 0, merges: 0, blockedMerges: 0, attempts: 0 };
  const rejected: Array<{ index: number; error: Error }> = [];
  const add = (r: PipelineResult) => {
    total.applied += r.applied;
    total.duplicates += r.duplicates;
    total.merges += r.merges;
    total.blockedMerges += r.blockedMerges;
    total.attempts += r.attempts;
  };
  const run = async (indexes: readonly number[]): Promise<void> => {
    if (indexes.length === 0) return;
    try {
      add(
        await processBatch(
          indexes.map((i) => events[i]!),
          deps,
          now,
          { lane: origin.lane, batch: origin.batch, offsets: indexes.map((i) => offsets[i]!) },
        ),
      );
    } catch (err) {
      if (!(err instanceof Error) || !isPermanent(err)) throw err;
      if (indexes.length === 1) {
        rejected.push({ index: indexes[0]!, error: err });
        return;
      }
      const half = Math.ceil(indexes.length / 2);
      await run(indexes.slice(0, half));
      await run(indexes.slice(half));
    }
  };
  await run(events.map((_, i) => i));
  return { ...total, rejected };
}
