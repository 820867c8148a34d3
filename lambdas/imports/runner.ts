import type { Context } from 'aws-lambda';
import { dynamoDbDocumentClient, kinesisClient } from '../../adapters/aws/clients.js';
import { s3Client } from '../../adapters/aws/s3-client.js';
import { ImportStore } from '../../adapters/dynamodb/import-store.js';
import { SuppressionStore } from '../../adapters/dynamodb/suppression-store.js';
import { errorsFileKey, s3Source, writeErrorsFile } from '../../adapters/imports/s3-file.js';
import { EventStreamWriter } from '../../adapters/kinesis/event-stream.js';
import { createLogger } from '../../adapters/observability/logger.js';
import { createMetrics } from '../../adapters/observability/metrics.js';
import { addCounts, type ImportCounts } from '../../core/imports/counts.js';
import { FileError, readRows } from '../../core/imports/formats.js';
import { mappedColumns } from '../../core/imports/mapping.js';
import { importSlice } from '../../core/imports/run.js';
import { ENV, loadConfig, nonEmptyString } from '../../resources/env.js';
import { METRIC } from '../../resources/metrics.js';
import { suppressionFilter } from '../collect/suppression-filter.js';

const config = loadConfig({ [ENV.controlTable]: nonEmptyString, [ENV.eventsStream]: nonEmptyString });
const logger = createLogger('import-runner');
const metrics = createMetrics('import-runner');
const store = new ImportStore(dynamoDbDocumentClient(), config[ENV.controlTable]);
const s3 = s3Client();
// The collector's writer, more patient: an import can wait for a throttled stream, a client cannot.
const stream = new EventStreamWriter(kinesisClient(), config[ENV.eventsStream], {
  attempts: 8,
  baseDelayMs: 100,
  maxDelayMs: 5_000,
});
const filters = [suppressionFilter(new SuppressionStore(dynamoDbDocumentClient(), config[ENV.controlTable]))];

/** Seconds a slice reads before handing its cursor on; `CDP_IMPORT_SLICE_SECONDS` tunes it (tests). */
const SLICE_SECONDS = Number(process.env.CDP_IMPORT_SLICE_SECONDS ?? 600);
const SAMPLE_ERRORS = 20;

interface SliceState {
  importId: string;
  lastRow: number;
  slice: number;
  counts: ImportCounts;
  done: boolean;
  failed?: boolean;
}

type RunnerInput =
  | { step: 'slice'; state: SliceState }
  | { step: 'finish'; state: SliceState }
  | { step: 'fail'; importId: string; failure: { Error?: string; Cause?: string } };

export async function handler(input: RunnerInput, context?: Context): Promise<unknown> {
  try {
    if (input.step === 'slice') return await slice(input.state, context);
    if (input.step === 'finish') return await finish(input.state);
    return await fail(input.importId, input.failure);
  } finally {
    metrics.flush();
  }
}

async function slice(state: SliceState, context?: Context): Promise<SliceState> {
  const record = await store.get(state.importId);
  if (!record) throw new Error(`No import ${state.importId}`);
  if (state.slice === 0)
    await store.update(state.importId, { status: 'running', startedAt: new Date().toISOString() });
  const started = Date.now();
  const deadline = () =>
    Date.now() - started >= SLICE_SECONDS * 1000 ||
    (context !== undefined && context.getRemainingTimeInMillis() < 120_000);
  const [etag] = record.fileId.split(':');
  const source = s3Source(s3, { bucket: record.bucket, key: record.key, etag: etag!, size: record.size });
  let result: Awaited<ReturnType<typeof importSlice>>;
  try {
    const rows = readRows(record.key, source, {
      delimiter: record.mapping.delimiter,
      format: record.mapping.format,
      requiredColumns: mappedColumns(record.mapping),
      startRow: state.lastRow,
    });
    result = await importSlice(
      rows,
      {
        sourceId: record.sourceId,
        fileId: record.fileId,
        mapping: record.mapping,
        startRow: state.lastRow,
        now: () => new Date(),
        deadline,
      },
      { write: (records) => stream.put(records), filters },
    );
  } catch (err) {
    if (!(err instanceof FileError)) throw err;
    // The file as a whole cannot be imported: nothing of it was written, the report says why.
    await store.update(state.importId, {
      status: 'failed',
      error: `the file was refused: ${err.message}`,
      finishedAt: new Date().toISOString(),
    });
    metrics.count(METRIC.importsFailed, 1);
    logger.info('import refused', { importId: state.importId, sourceId: record.sourceId });
    return { ...state, done: true, failed: true };
  }
  const counts = addCounts(state.counts, result.counts);
  const errorFiles = [...record.errorFiles];
  if (result.issues.length) {
    const key = errorsFileKey(record.key, state.slice);
    await writeErrorsFile(s3, record.bucket, key, result.issues, result.issuesDropped);
    if (!errorFiles.includes(key)) errorFiles.push(key);
  }
  const sampleErrors = [...record.sampleErrors, ...result.issues].slice(0, SAMPLE_ERRORS);
  // Counts come from the cursor state, not added to the record: a retried slice sets the same values.
  await store.update(state.importId, {
    ...counts,
    slices: state.slice + 1,
    lastRow: result.lastRow,
    errorFiles,
    sampleErrors,
  });
  metrics.count(METRIC.importRowsAccepted, result.counts.accepted);
  metrics.count(METRIC.importRowsRefused, result.counts.refused);
  metrics.count(METRIC.eventsSuppressed, result.counts.suppressed);
  logger.info('import slice', { importId: state.importId, slice: state.slice, ...result.counts });
  return {
    importId: state.importId,
    lastRow: result.lastRow,
    slice: state.slice + 1,
    counts,
    done: result.done,
  };
}

async function finish(state: SliceState): Promise<SliceState> {
  if (!state.failed)
    await store.update(state.importId, { status: 'succeeded', finishedAt: new Date().toISOString() }, [
      'running',
      'queued',
    ]);
  logger.info('import finished', {
    importId: state.importId,
    failed: state.failed ?? false,
    ...state.counts,
  });
  return state;
}

async function fail(importId: string, failure: { Error?: string; Cause?: string }): Promise<void> {
  metrics.count(METRIC.importsFailed, 1);
  logger.error('import failed', { importId, error: failure.Error });
  await store.update(importId, {
    status: 'failed',
    error: `the import stopped: ${failure.Error ?? 'Error'}: ${(failure.Cause ?? '').slice(0, 500)}`,
    finishedAt: new Date().toISOString(),
  });
}
