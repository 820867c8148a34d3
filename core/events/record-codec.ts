import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';

/**
 * How an event travels on the events stream. Kinesis bills every record rounded up to 1 KB, written
 * once and read by each consumer, and an analytics.js event is about 1.25 KB of JSON: 2 KB billed,
 * three times over. Deflated with a preset dictionary of the strings analytics.js and the server SDKs
 * always send, the same event is about 0.5 KB, so one unit.
 *
 * A record is either plain JSON (its first byte is `{`: records that fit one billed KB as they are,
 * everything written before this format, and control records such as erasure barriers) or a format
 * byte followed by the compressed JSON. The dictionary of a format byte can never change, since
 * records written with it may still be on the stream or in quarantine: a new dictionary takes a new
 * byte.
 */
const FORMAT_DEFLATE_V1 = 0x01;

// Most frequent last: deflate reaches the end of its dictionary with the shortest distances.
const DICTIONARY_V1 = Buffer.from(
  [
    '"_metadata":{"bundled":["Segment.io"],"unbundled":[],"bundledIds":[]}',
    '"userAgentData":{"brands":[{"brand":"Chromium","version":"',
    '{"brand":"Google Chrome","version":"',
    '{"brand":"Not_A Brand","version":"',
    '"mobile":false,"platform":"macOS"',
    '"mobile":true,"platform":"Android"',
    '"platform":"Windows"',
    '"userAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/',
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1',
    ' Safari/537.36"',
    '"library":{"name":"analytics.js","version":"npm:next-',
    '"library":{"name":"analytics-node-next","version":"',
    '"library":{"name":"@segment/analytics-node","version":"',
    '"library":{"name":"analytics-python","version":"',
    '"campaign":{"source":"',
    '"medium":"',
    '"term":"',
    '"content":"',
    'utm_source=',
    '&utm_medium=',
    '&utm_campaign=',
    '"locale":"en-US"',
    '"timezone":"',
    '"ip":"',
    '"integrations":{}',
    '"context":{"page":{"path":"/',
    '"referrer":"https://www.google.com/"',
    '"search":"?',
    '"title":"',
    '"url":"https://',
    '"traits":{"email":"',
    '"name":"',
    '"revenue":',
    '"currency":"USD"',
    '"price":',
    '"quantity":',
    '"product_id":"',
    '"sku":"',
    '"type":"identify"',
    '"type":"page"',
    '"type":"track","event":"',
    'Product Viewed',
    'Order Completed',
    '"properties":{',
    '"userId":"',
    '"anonymousId":"',
    '"messageId":"ajs-next-',
    '"messageId":"',
    '"sentAt":"',
    '"originalTimestamp":"',
    '"timestamp":"',
    '"receivedAt":"',
    '"sourceId":"',
    '.000Z"',
  ].join(''),
  'utf8',
);

/** Kinesis bills every record by the started KB, its partition key included. */
const BILLED_UNIT = 1024;
const billedUnits = (bytes: number) => Math.ceil(bytes / BILLED_UNIT);

/**
 * The bytes to put on the stream for one event's JSON: compressed only when that makes the record one
 * billed KB or more smaller. A record that fits one KB as it is (most server SDK events) stays plain:
 * compressing it would cost the collector about 40 µs per event and each consumer an inflate, for the
 * same bill. `overheadBytes` is what else Kinesis counts in the record (its partition key).
 *
 * A small window and hash table (8 KB, `memLevel` 5) still cover the dictionary and the event, and
 * take a third less time to set up than zlib's defaults: setting up is most of compressing 1 KB.
 */
export function encodeRecord(json: string | Uint8Array, overheadBytes = 0): Buffer {
  const plain =
    typeof json === 'string'
      ? Buffer.from(json, 'utf8')
      : Buffer.from(json.buffer, json.byteOffset, json.byteLength);
  if (plain[0] === FORMAT_DEFLATE_V1) return plain;
  const units = billedUnits(plain.byteLength + overheadBytes);
  if (units <= 1) return plain;
  const packed = deflateRawSync(plain, {
    dictionary: DICTIONARY_V1,
    level: constants.Z_BEST_COMPRESSION,
    windowBits: 13,
    memLevel: 5,
  });
  if (billedUnits(packed.byteLength + 1 + overheadBytes) >= units) return plain;
  return Buffer.concat([Buffer.from([FORMAT_DEFLATE_V1]), packed]);
}

/** Thrown for bytes that are neither JSON nor a known format (the caller quarantines the record). */
export class RecordFormatError extends Error {
  override readonly name = 'RecordFormatError';
}

/** The JSON text of a stream record, whichever format it was written in. */
export function decodeRecord(data: Uint8Array): string {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (bytes[0] !== FORMAT_DEFLATE_V1) return bytes.toString('utf8');
  try {
    // A stream record is at most 1 MB; nothing the producers wrote inflates past a few times that.
    return inflateRawSync(bytes.subarray(1), {
      dictionary: DICTIONARY_V1,
      maxOutputLength: 8 * 1024 * 1024,
    }).toString('utf8');
  } catch (err) {
    throw new RecordFormatError(`The record is not valid compressed JSON: ${(err as Error).message}`);
  }
}

/**
 * A stream record's bytes as its producer wrote them, before compression: what quarantine keeps, so
 * that whoever reads it (Athena's `quarantine_events`, the debugger, a replay, an erasure looking for
 * a person's identifiers) reads JSON or the text that was sent, never the stream's compressed form.
 * Bytes that do not decompress are returned as they are.
 */
export function plainRecordBytes(data: Uint8Array): Buffer {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (bytes[0] !== FORMAT_DEFLATE_V1) return bytes;
  try {
    return Buffer.from(decodeRecord(bytes), 'utf8');
  } catch {
    return bytes;
  }
}
