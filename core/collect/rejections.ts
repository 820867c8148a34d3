import { constants, gunzipSync } from 'node:zlib';
import type { QuarantineRecord } from '../lake/quarantine.js';
import type { IngestIssue, IngestPath } from './ingest.js';

/** Quarantine keeps at most this much of one rejected body: enough to debug, not a storage channel. */
export const MAX_QUARANTINED_BYTES = 1024 * 1024;

export interface Rejection {
  readonly sourceId: string;
  readonly path: IngestPath;
  readonly code: string;
  readonly message: string;
  readonly issues?: readonly IngestIssue[];
  /** The body as JSON, when it parsed. */
  readonly json?: unknown;
  /** The body as it arrived (still gzip-compressed if it was sent so). */
  readonly raw: Buffer;
  readonly contentEncoding?: string;
  /** The write key the request carried (header or body): never stored, replaced wherever it appears. */
  readonly writeKey?: string;
}

export const REDACTED = '[redacted]';

// `"writeKey": "<anything>"` in text that did not parse as JSON.
const WRITE_KEY_FIELD = /("writeKey"\s*:\s*")((?:[^"\\]|\\.)*)"/g;

/** Text with every write key removed: the `writeKey` field's value and the known key wherever it is. */
export function redactWriteKeys(text: string, writeKey?: string): string {
  let out = text.replace(WRITE_KEY_FIELD, `$1${REDACTED}"`);
  if (writeKey) out = out.split(writeKey).join(REDACTED);
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A message or body as JSON text with its `writeKey` (and its batch items') redacted. */
function redactedJson(value: unknown, writeKey?: string): string | undefined {
  const strip = (v: unknown) => (isObject(v) && v.writeKey !== undefined ? { ...v, writeKey: REDACTED } : v);
  let copy = strip(value);
  if (isObject(copy) && Array.isArray(copy.batch)) copy = { ...copy, batch: copy.batch.map(strip) };
  try {
    return redactWriteKeys(JSON.stringify(copy) ?? 'null', writeKey);
  } catch {
    // Nested too deep for JSON.stringify: the caller falls back to the redacted original text.
    return undefined;
  }
}

/**
 * The body to keep, write keys redacted. Parsed bodies are kept as JSON text; unparsed text as it
 * arrived; a gzip body decompressed as far as it goes (a key inside must not survive compressed). A
 * body that cannot be read at all is withheld: nobody could check it for a key.
 */
function keptBody(rejection: Rejection): { bytes: Buffer; note?: string } {
  const fromJson =
    rejection.json === undefined ? undefined : redactedJson(rejection.json, rejection.writeKey);
  if (fromJson !== undefined) return { bytes: Buffer.from(fromJson) };
  const encoding = rejection.contentEncoding?.toLowerCase();
  let text: string;
  let note: string | undefined;
  if (!encoding || encoding === 'identity') text = rejection.raw.toString('utf8');
  else {
    try {
      text = gunzipSync(rejection.raw, {
        finishFlush: constants.Z_SYNC_FLUSH,
        maxOutputLength: MAX_QUARANTINED_BYTES,
      }).toString('utf8');
      note = `decompressed from ${encoding}`;
    } catch {
      return { bytes: Buffer.alloc(0), note: `body withheld: not readable ${encoding}` };
    }
  }
  return { bytes: Buffer.from(redactWriteKeys(text, rejection.writeKey)), note };
}

const describe = (issues: readonly IngestIssue[]) =>
  issues.map((i) => `${i.field || '(message)'}: ${i.rule}`).join('; ');

/**
 * What a rejected request leaves in the lake's `quarantine/stage=collect/`: the client got a 4xx and
 * nothing of it was stored as an event, but operators can see what their SDKs send wrong, with the
 * reason. A batch becomes one record per message, each with its own message as `raw`, so a deletion
 * finds a person's message the way it finds their events; a body that did not parse is kept whole.
 */
export function quarantineRejection(rejection: Rejection, now: Date): QuarantineRecord[] {
  const base = {
    stage: 'collect' as const,
    reason: rejection.code,
    sourceId: rejection.sourceId,
    quarantinedAt: now.toISOString(),
  };
  const batch = (rejection.json as { batch?: unknown } | undefined)?.batch;
  const perMessage =
    (rejection.path === 'batch' || rejection.path === 'import') &&
    Array.isArray(batch) &&
    rejection.issues?.some((i) => i.index !== undefined);
  if (perMessage) {
    return (batch as unknown[]).map((item, index) => {
      const own = rejection.issues!.filter((i) => i.index === index);
      const messageId = (item as { messageId?: unknown } | null)?.messageId;
      return {
        ...base,
        ...(typeof messageId === 'string' ? { messageId } : {}),
        details: own.length
          ? `/v1/${rejection.path} message ${index}: ${describe(own)}`
          : `/v1/${rejection.path} message ${index}: valid, rejected with its batch (${rejection.message})`,
        origin: `/v1/${rejection.path}#${index}`,
        raw: Buffer.from(redactedJson(item, rejection.writeKey) ?? 'null').toString('base64'),
      };
    });
  }
  const kept = keptBody(rejection);
  const truncated = kept.bytes.length > MAX_QUARANTINED_BYTES;
  const notes = [
    rejection.issues?.length ? describe(rejection.issues) : rejection.message,
    rejection.contentEncoding ? `content-encoding ${rejection.contentEncoding}` : '',
    kept.note ?? '',
    truncated ? `raw truncated to the first ${MAX_QUARANTINED_BYTES} of ${kept.bytes.length} bytes` : '',
  ].filter(Boolean);
  return [
    {
      ...base,
      details: `/v1/${rejection.path}: ${notes.join('; ')}`,
      origin: `/v1/${rejection.path}`,
      raw: kept.bytes.subarray(0, MAX_QUARANTINED_BYTES).toString('base64'),
    },
  ];
}
