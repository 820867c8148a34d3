import {
  hashIdentity,
  identifiersInEventWith,
  type PhoneNormalizer,
  type SubjectIdentifier,
} from './subject-identifiers.js';

/**
 * A tombstone: one identifier hash of a person whose deletion was accepted, with the acceptance time.
 * Every stage that stores or delivers data (processor, lake writer, segmentation output, activation,
 * replay) drops what it recognises instead of writing it, from the moment the regulation is accepted.
 */
export interface Tombstone {
  /** `hashIdentity({type, value})`, the same hash the suppression list uses. */
  readonly hash: string;
  readonly regulationId: string;
  /** When the regulations API accepted the deletion (its own clock, ISO-8601). */
  readonly acceptedAt: string;
  /** `delete_and_suppress` until an `unsuppress` lifts it: everything is dropped, whenever received. */
  readonly suppress: boolean;
}

/**
 * Clock skew allowance between the collector (which stamps `receivedAt`) and the regulations API (which
 * stamps `acceptedAt`). A record stamped up to this long after acceptance counts as received before it:
 * a collector whose clock runs ahead must not let an earlier event survive; erring towards erasure is
 * the safe side. Lambda clocks are NTP-synchronised (Amazon Time Sync) to well under a millisecond.
 */
export const ERASURE_CLOCK_MARGIN_MS = 1_000;

/** Profile ids are tombstoned too (membership deltas and segment output name people by profile id). */
export const profileIdentifier = (profileId: string): SubjectIdentifier => ({
  type: 'profile_id',
  value: profileId,
});

/** The tombstones a stage holds in memory; `erasedBy` is the check every stage makes per record. */
export class TombstoneSet {
  private readonly byHash = new Map<string, Tombstone>();

  constructor(tombstones: Iterable<Tombstone> = []) {
    for (const t of tombstones) {
      const known = this.byHash.get(t.hash);
      // Several regulations may name one identifier: the latest acceptance and any active suppression win.
      if (!known) this.byHash.set(t.hash, t);
      else
        this.byHash.set(t.hash, {
          ...(known.acceptedAt >= t.acceptedAt ? known : t),
          suppress: known.suppress || t.suppress,
        });
    }
  }

  get size(): number {
    return this.byHash.size;
  }

  has(regulationId: string): boolean {
    for (const t of this.byHash.values()) if (t.regulationId === regulationId) return true;
    return false;
  }

  /**
   * The tombstone that erases a record carrying these identifiers, received at `receivedAt`, if any:
   * a suppressing one always; otherwise when the record was received before the deletion was accepted
   * (plus the clock margin). A record without a readable arrival time counts as received before.
   */
  erasedBy(identifiers: readonly SubjectIdentifier[], receivedAt: string | undefined): Tombstone | undefined {
    if (this.byHash.size === 0) return undefined;
    const received = receivedAt === undefined ? Number.NaN : Date.parse(receivedAt);
    for (const id of identifiers) {
      const t = this.byHash.get(hashIdentity(id));
      if (!t) continue;
      if (t.suppress || !(received >= Date.parse(t.acceptedAt) + ERASURE_CLOCK_MARGIN_MS)) return t;
    }
    return undefined;
  }
}

/**
 * The identifiers and arrival time of a collected event (as the stream and the lake hold it). Phone
 * normalisation is passed in (`normalizePhone` of `core/shared/contact-points.ts`, or
 * `phoneNormalizerFor`, which loads it only for events with a phone trait).
 */
export function subjectOfEvent(
  event: Record<string, unknown>,
  normalizePhone: PhoneNormalizer,
): {
  identifiers: SubjectIdentifier[];
  receivedAt: string | undefined;
} {
  return {
    identifiers: identifiersInEventWith(event, normalizePhone),
    receivedAt: typeof event.receivedAt === 'string' ? event.receivedAt : undefined,
  };
}

/**
 * The record the regulation runner puts on every open shard of the events stream once the deletion's
 * tombstones are written: each stream consumer records that it passed it, so the runner knows when
 * everything that was in the stream before the deletion has been handled (stored, or dropped).
 */
export const BARRIER_KIND = 'cdp.erasure_barrier';
export interface BarrierRecord {
  readonly kind: typeof BARRIER_KIND;
  readonly regulationId: string;
}

export const barrierRecord = (regulationId: string): BarrierRecord => ({ kind: BARRIER_KIND, regulationId });

/**
 * A barrier record, or undefined. Only the runner writes them: anything the collector wrote carries
 * `messageId`, `sourceId` and `receivedAt`, so a client cannot pass an event off as a barrier (which
 * would drop it and record a pass for a regulation that does not exist).
 */
export function parseBarrier(value: unknown): BarrierRecord | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (v.kind !== BARRIER_KIND || typeof v.regulationId !== 'string') return undefined;
  if ('messageId' in v || 'sourceId' in v || 'receivedAt' in v) return undefined;
  return /^reg_[0-9a-f]{20}$/.test(v.regulationId)
    ? { kind: BARRIER_KIND, regulationId: v.regulationId }
    : undefined;
}

/** Which (consumer, shard) pairs have not passed a barrier yet. */
export function consumersBehind(
  consumers: readonly string[],
  shards: readonly string[],
  passed: ReadonlySet<string>,
): string[] {
  return consumers.flatMap((c) => shards.filter((s) => !passed.has(`${c}#${s}`)).map((s) => `${c}#${s}`));
}
