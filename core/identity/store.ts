import type { Identity } from '../profiles/profile.js';
import type { GraphChanges, GraphSnapshot } from './graph.js';

/** Thrown by a store when a conditional write lost a race; the batch is recomputed from fresh state. */
export class ConflictError extends Error {
  override readonly name = 'ConflictError';
}

/**
 * Persistence the identity graph needs. `commit` writes in an order that keeps every crash point
 * recoverable (see docs/ARCHITECTURE.md) and throws ConflictError when a conditional write fails.
 */
export interface GraphStore {
  load(identities: readonly Identity[]): Promise<GraphSnapshot>;
  commit(changes: GraphChanges, now: Date): Promise<void>;
}

/** Dedupe markers per source and messageId, kept for the dedupe window. */
export interface DedupeStore {
  /** Keys (`sourceId#messageId`) among these that were already processed. */
  seen(keys: readonly string[]): Promise<Set<string>>;
  mark(keys: readonly string[], now: Date): Promise<void>;
}
