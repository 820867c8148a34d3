/**
 * DynamoDB capacity units from item sizes, by the rules DynamoDB documents for on-demand and
 * provisioned tables alike (Developer Guide, "Item sizes and formats" and "Read/write capacity
 * units"). dynalite reports read units itself (tables and indexes) but charges writes for the table
 * only, so the cost benchmark computes every write here, from the item before and after it.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { type AttributeItem, itemSize } from '../../adapters/dynamodb/item-size.js';

export { itemSize, numberSize, valueSize } from '../../adapters/dynamodb/item-size.js';
export type Item = AttributeItem;

export interface IndexShape {
  readonly indexName: string;
  readonly keys: readonly string[];
  /** `ALL`, `KEYS_ONLY`, or `INCLUDE` with `nonKeyAttributes`. */
  readonly projection: 'ALL' | 'KEYS_ONLY' | 'INCLUDE';
  readonly nonKeyAttributes?: readonly string[];
}

export interface TableShape {
  readonly keys: readonly string[];
  readonly indexes: readonly IndexShape[];
}

/** 1 write unit per 1 KB, rounded up per item, at least 1. */
export const writeUnitsForSize = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));

/** 1 read unit per 4 KB strongly consistent, half that eventually consistent, at least one read. */
export const readUnitsForSize = (bytes: number, consistent: boolean) =>
  Math.max(1, Math.ceil(bytes / 4096)) * (consistent ? 1 : 0.5);

/** The entry an item has in an index, or undefined when it lacks the index's key attributes (sparse). */
export function indexEntry(item: Item | undefined, table: TableShape, index: IndexShape): Item | undefined {
  if (!item || index.keys.some((k) => item[k] === undefined)) return undefined;
  if (index.projection === 'ALL') return item;
  const names = [...table.keys, ...index.keys, ...(index.nonKeyAttributes ?? [])];
  const entry: Item = {};
  for (const n of names) if (item[n] !== undefined) entry[n] = item[n];
  return entry;
}

const sameValue = (a: AttributeValue | undefined, b: AttributeValue | undefined) =>
  JSON.stringify(a) === JSON.stringify(b);

function sameEntry(a: Item, b: Item): boolean {
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const n of names) if (!sameValue(a[n], b[n])) return false;
  return true;
}

/**
 * Write units one index pays for a change from `before` to `after` (undefined = absent): a new entry
 * is one write, a removed entry one delete, a changed index key a delete plus a write, a change of
 * projected attributes one write, and a change the index does not project nothing.
 */
export function indexWriteUnits(
  before: Item | undefined,
  after: Item | undefined,
  table: TableShape,
  index: IndexShape,
): number {
  const old = indexEntry(before, table, index);
  const next = indexEntry(after, table, index);
  if (!old && !next) return 0;
  if (!old) return writeUnitsForSize(itemSize(next!));
  if (!next) return writeUnitsForSize(itemSize(old));
  if (index.keys.some((k) => !sameValue(old[k], next[k])))
    return writeUnitsForSize(itemSize(old)) + writeUnitsForSize(itemSize(next));
  if (sameEntry(old, next)) return 0;
  return Math.max(writeUnitsForSize(itemSize(old)), writeUnitsForSize(itemSize(next)));
}

export interface WriteUnits {
  readonly table: number;
  readonly indexes: Record<string, number>;
}

/**
 * Write units of one item write: the table pays for the larger of the item before and after (a
 * delete for the item it removes, a failed condition for the item it checked, at least 1), and every
 * index pays for its own entry (a failed condition writes no index).
 */
export function itemWriteUnits(
  before: Item | undefined,
  after: Item | undefined,
  table: TableShape,
  options: { conditionFailed?: boolean } = {},
): WriteUnits {
  const sizes = [before, after].filter((i): i is Item => i !== undefined).map(itemSize);
  const tableUnits = writeUnitsForSize(Math.max(0, ...sizes));
  const indexes: Record<string, number> = {};
  for (const index of table.indexes)
    indexes[index.indexName] = options.conditionFailed ? 0 : indexWriteUnits(before, after, table, index);
  return { table: tableUnits, indexes };
}
