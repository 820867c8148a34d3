import * as z from 'zod/mini';
import { lazySchema } from '../shared/lazy-schema.js';
import '../shared/zod.js';

/**
 * The unified profile as every later stage reads it (segmentation, activation, governance, the
 * Profile API). The stream processor owns how it is built; this shape is the contract.
 */

export const IDENTIFIER_TYPES = ['user_id', 'anonymous_id', 'email', 'phone'] as const;

/** `type:value`, e.g. `email:ada@example.com`; external id types are configurable, so any type is allowed. */
export const IdentitySchema = lazySchema(() =>
  z.object({ type: z.string().check(z.minLength(1)), value: z.string().check(z.minLength(1)) }),
);
export type Identity = z.infer<typeof IdentitySchema>;

export const ComputedTraitsSchema = lazySchema(() =>
  z.object({
    first_seen: z.string(),
    last_seen: z.string(),
    /** Count of events per event name (`track`) or per type (`page`, `screen`, `identify`, ...). */
    event_counts: z.record(z.string(), z.number()),
    total_revenue: z.number(),
    order_count: z.number(),
    last_page: z.optional(z.record(z.string(), z.unknown())),
    last_screen: z.optional(z.record(z.string(), z.unknown())),
  }),
);
export type ComputedTraits = z.infer<typeof ComputedTraitsSchema>;

export const ProfileSchema = lazySchema(() =>
  z.object({
    profileId: z.string(),
    traits: z.record(z.string(), z.unknown()),
    computed: ComputedTraitsSchema,
    /** Consent per category (Segment's `context.consent.categoryPreferences`). */
    consent: z.record(z.string(), z.boolean()),
    identities: z.array(IdentitySchema),
    createdAt: z.string(),
    updatedAt: z.string(),
  }),
);
export type Profile = z.infer<typeof ProfileSchema>;

/** An event as kept on a profile's timeline, enough for event conditions in segments. */
export const TimelineEventSchema = lazySchema(() =>
  z.object({
    messageId: z.string(),
    type: z.string(),
    event: z.optional(z.string()),
    name: z.optional(z.string()),
    timestamp: z.string(),
    properties: z.optional(z.record(z.string(), z.unknown())),
  }),
);
export type TimelineEvent = z.infer<typeof TimelineEventSchema>;

/** A profile a batch merged into another: what it held when it was merged, and its survivor. */
export interface MergedAwayProfile {
  readonly profile: Profile;
  readonly into: string;
}

/**
 * Called by the stream processor after a batch has changed profiles (stored state, merges applied), so
 * later stages (real-time segment membership) can react within seconds. `mergedAway` lists the profiles
 * the batch turned into redirects: nothing will be evaluated under their ids again, so whatever a stage
 * keeps for them (segment memberships) has to end here. Implementations must be idempotent: a
 * redelivered batch calls them again with the same profiles. `previous` holds, by profile id, a
 * profile as it was stored before this batch, for those this batch changed only with events it applied
 * itself; a profile it lacks (new, merged into, or reached by events an earlier delivery had applied)
 * has no earlier state a stage can compare with.
 */
export interface ProfileChangeListener {
  profilesChanged(
    profiles: readonly Profile[],
    now: Date,
    mergedAway?: readonly MergedAwayProfile[],
    graph?: BatchGraphChanges,
    previous?: ReadonlyMap<string, Profile>,
  ): Promise<void>;
}

/** The identity graph changes of a committed batch: nodes created or re-pointed, merges done or refused. */
export interface BatchGraphChanges {
  readonly nodes: ReadonlyArray<{ identity: Identity; profileId: string }>;
  readonly merges: ReadonlyArray<{
    survivor: string;
    loser?: string;
    at: string;
    decision: 'merged' | 'blocked';
  }>;
}
