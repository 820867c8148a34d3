import { createHash, randomUUID } from 'node:crypto';
import type * as z from 'zod/mini';
import { type CollectedEvent, type MESSAGE_TYPES, type Message, MessageSchema } from '../events/schema.js';
import { isDepthIssue, messageStorageIssues, type StorageIssue } from '../events/storage-limits.js';
import { correctTimestamp } from './clock.js';
import { INGEST_LIMITS } from './limits.js';

/** One rule a request broke, named by field; `index` points at the message inside a batch. */
export interface IngestIssue {
  readonly index?: number;
  readonly field: string;
  readonly rule: string;
}

export type IngestRejection = {
  readonly ok: false;
  readonly status: 400 | 413;
  readonly code: string;
  readonly message: string;
  readonly issues?: readonly IngestIssue[];
};

export type IngestResult = { readonly ok: true; readonly messages: readonly Message[] } | IngestRejection;

/** Paths of the tracking API: one message per request, or a batch (`import` is Segment's old name). */
export type IngestPath = (typeof MESSAGE_TYPES)[number] | 'batch' | 'import';

const reject = (
  status: 400 | 413,
  code: string,
  message: string,
  issues?: readonly IngestIssue[],
): IngestRejection => ({ ok: false, status, code, message, issues });

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function issuesOf(error: z.core.$ZodError, index?: number): IngestIssue[] {
  return error.issues.map((issue) => ({
    ...(index === undefined ? {} : { index }),
    field: issue.path.length ? issue.path.join('.') : 'type',
    rule: issue.message,
  }));
}

const withIndex = (issues: readonly StorageIssue[], index?: number): IngestIssue[] =>
  issues.map((i) => (index === undefined ? { ...i } : { index, ...i }));

/**
 * Validates a decoded JSON body for a tracking API path, against the message schema and against every
 * downstream storage limit (`core/events/storage-limits.ts`) at `receivedAt`, the request's arrival: what
 * passes can be stored. A batch is all or nothing: if any message is invalid the whole batch is
 * rejected, listing every bad message by index, so a client never has to guess which were kept.
 */
export function validateIngestBody(
  path: IngestPath,
  body: unknown,
  bodyBytes: number,
  receivedAt: Date,
): IngestResult {
  if (!isObject(body)) return reject(400, 'invalid_body', 'The body must be a JSON object');
  if (path !== 'batch' && path !== 'import') {
    if (bodyBytes > INGEST_LIMITS.maxMessageBytes)
      return reject(
        413,
        'message_too_large',
        `A message must be at most ${INGEST_LIMITS.maxMessageBytes} bytes`,
      );
    // The path decides the type, as in Segment; a conflicting `type` in the body is an error, not a guess.
    if (body.type !== undefined && body.type !== path) {
      return reject(400, 'validation_failed', 'The message is invalid', [
        { field: 'type', rule: `must be "${path}" on /v1/${path}` },
      ]);
    }
    const parsed = MessageSchema.safeParse({ ...body, type: path });
    if (!parsed.success)
      return reject(400, 'validation_failed', 'The message is invalid', issuesOf(parsed.error));
    const storage = messageStorageIssues(parsed.data, receivedAt);
    if (storage.length)
      return reject(400, 'validation_failed', 'The message cannot be stored', withIndex(storage));
    return { ok: true, messages: [parsed.data] };
  }

  if (bodyBytes > INGEST_LIMITS.maxBatchBytes)
    return reject(413, 'batch_too_large', `A batch must be at most ${INGEST_LIMITS.maxBatchBytes} bytes`);
  const batch = body.batch;
  if (!Array.isArray(batch))
    return reject(400, 'validation_failed', 'The batch is invalid', [
      { field: 'batch', rule: 'must be an array' },
    ]);
  if (batch.length === 0)
    return reject(400, 'validation_failed', 'The batch is invalid', [
      { field: 'batch', rule: 'must not be empty' },
    ]);
  if (batch.length > INGEST_LIMITS.maxBatchMessages) {
    return reject(413, 'batch_too_large', 'The batch is invalid', [
      { field: 'batch', rule: `must hold at most ${INGEST_LIMITS.maxBatchMessages} messages` },
    ]);
  }
  // Batch-level fields apply to every message that does not set its own (Segment batch semantics).
  const shared = {
    context: isObject(body.context) ? body.context : undefined,
    integrations: isObject(body.integrations) ? body.integrations : undefined,
    sentAt: typeof body.sentAt === 'string' ? body.sentAt : undefined,
  };
  const messages: Message[] = [];
  const issues: IngestIssue[] = [];
  batch.forEach((item, index) => {
    if (!isObject(item)) {
      issues.push({ index, field: '', rule: 'must be an object' });
      return;
    }
    // A plain copy, then assignments: V8 copies `{ ...item }` quickly, not `{ ...item, more }`.
    const merged: Record<string, unknown> = { ...item };
    if (shared.sentAt && item.sentAt === undefined) merged.sentAt = shared.sentAt;
    if (shared.context)
      merged.context = { ...shared.context, ...(isObject(item.context) ? item.context : {}) };
    if (shared.integrations && item.integrations === undefined) merged.integrations = shared.integrations;
    // Storage limits first: they walk the message without recursion, so a message nested too deep is
    // refused before JSON.stringify (recursive) measures it.
    const storage = messageStorageIssues(merged, receivedAt);
    if (storage.some(isDepthIssue)) {
      issues.push(...withIndex(storage, index));
      return;
    }
    const size = Buffer.byteLength(JSON.stringify(item));
    if (size > INGEST_LIMITS.maxMessageBytes) {
      issues.push({ index, field: '', rule: `must be at most ${INGEST_LIMITS.maxMessageBytes} bytes` });
      return;
    }
    const parsed = MessageSchema.safeParse(merged);
    if (!parsed.success) issues.push(...issuesOf(parsed.error, index));
    issues.push(...withIndex(storage, index));
    if (parsed.success && !storage.length) messages.push(parsed.data);
  });
  if (issues.length) {
    return reject(
      400,
      'validation_failed',
      `${new Set(issues.map((i) => i.index)).size} of ${batch.length} messages are invalid; nothing was accepted`,
      issues,
    );
  }
  return { ok: true, messages };
}

