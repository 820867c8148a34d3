import { createHash } from 'node:crypto';
import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { ProfileReader } from '../../adapters/dynamodb/profile-reader.js';
import { DynamoProfileStore } from '../../adapters/dynamodb/profile-store.js';
import {
  DEFAULT_IDENTITY_CONFIG,
  derivedProfileId,
  type IdentityConfig,
  identityKey,
  priorityOf,
} from '../../core/identity/identifiers.js';
import type { CanonicalEvent } from '../../core/process/normalize.js';
import { processBatch } from '../../core/process/pipeline.js';
import type { Identity } from '../../core/profiles/profile.js';
import { canonical } from './canonical.js';

/**
 * A model-based check of identity resolution under concurrency. A generated population (every person
 * one connected group of identifiers by construction) sends a shuffled stream of events, split over
 * several consumers (lanes) that process their batches one after the other, as shards do. Every
 * DynamoDB call of every consumer goes through fast-check's scheduler, which decides which consumer
 * goes next, so any interleaving of reads and conditional writes can happen; a consumer can also
 * crash before or after any call (the batch is then delivered again, as Kinesis does). The result is
 * compared with a reference union-find over the same events.
 */

export interface Person {
  readonly userId: string;
  readonly emails: readonly string[];
  readonly anons: readonly string[];
}

export interface Scenario {
  readonly events: readonly CanonicalEvent[];
  /** lanes[l] = the batches of lane l, in order. */
  readonly lanes: ReadonlyArray<ReadonlyArray<readonly CanonicalEvent[]>>;
  /** Crash points: lane → call number (1-based) → before or after the call reaches the store. */
  readonly crashes: ReadonlyArray<{ lane: number; call: number; after: boolean }>;
  /**
   * How stale eventually consistent reads are, in writes: the n-th item such a read returns is as it
   * was that many writes ago (used in turn; empty: never stale).
   */
  readonly lags?: readonly number[];
}

const personArb = (i: number) =>
  fc.record({ emails: fc.integer({ min: 1, max: 2 }), anons: fc.integer({ min: 1, max: 3 }) }).map(
    ({ emails, anons }): Person => ({
      userId: `u${i}`,
      emails: Array.from({ length: emails }, (_, k) => `p${i}e${k}@example.com`),
      anons: Array.from({ length: anons }, (_, k) => `p${i}a${k}`),
    }),
  );

/** The events of one person: every identifier is linked to the user id by at least one of them. */
function eventsOf(p: Person, extra: readonly number[]): Array<{ ids: Identity[]; event: string }> {
  const user = { type: 'user_id', value: p.userId };
  const out: Array<{ ids: Identity[]; event: string }> = [];
  for (const a of p.anons) {
    const anon = { type: 'anonymous_id', value: a };
    out.push({ ids: [anon], event: 'Page Viewed' });
    out.push({ ids: [anon, user], event: 'Signed In' });
  }
  for (const e of p.emails) out.push({ ids: [user, { type: 'email', value: e }], event: 'Identified' });
  // Extra anonymous activity (orders count revenue, so lost or doubled events show in sums too).
  extra.forEach((k, n) => {
    const anon = { type: 'anonymous_id', value: p.anons[k % p.anons.length]! };
    out.push({ ids: [anon], event: n % 2 ? 'Order Completed' : 'Product Viewed' });
  });
  return out;
}

