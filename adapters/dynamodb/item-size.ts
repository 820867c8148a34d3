import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';

/**
 * Item sizes by the rules DynamoDB bills by (Developer Guide, "Item sizes and formats"): a write unit
 * per started KB of the whole item. The stream processor decides what rides on a profile item by
 * them (`latest-events.ts`); the cost benchmark prices every write with them.
 */
export type AttributeItem = Record<string, AttributeValue>;

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');

/** Bytes one write unit covers. */
export const WRITE_UNIT_BYTES = 1024;

/** A number costs 1 byte per two significant digits plus 1 (leading and trailing zeroes trimmed). */
export function numberSize(n: string): number {
  const mantissa = n.replace(/^[-+]/, '').split(/e/i)[0] ?? '';
  const digits = mantissa.replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.ceil(Math.max(digits.length, 1) / 2) + 1;
}

export function valueSize(value: AttributeValue): number {
  if (value.S !== undefined) return utf8(value.S);
  if (value.N !== undefined) return numberSize(value.N);
  if (value.B !== undefined) return value.B.byteLength;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return value.SS.reduce((sum, s) => sum + utf8(s), 0);
  if (value.NS !== undefined) return value.NS.reduce((sum, s) => sum + numberSize(s), 0);
  if (value.BS !== undefined) return value.BS.reduce((sum, b) => sum + b.byteLength, 0);
  // Lists and maps: 3 bytes, plus 1 byte and the size of each element (a map's names count too).
  if (value.L !== undefined) return 3 + value.L.reduce((sum, v) => sum + 1 + valueSize(v), 0);
  if (value.M !== undefined)
    return 3 + Object.entries(value.M).reduce((sum, [k, v]) => sum + 1 + utf8(k) + valueSize(v), 0);
  return 0;
}

/** Item size: each attribute's name in UTF-8 plus its value. */
export function itemSize(item: AttributeItem): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += utf8(name) + valueSize(value);
  return size;
}

/** The size of an item as the document client writes it (plain values, undefined ones left out). */
export const documentItemSize = (item: Record<string, unknown>): number =>
  itemSize(marshall(item, { removeUndefinedValues: true, convertClassInstanceToMap: true }));
