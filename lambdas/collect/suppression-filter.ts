import type { SuppressionStore } from '../../adapters/dynamodb/suppression-store.js';
import type { MessageFilter } from '../../core/collect/ingest.js';
import { carriesPhone, hashIdentity, identifiersInEventWith } from '../../core/govern/subject-identifiers.js';

/**
 * Phone normalisation, loaded on the first message with a phone trait: esbuild keeps a dynamic import
 * lazy inside the bundle, so a cold start does not build libphonenumber-js's metadata.
 */
let phones: Promise<(value: unknown) => string | undefined> | undefined;
const phoneNormalizer = () =>
  (phones ??= import('../../core/shared/contact-points.js').then((m) => (v: unknown) => m.normalizePhone(v)));
const noPhone = () => undefined;

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
    const normalizePhone = events.some(carriesPhone) ? await phoneNormalizer() : noPhone;
    const keep = messages.filter(
      (_, i) =>
        !identifiersInEventWith(events[i]!, normalizePhone).some((id) => hashes.has(hashIdentity(id))),
    );
    return { keep, dropped: messages.length - keep.length };
  };
}