export function scenarioArb(
  options: { maxPeople?: number; maxLanes?: number; sharedDevices?: boolean } = {},
) {
  return fc
    .integer({ min: 1, max: options.maxPeople ?? 4 })
    .chain((n) =>
      fc.tuple(
        fc.tuple(...Array.from({ length: n }, (_, i) => personArb(i))),
        fc.array(fc.array(fc.nat(5), { maxLength: 3 }), { minLength: n, maxLength: n }),
      ),
    )
    .chain(([people, extras]) => {
      const specs = people.flatMap((p, i) => eventsOf(p, extras[i]!));
      // A shared device: the next person logs in on someone's first device too. Linking both user ids
      // would break the one-user_id limit, so the merge is refused and the device stays with one of them.
      if (options.sharedDevices)
        people.forEach((p, i) => {
          const next = people[(i + 1) % people.length]!;
          if (next !== p)
            specs.push({
              ids: [
                { type: 'anonymous_id', value: p.anons[0]! },
                { type: 'user_id', value: next.userId },
              ],
              event: 'Signed In',
            });
        });
      return fc.record({
        order: fc.shuffledSubarray(
          specs.map((_, i) => i),
          { minLength: specs.length, maxLength: specs.length },
        ),
        lanes: fc.integer({ min: 2, max: options.maxLanes ?? 3 }),
        laneOf: fc.array(fc.nat(), { minLength: specs.length, maxLength: specs.length }),
        batchSizes: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 20 }),
        crashes: fc.array(
          fc.record({ lane: fc.nat(3), call: fc.integer({ min: 1, max: 40 }), after: fc.boolean() }),
          { maxLength: 3 },
        ),
        lags: fc.array(fc.nat(8), { maxLength: 12 }),
        specs: fc.constant(specs),
      });
    })
    .map(({ order, lanes, laneOf, batchSizes, crashes, lags, specs }): Scenario => {
      const events = order.map((i, n) => {
        const s = specs[i]!;
        return canonical({
          messageId: `m${i}`,
          identities: s.ids,
          event: s.event,
          timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
          properties: s.event === 'Order Completed' ? { revenue: 10 } : {},
          traits: s.event === 'Identified' ? identifiedTraits(i) : {},
        });
      });
      const perLane: CanonicalEvent[][] = Array.from({ length: lanes }, () => []);
      for (const [i, e] of events.entries()) perLane[laneOf[i]! % lanes]!.push(e);
      let b = 0;
      const laneBatches = perLane.map((list) => {
        const batches: CanonicalEvent[][] = [];
        for (let i = 0; i < list.length; ) {
          const size = batchSizes[b++ % batchSizes.length]!;
          batches.push(list.slice(i, i + size));
          i += size;
        }
        return batches;
      });
      return {
        events,
        lanes: laneBatches,
        crashes: crashes.map((c) => ({ ...c, lane: c.lane % lanes })),
        lags,
      };
    });
}

/**
 * What an `Identified` event sets: a plan, and a note too large (and too random) to pack small, so
 * the values are kept beside the profile item and change with every identify.
 */
export function identifiedTraits(i: number): Record<string, string | number | boolean> {
  const note = Array.from({ length: 4 }, (_, k) => createHash('sha256').update(`${i}-${k}`).digest('hex'));
  // Strings large enough to be kept beside the profile item; a count and a flag kept in it.
  return { plan: `plan-${i}`, note: note.join(''), logins: i, verified: i % 2 === 0 };
}

class Crash extends Error {
  override readonly name = 'Crash';
}

type Plain = Record<string, unknown>;
const keyOf = (item: Plain) => `${item.pk as string}\0${item.sk as string}`;

/**
 * What an eventually consistent read may return: every state each item has had, by the write (counted
 * over all consumers) that produced it. DynamoDB's eventually consistent reads may return an item as it
 * was a moment ago, even after a consistent read showed it newer; dynalite's are always current, so the
 * model serves them from here.
 */
class Replica {
  private writes = 0;
  private reads = 0;
  private readonly states = new Map<string, Array<{ at: number; item: Plain | undefined }>>();
  /** Timeline items by profile key and messageId: when each was first written. */
  private readonly events = new Map<string, number>();

  constructor(
    private readonly real: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly lags: readonly number[],
  ) {}

  /** After a write: the items it may have changed, read back as they now are. */
  async written(command: { constructor: { name: string }; input: Plain }): Promise<void> {
    const keys = writtenKeys(command);
    if (keys.length === 0) return;
    this.writes++;
    const now = new Map<string, Plain>();
    for (let i = 0; i < keys.length; i += 100) {
      const res = await this.real.send(
        new BatchGetCommand({
          RequestItems: { [this.table]: { Keys: keys.slice(i, i + 100), ConsistentRead: true } },
        }),
      );
      for (const item of res.Responses?.[this.table] ?? []) now.set(keyOf(item), item);
    }
    for (const key of keys) {
      const k = keyOf(key);
      const item = now.get(k);
      const history = this.states.get(k) ?? [];
      history.push({ at: this.writes, item });
      this.states.set(k, history);
      if (item && String(item.sk).startsWith('EV#')) {
        const event = `${item.pk as string}\0${item.messageId as string}`;
        if (!this.events.has(event)) this.events.set(event, this.writes);
      }
    }
  }

  private lag(): number {
    return this.lags.length ? this.lags[this.reads++ % this.lags.length]! : 0;
  }