/**
 * Adds what the server owns: `receivedAt`, the source, a `messageId` when the client sent none, and
 * the skew-corrected `timestamp` (the client's own time stays in `originalTimestamp`). Every other
 * field passes through untouched, and the write key never leaves the collector.
 */
export function withServerFields(message: Message, sourceId: string, receivedAt: Date): CollectedEvent {
  const { writeKey: _writeKey, ...rest } = message;
  const clientTime = message.timestamp ?? message.originalTimestamp;
  const timestamp = correctTimestamp(receivedAt, clientTime, message.sentAt);
  const messageId = message.messageId ?? derivedMessageId(sourceId, rest);
  // Assigned onto the rest copy (already a fresh object) rather than spread into a new literal:
  // V8 has no fast path for `{ ...rest, more }`, and building the record that way plus its
  // JSON.stringify cost about twice as much per event (collector profile). Same key order.
  const event = rest as Record<string, unknown>;
  event.messageId = messageId;
  event.sourceId = sourceId;
  event.receivedAt = receivedAt.toISOString();
  event.timestamp = timestamp.toISOString();
  if (clientTime !== undefined) event.originalTimestamp = clientTime;
  return event as CollectedEvent;
}

/**
 * A message without `messageId` but with its own time gets an id derived from its content, so a client
 * retrying the same request produces the same id and downstream dedupe holds. Without a time two
 * identical messages may be two real events, so they get random ids.
 */
function derivedMessageId(sourceId: string, message: Omit<Message, 'writeKey'>): string {
  if (message.timestamp === undefined && message.originalTimestamp === undefined) return randomUUID();
  const { sentAt: _sentAt, ...stable } = message;
  return `cdp-${createHash('sha256').update(sourceId).update(stableJson(stable)).digest('hex').slice(0, 32)}`;
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (isObject(value))
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(value[k])}`)
      .join(',')}}`;
  return JSON.stringify(value) ?? 'null';
}

/** Kinesis partition key: one person's events share a shard and stay in order. */
export function partitionKeyOf(message: Pick<Message, 'userId' | 'anonymousId'>): string {
  const id = message.userId ?? message.anonymousId;
  return String(id).slice(0, 256);
}

/**
 * Drops messages that must not be stored (suppressed identifiers); applied after validation and before
 * the stream write. The count is reported, the messages are not kept anywhere.
 */
export type MessageFilter = (messages: readonly Message[]) => Promise<{ keep: Message[]; dropped: number }>;
