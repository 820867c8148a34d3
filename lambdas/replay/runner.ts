import type { Context } from 'aws-lambda';
import { dynamoDbDocumentClient } from '../../adapters/aws/clients.js';
import { s3Client } from '../../adapters/aws/s3-client.js';
import { ReplayStore } from '../../adapters/dynamodb/replay-store.js';
import { createLogger } from '../../adapters/observability/logger.js';
import { ReplayReader } from '../../adapters/s3/replay-reader.js';
import { ENV, loadConfig, nonEmptyString } from '../../resources/env.js';
import { type ReplayEngineDeps, replaySlice } from './engine.js';
import { replayErasureFilter } from './erasure.js';
import type { ReplayState, ReplayStep } from './step.js';

/** What the processor hands over: its parser, pipeline and quarantine, so a replay is processed as live. */
export type ProcessorParts = Pick<ReplayEngineDeps, 'parse' | 'pipeline' | 'isPermanent' | 'quarantine'>;

/** Seconds a slice replays before handing its cursor on; `CDP_REPLAY_SLICE_SECONDS` tunes it (tests). */
const SLICE_SECONDS = Number(process.env.CDP_REPLAY_SLICE_SECONDS ?? 40);
/** Left for the last batch and the state hand-over before the function's timeout. */
const MARGIN_MS = 15_000;

let parts: { store: ReplayStore; reader: ReplayReader; erased: ReplayEngineDeps['erased'] } | undefined;
const logger = createLogger('replay-runner');

// Read on the first replay step, not at the processor's cold start: live processing needs none of it.
function runnerParts() {
  if (parts) return parts;
  const config = loadConfig({ [ENV.controlTable]: nonEmptyString, [ENV.lakeBucket]: nonEmptyString });
  const ddb = dynamoDbDocumentClient();
  parts = {
    store: new ReplayStore(ddb, config[ENV.controlTable]),
    reader: new ReplayReader(s3Client(), config[ENV.lakeBucket]),
    erased: replayErasureFilter(ddb, config[ENV.controlTable]),
  };
  return parts;
}

/** One step of the replay state machine, run by the profile processor's function. */
export async function replayStep(
  step: ReplayStep,
  processor: ProcessorParts,
  context?: Context,
): Promise<unknown> {
  const { store, reader, erased } = runnerParts();
  if (step.replay === 'fail') {
    logger.error('replay failed', { replayId: step.replayId, error: step.failure.Error });
    await store.update(step.replayId, {
      status: 'failed',
      error: `the replay stopped: ${step.failure.Error ?? 'Error'}: ${(step.failure.Cause ?? '').slice(0, 500)}`,
      finishedAt: new Date().toISOString(),
    });
    await store.releaseSlot(step.replayId);
    return undefined;
  }
  const state = step.state;
  if (step.replay === 'finish') {
    await store.update(state.replayId, { status: 'succeeded', finishedAt: new Date().toISOString() }, [
      'running',
      'queued',
    ]);
    await store.releaseSlot(state.replayId);
    logger.info('replay finished', { replayId: state.replayId, ...state.counts });
    return state;
  }
  const record = await store.get(state.replayId);
  if (!record) throw new Error(`No replay ${state.replayId}`);
  if (state.slice === 0)
    await store.update(state.replayId, { status: 'running', startedAt: new Date().toISOString() });
  const started = Date.now();
  let screenedAt: string | undefined;
  const deadline = () =>
    Date.now() - started >= SLICE_SECONDS * 1000 ||
    (context !== undefined && context.getRemainingTimeInMillis() < MARGIN_MS);
  const result = await replaySlice(
    {
      replayId: state.replayId,
      request: record.request,
      cursor: state.cursor,
      counts: state.counts,
      deadline,
    },
    {
      ...processor,
      reader,
      // Batches are screened, applied and reported one after another: the latest screening is the
      // committed batch's, which a deletion waiting for this replay needs to see.
      erased: async (messages) => {
        screenedAt = new Date().toISOString();
        return erased(messages);
      },
      // Set from the state, not added: a retried slice writes the same figures.
      progress: async (cursor, counts) => {
        await store.update(state.replayId, { cursor, counts, ...(screenedAt ? { screenedAt } : {}) });
      },
    },
  );
  logger.info('replay slice', { replayId: state.replayId, slice: state.slice, ...result.counts });
  return {
    replayId: state.replayId,
    cursor: result.cursor,
    counts: result.counts,
    slice: state.slice + 1,
    done: result.done,
  } satisfies ReplayState;
}
