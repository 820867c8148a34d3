import type { SuppressionStore } from '../../adapters/dynamodb/suppression-store.js';
import type { MessageFilter } from '../../core/collect/ingest.js';
import {
  hashIdentity,
  identifiersInEventWith,
  phoneNormalizerFor,
} from '../../core/govern/subject-identifiers.js';

/** How long a warm collector trusts its copy of the suppression list before checking for changes. */
export const SUPPRESSION_CHECK_MS = 5_000;

/**
 * Drops messages of suppressed people before anything is written (not to the stream, so neither the
 * lake nor profiles ever see them). The list is re-read only when its change counter moved, checked at
 * most every 5 s: a new suppression applies within 5 s on every warm collector.
 */
export function suppressionFilter(store: SuppressionStore, checkMs = SUPPRESSION_CHECK_MS): MessageFilter {
  let state: { version: number; hashes: Set<string>; checkedAt: number } | undefined;
  const current = async () => {
    if (state && Date.now() - state.checkedAt < checkMs) return state.hashes;
    const version = await store.changes.read();
    if (!state || state.version !== version)
      state = { version, hashes: version ? await store.hashes() : new Set(), checkedAt: Date.now() };
    else state.checkedAt = Date.now();
    return state.hashes;
  };
  return async (messages) => {
    const hashes = await current();
    if (hashes.size === 0) return { keep: [...messages], dropped: 0 };
    const events = messages as unknown as Record<string, unknown>[];
    // Phone-number metadata loads only when a message carries a phone trait.
    const normalizePhone = await phoneNormalizerFor(events);
    const keep = messages.filter(
      (_, i) =>
        !identifiersInEventWith(events[i]!, normalizePhone).some((id) => hashes.has(hashIdentity(id))),
    );
    return { keep, dropped: messages.length - keep.length };
  };
}
