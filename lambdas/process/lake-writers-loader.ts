import { loadOnce } from '../../core/shared/load-once.js';
import type { LakeWriters } from './lake-writers.js';

let load: (() => Promise<LakeWriters>) | undefined;

/**
 * The processor's lake writers and their S3 client (about a quarter of what the processor would
 * otherwise load at cold start), loaded with the first batch. The handler starts the load as a batch
 * begins, so the module is read and evaluated while the batch parses its records and waits on its
 * DynamoDB reads; the lake listener (after the commit) and the quarantine await it. A failed load is
 * tried again by the next call.
 */
export function loadLakeWriters(bucket: string): Promise<LakeWriters> {
  load ??= loadOnce(async () => (await import('./lake-writers.js')).lakeWriters(bucket));
  return load();
}
