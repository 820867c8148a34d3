/**
 * How a batch run divides the profiles table: enough parallel-scan segments that each holds about
 * `ITEMS_PER_SCAN_SEGMENT` items, never fewer than configured, never more than a Distributed Map
 * should fan out to in one run.
 */
export const ITEMS_PER_SCAN_SEGMENT = 200_000;
// Every child returns its counts inline; 500 of them stay well inside the 256 KB state payload.
export const MAX_SCAN_SEGMENTS = 500;

export function scanSegmentsFor(approximateItems: number, configured: number): number {
  const needed = Math.ceil(Math.max(0, approximateItems) / ITEMS_PER_SCAN_SEGMENT);
  return Math.min(MAX_SCAN_SEGMENTS, Math.max(configured, needed, 1));
}

/** Work a scan segment's loop carries from one runner invocation to the next. */
export interface ScanProgress<R> {
  readonly cursor?: string;
  readonly result: R;
  readonly done: boolean;
}

/**
 * Runs pages of one scan segment until it is exhausted or the slice is used up, always at least one
 * page so every invocation makes progress. The caller hands `cursor` and `result` back in next time.
 */
export async function runSlice<R>(
  start: { cursor?: string; result: R },
  page: (cursor: string | undefined, result: R) => Promise<{ cursor?: string; result: R }>,
  deadline: () => boolean,
): Promise<ScanProgress<R>> {
  let { cursor, result } = start;
  do {
    ({ cursor, result } = await page(cursor, result));
  } while (cursor && !deadline());
  return cursor ? { cursor, result, done: false } : { result, done: true };
}
