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
        raw: Buffer.from(JSON.stringify(item) ?? 'null').toString('base64'),
      };
    });
  }
  const truncated = rejection.raw.length > MAX_QUARANTINED_BYTES;
  const notes = [
    rejection.issues?.length ? describe(rejection.issues) : rejection.message,
    rejection.contentEncoding ? `content-encoding ${rejection.contentEncoding}` : '',
    truncated ? `raw truncated to the first ${MAX_QUARANTINED_BYTES} of ${rejection.raw.length} bytes` : '',
  ].filter(Boolean);
  return [
    {
      ...base,
      details: `/v1/${rejection.path}: ${notes.join('; ')}`,
      origin: `/v1/${rejection.path}`,
      raw: rejection.raw.subarray(0, MAX_QUARANTINED_BYTES).toString('base64'),
    },
  ];
}
