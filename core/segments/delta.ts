import * as z from 'zod/mini';
import { IdentitySchema } from '../profiles/profile.js';
import { lazySchema } from '../shared/lazy-schema.js';
import '../shared/zod.js';

/**
 * A change of segment membership, produced by batch runs and by real-time evaluation, consumed by
 * activation. `deltaId` is deterministic, so a redelivered delta can be recognised and skipped.
 */
export const DeltaKindSchema = lazySchema(() => z.enum(['entered', 'exited', 'updated']));

export const MembershipDeltaSchema = lazySchema(() =>
  z.object({
    deltaId: z.string().check(z.minLength(1)),
    segmentId: z.string().check(z.minLength(1)),
    profileId: z.string().check(z.minLength(1)),
    kind: DeltaKindSchema,
    /**
     * Which entry of this person into the segment the change belongs to (1 for the first). Changes of one
     * person are ordered by generation, then entered < updated < exited. Absent on deltas queued before
     * it existed.
     */
    generation: z.optional(z.number().check(z.int(), z.gte(1))),
    /** When membership changed (ISO-8601). */
    at: z.string(),
    /** Batch run id, or `realtime`. */
    source: z.string(),
    traits: z.record(z.string(), z.unknown()),
    identities: z.array(IdentitySchema),
    consent: z.record(z.string(), z.boolean()),
    /**
     * Only for this destination: the catch-up of a destination connected to a segment that already has
     * members, which gets an `entered` for each (the same delta the others got when the member entered).
     */
    target: z.optional(
      z.object({
        destinationId: z.string().check(z.minLength(1)),
        destinationType: z.string().check(z.minLength(1)),
      }),
    ),
  }),
);
export type MembershipDelta = z.infer<typeof MembershipDeltaSchema>;
export type DeltaTarget = NonNullable<MembershipDelta['target']>;

/**
 * Where segmentation hands membership deltas to activation. Batch runs and real-time evaluation both
 * publish through it; activation provides the implementation (per-destination queues on AWS, the local
 * queue locally). `publish` resolves only once every delta is durably handed over.
 */
export interface DeltaSink {
  publish(deltas: readonly MembershipDelta[]): Promise<void>;
}
