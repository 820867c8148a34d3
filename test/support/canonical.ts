import type { CanonicalEvent } from '../../core/process/normalize.js';
import type { Identity } from '../../core/profiles/profile.js';

/** A canonical event for core tests, with only what the test cares about set. */
export function canonical(
  partial: Partial<CanonicalEvent> & { messageId: string; identities: Identity[] },
): CanonicalEvent {
  return {
    sourceId: 'src',
    type: 'track',
    event: 'Viewed',
    timestamp: '2026-01-01T00:00:00.000Z',
    receivedAt: '2026-01-01T00:00:00.000Z',
    properties: {},
    traits: {},
    enrichment: {},
    ...partial,
  };
}
