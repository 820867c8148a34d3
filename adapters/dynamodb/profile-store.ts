import {
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { GraphChanges, GraphSnapshot } from '../../core/identity/graph.js';
import { identityKey } from '../../core/identity/identifiers.js';
import {
  ConflictError,
  type DedupeStore,
  type GraphStore,
  type LoadOptions,
  type TimelineMessage,
} from '../../core/identity/store.js';
import type { Identity, TimelineEvent } from '../../core/profiles/profile.js';
import {
  addIdentities,
  emptyProfile,
  mergeInto,
  type PendingEvent,
  type ProfileState,
} from '../../core/profiles/state.js';

const now = () => new Date().toISOString();

import { inParallel } from '../../core/shared/concurrency.js';
import { batchGet, batchWrite, type Item, requestCounter } from './batch.js';
import { isConditionFailed } from './errors.js';
import { documentItemSize, WRITE_UNIT_BYTES } from './item-size.js';
import { planLatestEvents } from './latest-events.js';
import {
  type ProfileItemParts,
  profileItemParts,
  stateFromItem,
  TRAITS_REF_ATTRIBUTE,
  TRAITS_SK,
} from './profile-item.js';
import { keys } from './profile-keys.js';
import { readProfileItems } from './profile-read.js';
import { fromSource, GROUP, timelineItems, timelineMessageIds } from './timeline-item.js';

/** Re-exported: readers elsewhere import it from here. */
export { stateFromItem };

export interface ProfileStoreOptions {
  readonly timelineRetentionDays: number;
  /**
   * Dedupe window per source and messageId (Segment's is 24 h): how far from a message's time its
   * timeline is searched for an earlier copy. A record delivered again carries the very same time; a
   * client's retry moves the skew-corrected time by up to its retry delay.
   */
  readonly dedupeWindowHours: number;
  /** Where timeline events go (default: the profiles table itself, as tests and old layouts have it). */
  readonly timelineTable?: string;
  /**
   * Whether a person's latest events ride on their profile item while it fits one write unit
   * (`latest-events.ts`; default true). False writes every event to the timeline with its batch, and
   * lets go of those a profile keeps at its next write.
   */
  readonly keepLatestEvents?: boolean;
}

/** A version number as large as a profile's will get (for sizing its item). */
const VERSION_BOUND = 99_999_999;

/** Whether a profile item of these parts (with its keys and version) is within one write unit. */
const withinOneWrite = (profileId: string, parts: ProfileItemParts) =>
  documentItemSize({ ...keys.profile(profileId), ...parts.attributes, version: VERSION_BOUND }) <=
  WRITE_UNIT_BYTES;

/** DynamoDB's own limit on the actions of one TransactWriteItems. */
const MAX_TRANSACTION_ACTIONS = 100;

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/**
 * A lost race (a condition that no longer holds, or another transaction on the same items) becomes a
 * ConflictError, and the batch is recomputed from fresh state. An item DynamoDB refuses inside a
 * transaction is reported as the ValidationException it is outside one, so the record that carries it
 * is isolated like any other that cannot be stored; throttling and the rest pass through unchanged.
 */
const conflict = (err: unknown) => {
  if (isConditionFailed(err)) return new ConflictError((err as Error).message);
  if ((err as Error)?.name === 'TransactionCanceledException') {
    const codes = ((err as { CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons ?? []).map(
      (r) => r.Code,
    );
    if (codes.includes('ValidationError')) {
      const refused = new Error((err as Error).message);
      refused.name = 'ValidationException';
      return refused;
    }
    if (codes.some((c) => c === 'ConditionalCheckFailed' || c === 'TransactionConflict'))
      return new ConflictError((err as Error).message);
  }
  if ((err as Error)?.name === 'TransactionConflictException')
    return new ConflictError((err as Error).message);
  return err;
};

/**
 * The identity graph and profiles on DynamoDB. Commit order:
 *  1. merge history, and the timeline items of the events each written profile (or merged-away one)
 *     kept and now lets go (`latest-events.ts`; idempotent puts of events already committed)
 *  2. each root written, as one unit: its profile (conditional on version, or on not existing), and
 *     in the same transaction its trait values item when the values kept beside it changed; and
 *     when the batch links or merges, in the same transaction, the profiles merged into it (becoming
 *     redirects, conditional on their version) and its new identity nodes (conditional on not existing
 *     or already leading there). Units are independent: one that loses fails the batch, which is
 *     recomputed; what the others committed is then found applied.
 *  3. timeline events of the batch that their profiles do not keep, and re-pointed identity nodes
 *     (idempotent puts; node pointers are hints, readers follow redirects)
 * `load` still understands what the commit protocol before transactions could leave behind (nodes
 * announcing identifiers of a profile not written, claimed survivors, redirects whose data never
 * reached their survivor) and folds or counts it, so tables written by older versions stay exact.
 */
export class DynamoProfileStore implements GraphStore, DedupeStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly options: ProfileStoreOptions,
  ) {}

  get windowMs(): number {
    return this.options.dedupeWindowHours * 3_600_000;
  }

  async load(identities: readonly Identity[], options: LoadOptions = {}): Promise<GraphSnapshot> {
    const consistent = options.consistent ?? true;
    const items = new Map<string, Item>();
    // The profiles the batch's people are probably stored under, read first: an identifier a live one
    // lists leads there (its node was written with the profile listing it, or re-pointed to a
    // redirect into it), so its node is not read. Not a profile a merge of the protocol before
    // transactions left claimed (`pendingFrom`, `pendingIdentities`): its nodes say more than its list.
    const listed = new Map<string, string>();
    if (options.likelyRoots?.length) {
      for (const [id, item] of await readProfileItems(
        this.ddb,
        this.table,
        options.likelyRoots,
        consistent,
      )) {
        // A redirect is read again where a pointer leads to it, which also reads what it leads to.
        if (item.mergedInto) continue;
        items.set(id, item);
        if (item.pendingFrom || item.pendingIdentities) continue;
        for (const i of stateFromItem(item).identities) listed.set(identityKey(i), id);
      }
    }
    const nodeItems = await batchGet(
      this.ddb,
      this.table,
      identities.filter((i) => !listed.has(identityKey(i))).map(keys.identity),
      consistent,
    );
    const pointers = new Map<string, string>();
    for (const i of identities) {
      const at = listed.get(identityKey(i));
      if (at !== undefined) pointers.set(identityKey(i), at);
    }
    // What the creators of profiles not written yet said those profiles will hold.
    const announced = new Map<string, Identity[]>();
    for (const item of nodeItems) {
      pointers.set(`${item.type as string}#${item.value as string}`, item.profileId as string);
      const ids = item.rootIdentities as Identity[] | undefined;
      if (ids)
        announced.set(item.profileId as string, [...(announced.get(item.profileId as string) ?? []), ...ids]);
    }

    const loadProfiles = async (ids: Iterable<string>) => {
      let wanted = [...new Set(ids)].filter((id) => !items.has(id));
      while (wanted.length) {
        // Each with its trait values (one Query per profile, priced as one item read).
        const loaded = [...(await readProfileItems(this.ddb, this.table, wanted, consistent)).values()];
        // Keyed by the item key: a tombstone redirect carries no profileId.
        for (const item of loaded) items.set((item.pk as string).slice('P#'.length), item);
        // Missing profiles (a node created just before a crash) are roots that do not exist yet.
        wanted = [
          ...new Set(
            loaded
              .map((i) => i.mergedInto as string | undefined)
              .filter((id): id is string => !!id && !items.has(id)),
          ),
        ];
      }
    };
    await loadProfiles(pointers.values());
    // A survivor claimed by a merge in progress names the profiles being merged into it: loaded, so a
    // redirect whose data has not reached the survivor yet is folded in below (the repair).
    await loadProfiles([...items.values()].flatMap((i) => (i.pendingFrom as string[] | undefined) ?? []));
    const rootOf = (id: string) => {
      let root = id;
      for (let hops = 0; items.get(root)?.mergedInto; hops++) {
        if (hops > 64) throw new Error(`Redirect cycle at ${id}`);
        root = items.get(root)!.mergedInto as string;
      }
      return root;
    };
    // What the creators of a root announced it holds (its nodes' `rootIdentities`, redirects'
    // `intoIdentities`) beyond its stored list.
    const announcedFor = (root: string): Identity[] => {
      const ids = [
        ...(announced.get(root) ?? []),
        ...((items.get(root)?.pendingIdentities as Identity[] | undefined) ?? []),
      ];
      for (const [, redirect] of items)
        if (redirect.mergedInto && rootOf(redirect.mergedInto as string) === root && redirect.intoIdentities)
          ids.push(...(redirect.intoIdentities as Identity[]));
      const item = items.get(root);
      const stored = new Set(item ? stateFromItem(item).identities.map(identityKey) : []);
      return ids.filter((i) => !stored.has(identityKey(i)));
    };
    // An announcement outlives a create that lost its race (the nodes it did write keep it), so each
    // announced identifier is checked against its own node: one more read, only while a root's stored
    // list lags what was announced (a race in progress, or one lost).
    const roots = new Set([...pointers.values()].map(rootOf));
    const unchecked = new Map<string, Identity>();
    for (const root of roots)
      for (const i of announcedFor(root)) if (!pointers.has(identityKey(i))) unchecked.set(identityKey(i), i);
    const elsewhere = new Map<string, string>();
    if (unchecked.size) {
      const more = await batchGet(
        this.ddb,
        this.table,
        [...unchecked.values()].map(keys.identity),
        consistent,
      );
      for (const item of more)
        elsewhere.set(`${item.type as string}#${item.value as string}`, item.profileId as string);
      await loadProfiles(elsewhere.values());
    }
    // Counted unless its node is known to lead to another profile; no node yet may be a create in flight.
    const belongs = (i: Identity, root: string) => {
      const at = pointers.get(identityKey(i)) ?? elsewhere.get(identityKey(i));
      return at === undefined || rootOf(at) === root;
    };

    const nodes = new Map<string, string>();
    const profiles = new Map<string, ProfileState>();
    const versions = new Map<string, number>();
    const announcedIds = new Map<string, Identity[]>();
    for (const [key, pointer] of pointers) {
      const root = rootOf(pointer);
      nodes.set(key, root);
      const item = items.get(root);
      if (item && !profiles.has(root)) {
        profiles.set(root, stateFromItem(item));
        versions.set(root, item.version as number);
      }
      // A profile another consumer is creating: what its nodes (or the redirects into it) announced is
      // what it will hold, so merge limits are decided with those identifiers, not with an empty profile.
      // A stored profile's list may lag too (its writer lost a race and is retrying): limits count
      // what was announced for it, without writing it into the profile.
      if (announcedIds.has(root)) continue;
      const ids = announcedFor(root).filter((i) => belongs(i, root));
      announcedIds.set(root, ids);
      if (!item && ids.length) {
        const pending = profiles.get(root) ?? emptyProfile(root, now());
        addIdentities(pending, ids);
        profiles.set(root, pending);
      }
    }
    // Repair: redirects whose data never reached their survivor (the consumer that merged them failed
    // between the redirect and the survivor's write). Folded even when the survivor does not exist yet:
    // whoever writes it next must write it with that data, or the data is only reachable through this
    // redirect, which later batches may never pass through again. Tombstones hold no data.
    // Nearest the root first: a redirect's data already holds whatever it had folded in itself (its
    // `mergedFrom` says which), so folding an inner one before it would count that data twice.
    const hopsToRoot = (id: string) => {
      let n = 0;
      for (let at = id; items.get(at)?.mergedInto; at = items.get(at)!.mergedInto as string) n++;
      return n;
    };
    const redirects = [...items].sort(([a], [b]) => hopsToRoot(a) - hopsToRoot(b));
    for (const [id, item] of redirects) {
      if (!item.mergedInto || !item.profileId) continue;
      const root = rootOf(id);
      let survivor = profiles.get(root);
      if (!survivor) {
        survivor = emptyProfile(root, (item.mergedAt as string | undefined) ?? stateFromItem(item).updatedAt);
        profiles.set(root, survivor);
      }
      // The loser's timeline closed when its redirect was written (`mergedAt`), not at the survivor's
      // last write: unknown on redirects without it.
      if (!survivor.mergedFrom.includes(id))
        mergeInto(
          survivor,
          stateFromItem(item),
          survivor.updatedAt,
          (item.mergedAt as string | undefined) ?? null,
        );
    }
    const pendingIds = new Map([...announcedIds].filter(([, ids]) => ids.length > 0));
    // Which trait values item each stored profile has: a write that leaves the values as they are
    // leaves that item alone.
    const stored = new Map<string, string>();
    for (const [id, item] of items)
      if (typeof item[TRAITS_REF_ATTRIBUTE] === 'string') stored.set(id, item[TRAITS_REF_ATTRIBUTE]);
    return { nodes, profiles, versions, announced: pendingIds, stored };
  }

  async commit(changes: GraphChanges, now: Date): Promise<void> {
    await batchWrite(this.ddb, this.table, [
      ...changes.merges.map((m) => ({
        put: {
          ...keys.merge(m.survivor, m.at, m.loser ?? `blocked-${m.messageId}`),
          ...m,
          recordedAt: now.toISOString(),
        },
      })),
    ]);

    // Each person's latest events ride on their profile item while it fits one write unit
    // (`latest-events.ts`); what it lets go goes to the timeline before it is written.
    const ttl = Math.floor(now.getTime() / 1000) + this.options.timelineRetentionDays * 86_400;
    const incoming = new Map<string, PendingEvent[]>();
    for (const t of changes.timeline)
      incoming.set(t.profileId, [
        ...(incoming.get(t.profileId) ?? []),
        { sourceId: t.sourceId, event: t.event, expiresAt: ttl },
      ]);
    const before: Array<PendingEvent & { profileId: string }> = [];
    const after: Array<PendingEvent & { profileId: string }> = [];
    const keep = this.options.keepLatestEvents ?? true;
    const planned = changes.profiles.map((p) => {
      const id = p.state.profileId;
      // The item each candidate makes, packed once: the one kept is the one written.
      const sized = new Map<readonly PendingEvent[], ProfileItemParts>();
      const plan = planLatestEvents(
        p.state.pending ?? [],
        incoming.get(id) ?? [],
        now.getTime() / 1000,
        (kept) => {
          if (!keep) return false;
          const parts = profileItemParts({ ...p.state, pending: kept }, p.stored);
          sized.set(kept, parts);
          return withinOneWrite(id, parts);
        },
      );
      incoming.delete(id);
      before.push(...plan.before.map((e) => ({ ...e, profileId: id })));
      after.push(...plan.after.map((e) => ({ ...e, profileId: id })));
      const { pending: _held, ...rest } = p.state;
      const state = plan.kept.length ? { ...rest, pending: plan.kept } : rest;
      const parts = sized.get(plan.kept);
      return { ...p, state, ...(parts ? { parts } : {}) };
    });
    // Events of profiles this batch does not write (an earlier attempt applied them): as before.
    for (const [profileId, events] of incoming) after.push(...events.map((e) => ({ ...e, profileId })));
    // A merged-away profile's kept events stay under its id, like the rest of its timeline.
    for (const r of changes.redirects)
      before.push(...(r.pending ?? []).map((e) => ({ ...e, profileId: r.profileId })));
    await this.writeTimeline(before);

    // One unit per root written: its profile, the profiles merged into it (now redirects) and its new
    // identity nodes. A unit that changes who-is-who is one transaction, so no reader ever sees a node
    // leading to a profile that does not list its identifier, or a redirect whose survivor lacks its
    // data, and an attempt that loses a race leaves nothing behind. Steady traffic (known identifiers,
    // no merge) writes the profile alone, at the price of a plain write; a transaction costs twice
    // that, for the rare batches that link or merge.
    const units = new Map(
      planned.map((p) => [
        p.state.profileId,
        { profile: p, redirects: [] as TransactItem[], nodes: [] as TransactItem[] },
      ]),
    );
    const unitOf = (profileId: string) => {
      const unit = units.get(profileId);
      if (!unit) throw new Error(`Identity change for ${profileId}, which this batch does not write`);
      return unit;
    };
    for (const r of changes.redirects) unitOf(r.into).redirects.push(this.redirectAction(r, now));
    // A node the batch took for new must not exist, even pointing where this batch would point it: if
    // it does, the batch was resolved on a stale read (or lost a race), and an event it applied to a
    // profile it created for that identifier may already be in the stored profile, whose applied
    // offsets the fresh profile did not have. The batch is resolved again on a consistent read.
    for (const n of changes.nodes)
      if (n.isNew)
        unitOf(n.profileId).nodes.push({
          Put: {
            TableName: this.table,
            Item: this.nodeItem(n.identity, n.profileId),
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        });
    const committed: string[] = [];
    try {
      await inParallel([...units.values()], async (unit) => {
        await this.commitUnit(unit.profile, [...unit.redirects, ...unit.nodes]);
        committed.push(unit.profile.state.profileId);
      });
    } catch (err) {
      // Units are people: those committed before another lost stay committed.
      if (err instanceof ConflictError) err.committed = committed;
      throw err;
    }

    // Only now that the profiles holding them are committed: timeline items (an attempt that lost a
    // race must not leave events under a profile it never wrote) and node hints.
    await this.writeTimeline(after);
    await batchWrite(
      this.ddb,
      this.table,
      changes.nodes.filter((x) => !x.isNew).map((n) => ({ put: this.nodeItem(n.identity, n.profileId) })),
    );
  }

  /** Timeline items of these events: a person's events from one source share items (one write unit for a few). */
  private async writeTimeline(events: ReadonlyArray<PendingEvent & { profileId: string }>): Promise<void> {
    type Group = {
      profileId: string;
      sourceId: string;
      events: TimelineEvent[];
      expiry: Map<TimelineEvent, number>;
    };
    const byPerson = new Map<string, Group>();
    for (const e of events) {
      const key = JSON.stringify([e.profileId, e.sourceId]);
      const group: Group = byPerson.get(key) ?? {
        profileId: e.profileId,
        sourceId: e.sourceId,
        events: [],
        expiry: new Map(),
      };
      group.events.push(e.event);
      group.expiry.set(e.event, e.expiresAt);
      byPerson.set(key, group);
    }
    await batchWrite(
      this.ddb,
      this.options.timelineTable ?? this.table,
      [...byPerson.values()].flatMap((g) =>
        timelineItems(g.profileId, g.sourceId, g.events, (e) => g.expiry.get(e)!).map((put) => ({ put })),
      ),
    );
  }

  /**
   * A profile with what changes with it. Beyond DynamoDB's 100 actions per transaction (a person with
   * about a hundred new identifiers or merged profiles in one batch), the rest follows in further
   * transactions that each check the profile is still at the version just written: if it moved on, the
   * batch is recomputed, and its identifiers whose nodes were not written are linked again then.
   */
  private async commitUnit(
    p: GraphChanges['profiles'][number] & { parts?: ProfileItemParts },
    linkedToIt: readonly TransactItem[],
  ): Promise<void> {
    const version = (p.expectedVersion ?? 0) + 1;
    const parts = p.parts ?? profileItemParts(p.state, p.stored);
    // Trait values beside the profile change with it, in one transaction, and only when they changed:
    // most writes leave them alone at the price of a plain write. A caller that did not note what the
    // stored profile names (a repair) writes them again: the same item, one more write.
    const valuesKey = { pk: keys.profilePk(p.state.profileId), sk: TRAITS_SK };
    const beside: TransactItem[] = parts.traits
      ? [{ Put: { TableName: this.table, Item: { ...valuesKey, ...parts.traits } } }]
      : parts.dropTraits
        ? [{ Delete: { TableName: this.table, Key: valuesKey } }]
        : [];
    const linked = [...beside, ...linkedToIt];
    const put = {
      TableName: this.table,
      Item: {
        ...keys.profile(p.state.profileId),
        ...parts.attributes,
        version,
        // No byProfile keys: the index would copy the whole item on every write, and nothing
        // looks a profile up through it (it is found by its own key).
      },
      ...(p.expectedVersion === undefined
        ? { ConditionExpression: 'attribute_not_exists(pk)' }
        : {
            ConditionExpression: 'version = :v',
            ExpressionAttributeValues: { ':v': p.expectedVersion },
          }),
    };
    try {
      requestCounter.count++;
      if (linked.length === 0) {
        await this.ddb.send(new PutCommand(put));
        return;
      }
      const first = linked.slice(0, MAX_TRANSACTION_ACTIONS - 1);
      await this.ddb.send(new TransactWriteCommand({ TransactItems: [{ Put: put }, ...first] }));
      for (let i = first.length; i < linked.length; i += MAX_TRANSACTION_ACTIONS - 1) {
        requestCounter.count++;
        await this.ddb.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                ConditionCheck: {
                  TableName: this.table,
                  Key: keys.profile(p.state.profileId),
                  ConditionExpression: 'version = :v',
                  ExpressionAttributeValues: { ':v': version },
                },
              },
              ...linked.slice(i, i + MAX_TRANSACTION_ACTIONS - 1),
            ],
          }),
        );
      }
    } catch (err) {
      throw conflict(err);
    }
  }

  /** A merged-away profile becomes a redirect to its survivor, keeping its data (for the repair). */
  private redirectAction(r: GraphChanges['redirects'][number], now: Date): TransactItem {
    if (r.expectedVersion === undefined)
      // A tombstone: an older node leads to a profile that was never written (a create that crashed
      // before transactions); nobody may create it now.
      return {
        Put: {
          TableName: this.table,
          Item: { ...keys.profile(r.profileId), mergedInto: r.into, version: 1, mergedAt: now.toISOString() },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      };
    return {
      Update: {
        TableName: this.table,
        Key: keys.profile(r.profileId),
        UpdateExpression: 'SET mergedInto = :into, version = :next, mergedAt = :at',
        ConditionExpression: 'version = :v AND attribute_not_exists(mergedInto)',
        ExpressionAttributeValues: {
          ':into': r.into,
          ':next': r.expectedVersion + 1,
          ':v': r.expectedVersion,
          ':at': now.toISOString(),
        },
      },
    };
  }

  private nodeItem(id: Identity, profileId: string): Item {
    return {
      ...keys.identity(id),
      type: id.type,
      value: id.value,
      profileId,
      gsi1pk: keys.profilePk(profileId),
      gsi1sk: `ID#${identityKey(id)}`,
    };
  }

  /**
   * One query per profile id over the events around the messages' times (the window on either side),
   * reading only ids: a person's few events of those hours, whatever the length of their history.
   * Eventually consistent unless asked: a copy committed a moment ago that the query misses is still
   * caught by the profile (its `recentHashes`) or, when that read was stale too, by its version
   * condition, after which the batch looks again, consistently.
   */
  async seen(
    lookups: ReadonlyMap<string, readonly TimelineMessage[]>,
    options: { consistent?: boolean } = {},
  ): Promise<Set<string>> {
    const found = new Set<string>();
    const window = this.windowMs;
    await inParallel([...lookups], async ([profileId, messages]) => {
      const wanted = new Map<string, Set<string>>();
      for (const m of messages)
        wanted.set(m.messageId, (wanted.get(m.messageId) ?? new Set()).add(m.sourceId));
      const [lo, hi] = eventKeyRange(
        messages.map((m) => Date.parse(m.timestamp)),
        window,
      );
      let start: Record<string, unknown> | undefined;
      do {
        requestCounter.count++;
        const res = await this.ddb.send(
          new QueryCommand({
            TableName: this.options.timelineTable ?? this.table,
            KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lo AND :hi',
            ExpressionAttributeValues: { ':pk': keys.profilePk(profileId), ':lo': lo, ':hi': hi },
            // `ev` holds an item's events; `messageId` and `sourceId` are items written before.
            ProjectionExpression: 'sk, ev, messageId, sourceId, src',
            ...(options.consistent ? { ConsistentRead: true } : {}),
            ExclusiveStartKey: start,
          }),
        );
        for (const item of res.Items ?? [])
          for (const messageId of timelineMessageIds(item)) {
            const sources = wanted.get(messageId);
            if (!sources) continue;
            for (const source of sources) if (fromSource(item, source)) found.add(`${source}#${messageId}`);
          }
        start = res.LastEvaluatedKey;
      } while (start);
    });
    return found;
  }
}

/**
 * Sort keys of timeline items holding events within `window` ms of these times: an item's key is its
 * earliest event's, and it holds events up to `GROUP.spanMs` later.
 */
function eventKeyRange(times: readonly number[], window: number): [string, string] {
  const lo = Math.min(...times) - window - GROUP.spanMs;
  const hi = Math.max(...times) + window;
  const iso = (t: number) => {
    const d = new Date(t);
    // Four-digit years sort as text; anything else (never produced by the collector) reads everything.
    return Number.isFinite(t) && d.getUTCFullYear() >= 1000 && d.getUTCFullYear() <= 9999
      ? d.toISOString()
      : undefined;
  };
  const from = iso(lo);
  const to = iso(hi);
  return from && to ? [`EV#${from}`, `EV#${to}~`] : ['EV#', 'EV$'];
}