  /** An eventually consistent BatchGetItem's answer: each item as it was `lag` writes ago. */
  staleItems(keys: readonly Plain[]): Plain[] {
    return keys.flatMap((key) => {
      const cutoff = this.writes - this.lag();
      const history = this.states.get(keyOf(key)) ?? [];
      const state = [...history].reverse().find((s) => s.at <= cutoff);
      return state?.item ? [state.item] : [];
    });
  }

  /** An eventually consistent timeline Query's answer: without the events written in the last `lag` writes. */
  staleEvents(pk: string, items: readonly Plain[]): Plain[] {
    const cutoff = this.writes - this.lag();
    return items.filter((i) => (this.events.get(`${pk}\0${i.messageId as string}`) ?? 0) <= cutoff);
  }
}

function writtenKeys(command: { constructor: { name: string }; input: Plain }): Plain[] {
  const input = command.input;
  const key = (item: Plain) => ({ pk: item.pk, sk: item.sk });
  switch (command.constructor.name) {
    case 'PutCommand':
      return [key(input.Item as Plain)];
    case 'UpdateCommand':
    case 'DeleteCommand':
      return [key(input.Key as Plain)];
    case 'BatchWriteCommand':
      return Object.values(input.RequestItems as Record<string, Plain[]>).flatMap((requests) =>
        requests.map((r) =>
          key(((r.PutRequest as Plain | undefined)?.Item ?? (r.DeleteRequest as Plain).Key) as Plain),
        ),
      );
    case 'TransactWriteCommand':
      return (input.TransactItems as Plain[]).flatMap((action) => {
        const [kind, body] = Object.entries(action)[0] as [string, Plain];
        return kind === 'ConditionCheck' ? [] : [key((body.Item ?? body.Key) as Plain)];
      });
    default:
      return [];
  }
}

/**
 * A client whose every call waits for the scheduler, that crashes where the scenario says, and whose
 * eventually consistent reads return what the replica says they may.
 */
function scheduledClient(
  real: DynamoDBDocumentClient,
  s: fc.Scheduler,
  lane: number,
  crashes: Scenario['crashes'],
  inFlight: { count: number },
  replica: Replica,
): DynamoDBDocumentClient {
  let calls = 0;
  const send = async (command: { constructor: { name: string }; input: Plain }) => {
    const n = ++calls;
    await s.schedule(Promise.resolve(), `lane ${lane} call ${n} ${command.constructor.name}`);
    const crash = crashes.find((c) => c.lane === lane && c.call === n);
    if (crash && !crash.after) throw new Crash(`before call ${n}`);
    inFlight.count++;
    try {
      let out: Plain;
      try {
        out = (await real.send(command as never)) as Plain;
      } finally {
        // A failed condition changed nothing; reading back finds the items as they were.
        await replica.written(command);
      }
      if (crash?.after) throw new Crash(`after call ${n}`);
      return stale(command, out, replica);
    } finally {
      inFlight.count--;
    }
  };
  return { send } as unknown as DynamoDBDocumentClient;
}

/** An eventually consistent read's answer, from the replica. */
function stale(
  command: { constructor: { name: string }; input: Plain },
  out: Plain,
  replica: Replica,
): Plain {
  const input = command.input;
  if (command.constructor.name === 'BatchGetCommand') {
    const [table, request] = Object.entries(input.RequestItems as Record<string, Plain>)[0]!;
    if (request.ConsistentRead !== false) return out;
    return {
      ...out,
      Responses: { [table]: replica.staleItems(request.Keys as Plain[]) },
      UnprocessedKeys: {},
    };
  }
  if (
    command.constructor.name === 'QueryCommand' &&
    input.ConsistentRead !== true &&
    (input.ExpressionAttributeValues as Plain)[':profile'] === 'PROFILE'
  ) {
    // A profile read (its item and the trait values beside it): each as it was a moment ago, each on
    // its own, as a read that is not isolated from a transaction may find them.
    const values = input.ExpressionAttributeValues as Plain;
    const pk = values[':pk'];
    return {
      ...out,
      Items: replica.staleItems([
        { pk, sk: values[':profile'] },
        { pk, sk: values[':traits'] },
      ]),
    };
  }
  if (command.constructor.name === 'QueryCommand' && input.ConsistentRead !== true) {
    const pk = (input.ExpressionAttributeValues as Plain)[':pk'] as string;
    return { ...out, Items: replica.staleEvents(pk, (out.Items as Plain[] | undefined) ?? []) };
  }
  return out;
}

