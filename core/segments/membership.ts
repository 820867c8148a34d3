import { createHash } from 'node:crypto';
import type { Profile } from '../profiles/profile.js';
import type { MembershipDelta } from './delta.js';

/** A profile's stored membership of one segment. `generation` counts entries, for deterministic deltas. */
export interface MembershipState {
  readonly status: 'member' | 'former';
  readonly generation: number;
  readonly enteredAt?: string;
  readonly exitedAt?: string;
}

export interface MembershipChange {
  readonly segmentId: string;
  readonly profileId: string;
  readonly kind: 'entered' | 'exited';
  /** The generation the stored item must have now (undefined: no item yet). */
  readonly expectedGeneration?: number;
  readonly generation: number;
  readonly delta: MembershipDelta;
}

/**
 * What must change for a profile whose match result is `matches`. The delta id depends only on
 * segment, profile, kind and generation, so a retried run or a batch and a real-time evaluation racing
 * each other produce the same id, and activation delivers it once.
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
  if (matches === isMember) return undefined;
  const kind = matches ? 'entered' : 'exited';
  const generation = matches ? (current?.generation ?? 0) + 1 : current!.generation;
  const deltaId = createHash('sha256')
    .update(`${segmentId}\0${profile.profileId}\0${kind}\0${generation}`)
    .digest('hex')
    .slice(0, 32);
  return {
    segmentId,
    profileId: profile.profileId,
    kind,
    expectedGeneration: current?.generation,
    generation,
    delta: {
      deltaId,
      segmentId,
      profileId: profile.profileId,
      kind,
      at,
      source,
      traits: profile.traits,
      identities: profile.identities,
      consent: profile.consent,
    },
  };
}
