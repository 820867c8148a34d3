import type { Identity } from '../profiles/profile.js';
import type { GraphChanges, GraphSnapshot } from './graph.js';

/** Thrown by a store when a conditional write lost a race; the batch is recomputed from fresh state. */
export class ConflictError extends Error {
  override readonly name = 'ConflictError';
  /**
   * Roots whose changes the failed commit did write (a store that commits each person on their own may
   * commit some before another loses): their listeners must still be told once the batch commits.
   */
  committed: readonly string[] = [];
}

export interface LoadOptions {
  readonly consistent?: boolean;
  /**
   * Profiles the batch's people are probably stored under: those their identifiers of the
   * highest-priority type name (see `IdentityGraph`). A store may read them first and take every
   * identifier a live one lists as leading there, without reading its identity node (a live profile
   * lists an identifier only when its node leads to it). A guess that is wrong costs a read.
   */
  readonly likelyRoots?: readonly string[];
}

/**
 * Persistence the identity graph needs. `commit` writes in an order that keeps every crash point
 * recoverable (see docs/ARCHITECTURE.md) and throws ConflictError when a conditional write fails.
 */
export interface GraphStore {
  /**
   * `consistent: false` may return a slightly stale graph at half the read cost. A batch may be
   * resolved against it because `commit` conditions every write on what was read (versions, nodes not
   * existing): a decision taken on stale data fails to commit and is taken again on a consistent read.
   */
  load(identities: readonly Identity[], options?: LoadOptions): Promise<GraphSnapshot>;
  commit(changes: GraphChanges, now: Date): Promise<void>;
}

/** A message to look for on one profile's timeline. */
export interface TimelineMessage {
  readonly sourceId: string;
  readonly messageId: string;
  readonly timestamp: string;
}

/**
 * Dedupe by source and messageId without a marker item: a message a committed batch applied is on the
 * timeline of the profile it resolved to (or of one merged into it since), and the timeline item is
 * written anyway, so it is the marker.
 */
export interface DedupeStore {
  /**
   * How far from a message's time `seen` looks for its copies (a retry's skew-corrected time differs
   * from the original's); undefined: any time. Lets the pipeline skip timelines that cannot hold one.
   */
  readonly windowMs?: number;
  /**
   * `sourceId#messageId` of the messages already on the timeline of the profile they are listed under
   * (the ids are a profile and everything merged into it).
   */
  seen(
    lookups: ReadonlyMap<string, readonly TimelineMessage[]>,
    /** Consistent: also sees what was committed a moment ago (twice the read units). */
    options?: { consistent?: boolean },
  ): Promise<Set<string>>;
}
