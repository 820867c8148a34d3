import { createHash } from 'node:crypto';
import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { ImportRecord, ImportStore } from '../../adapters/dynamodb/import-store.js';
import type { S3ObjectInfo } from '../../adapters/imports/s3-file.js';
import { NO_COUNTS } from '../../core/imports/counts.js';

export interface StartOutcome {
  readonly importId: string;
  readonly status: ImportRecord['status'];
  /** The same file was already imported with the same mapping: nothing was sent again. */
  readonly duplicate: boolean;
}

/** `imports/<sourceId>/...` -> the source id, or undefined for keys outside that layout. */
export function sourceIdOfKey(key: string): string | undefined {
  const match = /^(?:imports|uploads)\/([^/]+)\/.+/.exec(key);
  return match?.[1];
}

/** One import per source, file content (ETag and size) and mapping: the same drop twice is one import. */
export const importIdOf = (sourceId: string, fileId: string, mappingHash: string) =>
  `imp_${createHash('sha256').update(`${sourceId}\0${fileId}\0${mappingHash}`).digest('hex').slice(0, 24)}`;

/**
 * Starts the import of a file, once. A file put again after a successful import is a duplicate (its
 * rows are counted as such, nothing is sent); after a failed one it runs again from the start (its rows
 * keep their messageIds); while one runs, nothing happens.
 */
export async function startImport(
  deps: { store: ImportStore; sfn: SFNClient; stateMachineArn: string; now?: Date },
  object: S3ObjectInfo,
  sourceId: string,
): Promise<StartOutcome> {
  const now = (deps.now ?? new Date()).toISOString();
  const fileId = `${object.etag}:${object.size}`;
  const saved = (await deps.store.sourceExists(sourceId)) ? await deps.store.getMapping(sourceId) : undefined;
  const importId = importIdOf(sourceId, fileId, saved?.mappingHash ?? 'none');
  const base = {
    importId,
    sourceId,
    bucket: object.bucket,
    key: object.key,
    fileId,
    size: object.size,
    createdAt: now,
    attempt: 1,
    duplicates: 0,
    reimports: 0,
    slices: 0,
    lastRow: 0,
    errorFiles: [],
    sampleErrors: [],
    ...NO_COUNTS,
  };
  if (!saved) {
    const error = (await deps.store.sourceExists(sourceId))
      ? `source ${sourceId} has no import mapping: save one with PUT /v1/sources/${sourceId}/import-mapping, then put the file again`
      : `there is no source ${sourceId} (files go under imports/<sourceId>/)`;
    const record = {
      ...base,
      mapping: { type: 'identify' } as never,
      mappingHash: 'none',
      status: 'failed' as const,
      finishedAt: now,
      error,
    };
    if (!(await deps.store.create(record))) await deps.store.update(importId, { error, finishedAt: now });
    return { importId, status: 'failed', duplicate: false };
  }
  const record: ImportRecord = {
    ...base,
    mapping: saved.mapping,
    mappingHash: saved.mappingHash,
    status: 'queued',
  };
  let attempt = 1;
  if (!(await deps.store.create(record))) {
    const existing = (await deps.store.get(importId))!;
    if (existing.status === 'succeeded') {
      await deps.store.update(importId, {
        duplicates: existing.accepted + existing.refused + existing.suppressed,
        reimports: existing.reimports + 1,
      });
      return { importId, status: 'succeeded', duplicate: true };
    }
    if (existing.status !== 'failed') return { importId, status: existing.status, duplicate: false };
    attempt = existing.attempt + 1;
    const restarted = await deps.store.update(
      importId,
      {
        ...NO_COUNTS,
        status: 'queued',
        attempt,
        slices: 0,
        lastRow: 0,
        errorFiles: [],
        sampleErrors: [],
        error: '',
        key: object.key,
      },
      ['failed'],
    );
    if (!restarted) return { importId, status: 'queued', duplicate: false };
  }
  try {
    await deps.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: deps.stateMachineArn,
        // Execution names are unique per state machine for 90 days: one per attempt.
        name: `${importId}-${attempt}`,
        input: JSON.stringify({ importId, lastRow: 0, slice: 0, counts: NO_COUNTS, done: false }),
      }),
    );
  } catch (err) {
    if ((err as Error).name !== 'ExecutionAlreadyExists') {
      // Not left queued forever: putting the file again retries a failed import.
      await deps.store.update(importId, {
        status: 'failed',
        error: 'the import could not be started',
        finishedAt: now,
      });
      throw err;
    }
  }
  return { importId, status: 'queued', duplicate: false };
}
