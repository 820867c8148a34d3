import { createHash } from 'node:crypto';
import type { Profile } from '../profiles/profile.js';
import type { DeltaTarget, MembershipDelta } from './delta.js';

/** A profile's stored membership of one segment. `generation` counts entries, for deterministic deltas. */
export interface MembershipState {
  readonly status: 'member' | 'former';
  readonly generation: number;
  readonly enteredAt?: string;
  readonly exitedAt?: string;
  /** Hash of the traits and consent last sent for this member, to detect updates worth delivering. */
  readonly contentHash?: string;
}

export interface MembershipChange {
  readonly segmentId: string;
  readonly profileId: string;
  readonly kind: 'entered' | 'exited' | 'updated';
  /** The generation the stored item must have now (undefined: no item yet). */
  readonly expectedGeneration?: number;
  readonly generation: number;
  /** For updates: the hash the stored item must still have. */
  readonly expectedContentHash?: string;
  readonly contentHash: string;
  readonly delta: MembershipDelta;
}

/** What destinations see of a member: a change here is an `updated` delta. */
export function contentHash(profile: Profile): string {
  return createHash('sha256')
    .update(JSON.stringify([profile.traits, profile.consent, profile.identities]))
    .digest('hex')
    .slice(0, 32);
}

/** The id of a membership change; activation also derives a change's neighbours from it (delivery order). */
export function deltaIdOf(
  segmentId: string,
  profileId: string,
  kind: MembershipChange['kind'],
  generation: number,
  hash: string,
): string {
  return createHash('sha256')
    .update(`${segmentId}\0${profileId}\0${kind}\0${generation}${kind === 'updated' ? `\0${hash}` : ''}`)
    .digest('hex')
    .slice(0, 32);
}

/**
 * The `entered` a current member's segment emitted when it entered (same id), with the member as it is
 * now, addressed to one destination: how a destination connected later catches up. Its id is the
 * original's, so a destination that already had it skips it.
 */
export function catchUpDelta(
  segmentId: string,
  profile: Profile,
  current: MembershipState,
  source: string,
  target: DeltaTarget,
): MembershipDelta {
  return {
    deltaId: deltaIdOf(segmentId, profile.profileId, 'entered', current.generation, ''),
    segmentId,
    profileId: profile.profileId,
    kind: 'entered',
    generation: current.generation,
    at: current.enteredAt ?? new Date(0).toISOString(),
    source,
    traits: profile.traits,
    identities: profile.identities,
    consent: profile.consent,
    target,
  };
}

/**
 * What must change for a profile whose match result is `matches`: enter, exit, or (for a member whose
 * traits, consent or identities changed) update. The delta id depends only on segment, profile, kind,
 * generation and content, so a retried run or a batch and a real-time evaluation racing each other
 * produce the same id, and activation delivers it once.
 */
export function decideMembership(
  segmentId: string,
  profile: Profile,
  matches: boolean,
  current: MembershipState | undefined,
  at: string,
  source: string,
): MembershipChange | undefined {
  const isMember = current?.status === 'member';
  const hash = contentHash(profile);
  let kind: MembershipChange['kind'];
  if (matches && !isMember) kind = 'entered';
  else if (!matches && isMember) kind = 'exited';
  // Memberships written before content hashes existed have none: no update for them until they change.
  else if (matches && isMember && current?.contentHash !== undefined && current.contentHash !== hash)
    kind = 'updated';
  else return undefined;
  const generation = kind === 'entered' ? (current?.generation ?? 0) + 1 : current!.generation;
  const deltaId = deltaIdOf(segmentId, profile.profileId, kind, generation, hash);
  return {
    segmentId,
    profileId: profile.profileId,
    kind,
    expectedGeneration: current?.generation,
    generation,
    ...(kind === 'updated' ? { expectedContentHash: current!.contentHash } : {}),
    contentHash: hash,
    delta: {
      deltaId,
      segmentId,
      profileId: profile.profileId,
      kind,
      generation,
      at,
      source,
      traits: profile.traits,
      identities: profile.identities,
      consent: profile.consent,
    },
  };
}