/** Runs every lane concurrently under the scheduler; a failed batch is delivered again, like Kinesis. */
export async function runScenario(
  scenario: Scenario,
  s: fc.Scheduler,
  real: DynamoDBDocumentClient,
  table: string,
  config: IdentityConfig = DEFAULT_IDENTITY_CONFIG,
): Promise<void> {
  const options = { timelineRetentionDays: 30, dedupeWindowHours: 24 };
  const now = new Date('2026-02-01T00:00:00.000Z');
  const inFlight = { count: 0 };
  const replica = new Replica(real, table, scenario.lags ?? []);
  const lanes = scenario.lanes.map(async (batches, lane) => {
    const store = new DynamoProfileStore(
      scheduledClient(real, s, lane, scenario.crashes, inFlight, replica),
      table,
      options,
    );
    for (const [n, batch] of batches.entries()) {
      const origin = { lane: `lane-${lane}`, batch: `b${n}` };
      for (let delivery = 1; ; delivery++) {
        try {
          await processBatch(
            batch,
            {
              graph: store,
              dedupe: store,
              config,
              maxAttempts: 4,
              backoff: () => Promise.resolve(),
            },
            now,
            origin,
          );
          break;
        } catch (err) {
          if (delivery >= 50) throw new Error(`lane ${lane} batch ${n} failed 50 times: ${err}`);
        }
      }
    }
  });
  // One call at a time: a released call runs to its end, and every consumer has reached its next call
  // (or finished), before the scheduler picks again. The interleaving is then the scheduler's alone,
  // not dynalite's timing, so a seed and path replay a failure exactly, whatever the machine's load.
  const settled = async (release: () => Promise<unknown>) => {
    await release();
    do await new Promise((r) => setImmediate(r));
    while (inFlight.count > 0);
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  };
  await s.waitFor(Promise.all(lanes), settled);
}

/** What went wrong, compared with a reference union-find; empty when the store is right. */
export async function checkAgainstReference(
  scenario: Scenario,
  real: DynamoDBDocumentClient,
  table: string,
  config: IdentityConfig = DEFAULT_IDENTITY_CONFIG,
): Promise<string[]> {
  const parent = new Map<string, string>();
  const find = (k: string): string => {
    while (parent.get(k) !== k) k = parent.get(k)!;
    return k;
  };
  const ids = new Map<string, Identity>();
  for (const e of scenario.events) {
    for (const id of e.identities) {
      const k = identityKey(id);
      ids.set(k, id);
      if (!parent.has(k)) parent.set(k, k);
    }
    const [first, ...rest] = e.identities.map(identityKey);
    for (const k of rest) parent.set(find(k), find(first!));
  }
  const components = new Map<string, string[]>();
  for (const k of ids.keys()) components.set(find(k), [...(components.get(find(k)) ?? []), k]);

  const reader = new ProfileReader(real, table);
  const problems: string[] = [];
  const roots = new Set<string>();
  for (const members of components.values()) {
    // Named by the smallest id derived from its identifiers of the highest-priority type it has.
    const best = Math.min(...members.map((k) => priorityOf(config, ids.get(k)!.type)));
    const expectedId = members
      .filter((k) => priorityOf(config, ids.get(k)!.type) === best)
      .map((k) => derivedProfileId(ids.get(k)!))
      .sort()[0]!;
    const expectedEvents = scenario.events.filter((e) => members.includes(identityKey(e.identities[0]!)));
    for (const k of members) {
      const id = ids.get(k)!;
      const state = await reader.find(id);
      if (!state) problems.push(`${k}: resolves to no live profile`);
      else if (state.profileId !== expectedId)
        problems.push(`${k}: resolves to ${state.profileId}, expected ${expectedId}`);
    }
    const root = await reader.getState(expectedId);
    if (!root) {
      problems.push(`component of ${members[0]}: no live profile ${expectedId}`);
      continue;
    }
    roots.add(root.profileId);
    const held = root.identities.map(identityKey).sort();
    if (JSON.stringify(held) !== JSON.stringify([...members].sort()))
      problems.push(`${expectedId}: identities ${held.join(',')} != ${[...members].sort().join(',')}`);
    const counts: Record<string, number> = {};
    for (const e of expectedEvents) counts[e.event!] = (counts[e.event!] ?? 0) + 1;
    const sortObj = (o: Record<string, number>) => JSON.stringify(Object.entries(o).sort());
    if (sortObj(root.computed.event_counts) !== sortObj(counts))
      problems.push(
        `${expectedId}: event_counts ${sortObj(root.computed.event_counts)} != ${sortObj(counts)}`,
      );
    // The latest identify's traits win, wherever its profile was merged.
    const latest = expectedEvents
      .filter((e) => e.event === 'Identified')
      .sort((a, b) => (a.timestamp < b.timestamp ? -1 : 1))
      .at(-1);
    // Names in any order: a profile item keeps numbers and flags apart from the values beside it.
    const sorted = (traits: Record<string, unknown>) => JSON.stringify(Object.entries(traits).sort());
    if (sorted(root.traits) !== sorted(latest ? latest.traits : {}))
      problems.push(
        `${expectedId}: traits of ${JSON.stringify(root.traits).slice(0, 40)}, expected ${latest?.messageId}'s`,
      );
    const revenue = expectedEvents.filter((e) => e.event === 'Order Completed').length * 10;
    if (root.computed.total_revenue !== revenue)
      problems.push(`${expectedId}: revenue ${root.computed.total_revenue} != ${revenue}`);
    const timeline = await reader.fullTimeline(root);
    const got = timeline.map((t) => t.messageId).sort();
    const want = expectedEvents.map((e) => e.messageId).sort();
    if (JSON.stringify(got) !== JSON.stringify(want))
      problems.push(`${expectedId}: timeline ${got.join(',')} != ${want.join(',')}`);
  }
  // No other live profile: a merged-away profile that came back would be one.
  let cursor: string | undefined;
  do {
    const page = await reader.scanStates({ cursor });
    for (const p of page.items)
      if (!roots.has(p.profileId)) problems.push(`${p.profileId}: live, not a root`);
    cursor = page.cursor;
  } while (cursor);
  return problems;
}

