import type { KinesisStreamRecord } from 'aws-lambda';
import { decodeRecord } from '../../core/events/record-codec.js';
import { phoneNormalizerFor, type SubjectIdentifier } from '../../core/govern/subject-identifiers.js';
import {
  parseBarrier,
  profileIdentifier,
  subjectOfEvent,
  type Tombstone,
  TombstoneSet,
} from '../../core/govern/tombstones.js';
import type { Identity } from '../../core/profiles/profile.js';
import { ENV } from '../../resources/env.js';
import { METRIC } from '../../resources/metrics.js';
import { dynamoDbDocumentClient } from '../aws/clients.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics, type HandlerMetrics } from '../observability/metrics.js';
import { TombstoneStore } from './tombstone-store.js';

type Log = Pick<ReturnType<typeof createLogger>, 'info'>;

/**
 * What every stage asks before it stores or delivers a record: does it belong to a person whose
 * deletion was accepted? The tombstones are cached per warm container and re-read only when their
 * counter moved; the counter itself is read (strongly consistent) once per batch, so a batch that
 * starts after a deletion was accepted always knows it. Drops are counted (metric `RecordsErased`) and
 * logged with regulation ids and counts only.
 */
export class ErasureGate {
  private cache?: { version: number; set: TombstoneSet };

  constructor(
    private readonly store: Pick<TombstoneStore, 'version' | 'all' | 'passBarrier'>,
    /** The stream consumer's function id (barrier passes are recorded under it). */
    readonly consumer: string,
    private readonly logger: Log = createLogger(`erasure-${consumer}`),
    private readonly metrics: HandlerMetrics = createMetrics(consumer),
  ) {}

  /** The tombstones as of now (one small read; the list only when it changed). */
  async current(): Promise<TombstoneSet> {
    const version = await this.store.version();
    if (!this.cache || this.cache.version !== version)
      this.cache = { version, set: version ? new TombstoneSet(await this.store.all()) : new TombstoneSet() };
    return this.cache.set;
  }

  /** Replay and other callers: is a record with these identifiers, received then, erased? */
  async isErased(
    identifiers: readonly SubjectIdentifier[],
    receivedAt: string | undefined,
  ): Promise<boolean> {
    return (await this.current()).erasedBy(identifiers, receivedAt) !== undefined;
  }

  /**
   * A stream batch without the records of erased people and without barrier records. Records that are
   * not JSON are kept: the consumer quarantines them as it always did.
   */
  async screen(records: readonly KinesisStreamRecord[]): Promise<{
    keep: KinesisStreamRecord[];
    barriers: string[];
  }> {
    const set = await this.current();
    const keep: KinesisStreamRecord[] = [];
    const barriers: string[] = [];
    const erased: Tombstone[] = [];
    for (const record of records) {
      let json: unknown;
      try {
        json = JSON.parse(decodeRecord(Buffer.from(record.kinesis.data, 'base64')));
      } catch {
        keep.push(record);
        continue;
      }
      const barrier = parseBarrier(json);
      if (barrier) {
        barriers.push(barrier.regulationId);
        continue;
      }
      if (set.size && typeof json === 'object' && json !== null && !Array.isArray(json)) {
        const event = json as Record<string, unknown>;
        const { identifiers, receivedAt } = subjectOfEvent(event, await phoneNormalizerFor([event]));
        const t = set.erasedBy(identifiers, receivedAt);
        if (t) {
          erased.push(t);
          continue;
        }
      }
      keep.push(record);
    }
    this.count(erased, 'stream records');
    return { keep, barriers };
  }

  /** Membership deltas (or anything naming a profile and its identities) of people not erased. */
  async keepPeople<T extends { profileId: string; identities: readonly Identity[]; at?: string }>(
    items: readonly T[],
    what: string,
  ): Promise<T[]> {
    if (items.length === 0) return [];
    const set = await this.current();
    if (set.size === 0) return [...items];
    const erased: Tombstone[] = [];
    const keep = items.filter((d) => {
      // A delta's `at` is when membership changed, not when an event arrived: a profile id tombstone
      // always erases (a deleted profile's id never comes back); identities only when suppressing or older.
      const t = set.erasedBy([profileIdentifier(d.profileId), ...d.identities], d.at);
      if (t) erased.push(t);
      return !t;
    });
    this.count(erased, what);
    return keep;
  }

  /** Records, after the batch committed, that this consumer passed each barrier on this shard. */
  async passBarriers(shard: string, regulationIds: readonly string[]): Promise<void> {
    for (const id of new Set(regulationIds)) await this.store.passBarrier(id, this.consumer, shard);
  }

  private count(erased: readonly Tombstone[], what: string): void {
    if (erased.length === 0) return;
    this.metrics.count(METRIC.recordsErased, erased.length);
    this.metrics.flush();
    this.logger.info('records of erased people dropped', {
      what,
      count: erased.length,
      regulationIds: [...new Set(erased.map((t) => t.regulationId))],
    });
  }
}

const gates = new Map<string, ErasureGate>();

/** The gate of this container for one consumer, built on first use from `CDP_CONTROL_TABLE`. */
export function erasureGate(consumer: string): ErasureGate {
  let gate = gates.get(consumer);
  if (!gate) {
    const table = process.env[ENV.controlTable];
    if (!table) throw new Error(`${ENV.controlTable} is not set (the erasure gate reads tombstones there)`);
    gate = new ErasureGate(new TombstoneStore(dynamoDbDocumentClient(), table), consumer);
    gates.set(consumer, gate);
  }
  return gate;
}
