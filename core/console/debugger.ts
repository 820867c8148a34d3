import type { QuarantineRecord } from '../lake/quarantine.js';

/**
 * The live event debugger's view of one source: what the stream accepted and what was refused or
 * quarantined, newest first, in one list. Pure: the handler reads the stream and the quarantine.
 */
export interface DebugEntry {
  readonly at: string;
  readonly status: 'accepted' | 'refused' | 'quarantined';
  readonly sourceId?: string;
  readonly messageId?: string;
  readonly type?: string;
  readonly event?: string;
  /** Why it was refused (collect stage) or quarantined (processing), and which field broke which rule. */
  readonly reason?: string;
  readonly details?: string;
  /** The message as stored (accepted) or what arrived (refused), cut to a preview when long. */
  readonly payload?: unknown;
}

const PREVIEW_CHARS = 2_048;

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export function acceptedEntry(message: Record<string, unknown>, arrivedAt: string): DebugEntry {
  return {
    at: str(message.receivedAt) ?? arrivedAt,
    status: 'accepted',
    sourceId: str(message.sourceId),
    messageId: str(message.messageId),
    type: str(message.type),
    event: str(message.event) ?? str(message.name),
    payload: message,
  };
}

export function quarantinedEntry(record: QuarantineRecord, text: string): DebugEntry {
  let payload: unknown = text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
  try {
    payload = JSON.parse(text);
  } catch {
    // Not JSON (that may be the very reason): show the text as it arrived.
  }
  const fields = typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : {};
  return {
    at: record.quarantinedAt,
    // Collect-stage records are requests the API answered 4xx; later stages set aside accepted events.
    status: record.stage === 'collect' ? 'refused' : 'quarantined',
    sourceId: record.sourceId,
    messageId: record.messageId,
    type: str(fields.type),
    event: str(fields.event),
    reason: `${record.stage}: ${record.reason}`,
    details: record.details,
    payload,
  };
}

/** One source's entries (all sources when none is given), newest first, at most `limit`. */
export function debugView(
  entries: readonly DebugEntry[],
  sourceId: string | undefined,
  limit: number,
): DebugEntry[] {
  return entries
    .filter((e) => !sourceId || e.sourceId === sourceId)
    .sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0))
    .slice(0, limit);
}