/**
 * With merge protection, who ends with whom depends on order (as in Segment), so there is no reference
 * partition to compare with; what must hold whatever the order: every identifier resolves to a live
 * profile that lists it, no profile breaks a limit, every event is applied exactly once (in exactly
 * one live profile's counts and timeline), and no merged-away profile is live.
 */
export async function checkProtectedInvariants(
  scenario: Scenario,
  real: DynamoDBDocumentClient,
  table: string,
  limits: Readonly<Record<string, number>>,
): Promise<string[]> {
  const reader = new ProfileReader(real, table);
  const problems: string[] = [];
  const live = [];
  let cursor: string | undefined;
  do {
    const page = await reader.scanStates({ cursor });
    live.push(...page.items);
    cursor = page.cursor;
  } while (cursor);
  const liveIds = new Set(live.map((p) => p.profileId));
  const ids = new Map<string, Identity>();
  for (const e of scenario.events) for (const id of e.identities) ids.set(identityKey(id), id);
  for (const [k, id] of ids) {
    const state = await reader.find(id);
    if (!state) problems.push(`${k}: resolves to no live profile`);
    else if (!state.identities.some((i) => identityKey(i) === k))
      problems.push(`${k}: resolves to ${state.profileId}, which does not list it`);
  }
  let counted = 0;
  const seen = new Map<string, string>();
  for (const p of live) {
    for (const [type, max] of Object.entries(limits)) {
      const n = p.identities.filter((i) => i.type === type).length;
      if (n > max) problems.push(`${p.profileId}: ${n} ${type} (at most ${max})`);
    }
    for (const m of p.mergedFrom) if (liveIds.has(m)) problems.push(`${m}: merged into ${p.profileId}, live`);
    counted += Object.values(p.computed.event_counts).reduce((a, b) => a + b, 0);
    for (const t of await reader.fullTimeline(p)) {
      if (seen.has(t.messageId))
        problems.push(`${t.messageId}: on ${seen.get(t.messageId)} and ${p.profileId}`);
      seen.set(t.messageId, p.profileId);
    }
  }
  if (counted !== scenario.events.length)
    problems.push(`counts add up to ${counted}, ${scenario.events.length} events`);
  for (const e of scenario.events)
    if (!seen.has(e.messageId)) problems.push(`${e.messageId}: on no timeline`);
  return problems;
}
