import type { Profile } from '../profiles/profile.js';
import type { CompiledSegment } from './engine.js';
import { computedInputs, computedValue } from './evaluate.js';

/**
 * How long after a segment was defined or changed a profile's earlier real-time evaluation may still
 * have used its former definition: the evaluation follows its batch's commit, whose time the profile
 * keeps (`updatedAt`), by seconds; a minute covers that and any clock difference between functions.
 */
export const DEFINITION_SETTLE_MS = 60_000;

/**
 * Whether a batch that turned `before` into `after` can change any of these real-time segments'
 * answers or a member's content, so that the profile's memberships must be read and evaluated.
 *
 * Real-time segments decide on traits, consent and computed traits only, with no clock in them
 * (`isRealtime`), and a membership delta carries traits, consent and identities (`contentHash`). When
 * none of those changed, evaluating gives what the evaluation after the profile's previous write
 * gave, and that one's changes are stored: nothing to read. Most events of a known person only add
 * activity (a page view, a product viewed), and each skipped evaluation saves a consistent Query of
 * the person's memberships. Evaluated all the same:
 * - a profile with no state to compare with (`before` undefined: new, merged into, or reached by a
 *   batch delivered again, whose earlier delivery may have stopped before evaluating);
 * - a profile last written before a segment was defined or changed, plus `DEFINITION_SETTLE_MS`: its
 *   earlier evaluation did not know the definition.
 */
export function needsRealtimeEvaluation(
  before: Profile | undefined,
  after: Profile,
  inputs: RealtimeInputs,
): boolean {
  if (!before) return true;
  const lastWrite = Date.parse(before.updatedAt);
  if (Number.isNaN(lastWrite) || !(inputs.lastDefined < lastWrite - DEFINITION_SETTLE_MS)) return true;
  const content = (p: Profile) => JSON.stringify([p.traits, p.consent, p.identities]);
  if (content(before) !== content(after)) return true;
  for (const name of inputs.computed)
    if (computedValue(before, name) !== computedValue(after, name)) return true;
  return false;
}

/** What a set of real-time segments reads, gathered once per set (see `needsRealtimeEvaluation`). */
export interface RealtimeInputs {
  /** The computed traits their conditions name. */
  readonly computed: readonly string[];
  /** When the latest of them was defined or changed, epoch ms (NaN if one's time cannot be read). */
  readonly lastDefined: number;
}

export function realtimeInputs(segments: readonly CompiledSegment[]): RealtimeInputs {
  const times = segments.map((s) => Date.parse(s.segment.updatedAt));
  return {
    computed: [...new Set(segments.flatMap((s) => computedInputs(s.segment.condition)))],
    lastDefined: times.some(Number.isNaN) ? Number.NaN : Math.max(Number.NEGATIVE_INFINITY, ...times),
  };
}
