import type { ReplayCounts, ReplayCursor } from '../../core/replay/plan.js';

/*
 * The replay state machine's step events, apart from the runner that executes them: the profile
 * processor checks every invocation with `isReplayStep` and loads the runner (its S3 reader, store and
 * engine) only for a replay step, so live batches never load it.
 */

/** The state each step of the replay state machine passes on (ids, cursor and counts only). */
export interface ReplayState {
  readonly replayId: string;
  readonly cursor: ReplayCursor;
  readonly counts: ReplayCounts;
  readonly slice: number;
  readonly done: boolean;
}

export type ReplayStep =
  | { replay: 'slice'; state: ReplayState }
  | { replay: 'finish'; state: ReplayState }
  | { replay: 'fail'; replayId: string; failure: { Error?: string; Cause?: string } };

export const isReplayStep = (event: unknown): event is ReplayStep =>
  typeof event === 'object' && event !== null && typeof (event as { replay?: unknown }).replay === 'string';
