import { describe, expect, it } from 'vitest';
import {
  ITEMS_PER_SCAN_SEGMENT,
  MAX_SCAN_SEGMENTS,
  runSlice,
  scanSegmentsFor,
} from '../../core/segments/scan-plan.js';

describe('batch run planning', () => {
  it('grows the scan segments with the table, between the configured count and the cap', () => {
    expect(scanSegmentsFor(0, 8)).toBe(8);
    expect(scanSegmentsFor(8 * ITEMS_PER_SCAN_SEGMENT, 8)).toBe(8);
    expect(scanSegmentsFor(8 * ITEMS_PER_SCAN_SEGMENT + 1, 8)).toBe(9);
    expect(scanSegmentsFor(50_000_000, 4)).toBe(250);
    expect(scanSegmentsFor(10_000_000_000, 4)).toBe(MAX_SCAN_SEGMENTS);
    expect(scanSegmentsFor(-1, 0)).toBe(1);
  });

  it('runs pages until the scan ends, and reports done with the summed result', async () => {
    const pages = ['a', 'b', undefined];
    const seen: Array<string | undefined> = [];
    const progress = await runSlice(
      { result: 0 },
      async (cursor, result) => {
        seen.push(cursor);
        return { cursor: pages[seen.length - 1], result: result + 10 };
      },
      () => false,
    );
    expect(seen).toEqual([undefined, 'a', 'b']);
    expect(progress).toEqual({ result: 30, done: true });
  });

  it('stops at the deadline after at least one page and resumes from the cursor it handed back', async () => {
    const next: Record<string, string | undefined> = { start: 'p1', p1: 'p2', p2: undefined };
    const page = async (cursor: string | undefined, result: number) => ({
      cursor: next[cursor ?? 'start'],
      result: result + 1,
    });
    const first = await runSlice({ result: 0 }, page, () => true);
    expect(first).toEqual({ cursor: 'p1', result: 1, done: false });
    const second = await runSlice({ cursor: first.cursor, result: first.result }, page, () => true);
    expect(second).toEqual({ cursor: 'p2', result: 2, done: false });
    const third = await runSlice({ cursor: second.cursor, result: second.result }, page, () => true);
    expect(third).toEqual({ result: 3, done: true });
  });
});
