import { describe, expect, it } from 'vitest';
import {
  type IndexShape,
  type Item,
  indexWriteUnits,
  itemSize,
  itemWriteUnits,
  numberSize,
  readUnitsForSize,
  type TableShape,
  valueSize,
  writeUnitsForSize,
} from '../../bench/cost/capacity.js';

const byProfile: IndexShape = { indexName: 'byProfile', keys: ['gsi1pk', 'gsi1sk'], projection: 'ALL' };
const keysOnly: IndexShape = { ...byProfile, projection: 'KEYS_ONLY' };
const table = (index: IndexShape): TableShape => ({ keys: ['pk', 'sk'], indexes: [index] });
const item = (fields: Record<string, string>): Item =>
  Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, { S: v }]));

describe('DynamoDB item sizes', () => {
  it('counts strings in UTF-8 bytes and attribute names', () => {
    expect(itemSize({ pk: { S: 'abc' } })).toBe(5);
    expect(itemSize({ name: { S: 'é' } })).toBe(4 + 2);
  });

  it('counts numbers as 1 byte per two significant digits plus 1', () => {
    expect(numberSize('7')).toBe(2);
    expect(numberSize('1234')).toBe(3);
    expect(numberSize('12345')).toBe(4);
    // Leading and trailing zeroes do not count.
    expect(numberSize('1000000')).toBe(2);
    expect(numberSize('-0.00125')).toBe(3);
  });

  it('counts lists and maps with 3 bytes plus 1 per element, maps with their keys', () => {
    expect(valueSize({ L: [] })).toBe(3);
    expect(valueSize({ L: [{ S: 'ab' }, { BOOL: true }] })).toBe(3 + (1 + 2) + (1 + 1));
    expect(valueSize({ M: { a: { S: 'xy' } } })).toBe(3 + 1 + 1 + 2);
    expect(valueSize({ NULL: true })).toBe(1);
    expect(valueSize({ B: new Uint8Array(10) })).toBe(10);
    expect(valueSize({ SS: ['a', 'bc'] })).toBe(3);
  });
});

describe('capacity units', () => {
  it('rounds writes up per 1 KB and reads per 4 KB, halved when eventually consistent', () => {
    expect(writeUnitsForSize(1)).toBe(1);
    expect(writeUnitsForSize(1024)).toBe(1);
    expect(writeUnitsForSize(1025)).toBe(2);
    expect(writeUnitsForSize(31 * 1024)).toBe(31);
    expect(readUnitsForSize(100, false)).toBe(0.5);
    expect(readUnitsForSize(4097, true)).toBe(2);
    expect(readUnitsForSize(4097, false)).toBe(1);
  });

  const big = 'x'.repeat(2_500);

  it('charges a new item in an ALL index as much again as in the table', () => {
    const after = item({ pk: 'P#1', sk: 'PROFILE', gsi1pk: 'P#1', gsi1sk: 'PROFILE', data: big });
    expect(itemWriteUnits(undefined, after, table(byProfile))).toEqual({
      table: 3,
      indexes: { byProfile: 3 },
    });
    // A keys-only index holds table keys and index keys only: one unit.
    expect(itemWriteUnits(undefined, after, table(keysOnly))).toEqual({
      table: 3,
      indexes: { byProfile: 1 },
    });
  });

  it('charges the table for the larger of before and after', () => {
    const before = item({ pk: 'P#1', sk: 'X', data: big });
    const after = item({ pk: 'P#1', sk: 'X', data: 'small' });
    expect(itemWriteUnits(before, after, table(byProfile)).table).toBe(3);
    expect(itemWriteUnits(before, undefined, table(byProfile)).table).toBe(3);
  });

  it('skips the index for items without its keys (sparse) and for changes it does not project', () => {
    const before = item({ pk: 'E', sk: 'EV#1', data: 'a' });
    const after = item({ pk: 'E', sk: 'EV#1', data: 'b' });
    expect(indexWriteUnits(before, after, table(byProfile), byProfile)).toBe(0);
    const inIndex = { gsi1pk: 'P#1', gsi1sk: 'S' };
    const b2 = item({ pk: 'P#1', sk: 'PROFILE', ...inIndex, data: 'a' });
    const a2 = item({ pk: 'P#1', sk: 'PROFILE', ...inIndex, data: 'b' });
    expect(indexWriteUnits(b2, a2, table(keysOnly), keysOnly)).toBe(0);
    expect(indexWriteUnits(b2, a2, table(byProfile), byProfile)).toBe(1);
  });

  it('charges a delete and a put when the index key changes, and a delete when the entry goes', () => {
    const before = item({ pk: 'SEG#1', sk: 'M#a', gsi1pk: 'P#a', gsi1sk: 'SEG#1' });
    const after = item({ pk: 'SEG#1', sk: 'M#a', gsi1pk: 'P#b', gsi1sk: 'SEG#1' });
    expect(indexWriteUnits(before, after, table(byProfile), byProfile)).toBe(2);
    expect(indexWriteUnits(before, undefined, table(byProfile), byProfile)).toBe(1);
    const unindexed = item({ pk: 'SEG#1', sk: 'M#a' });
    expect(indexWriteUnits(before, unindexed, table(byProfile), byProfile)).toBe(1);
  });

  it('charges a failed condition on the table only, for the item it checked', () => {
    const existing = item({ pk: 'P#1', sk: 'PROFILE', gsi1pk: 'P#1', gsi1sk: 'P', data: big });
    expect(itemWriteUnits(existing, existing, table(byProfile), { conditionFailed: true })).toEqual({
      table: 3,
      indexes: { byProfile: 0 },
    });
  });
});
