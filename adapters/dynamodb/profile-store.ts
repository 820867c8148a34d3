import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { GraphChanges, GraphSnapshot } from '../../core/identity/graph.js';
import { identityKey } from '../../core/identity/identifiers.js';
import {
  ConflictError,
  type DedupeStore,
  type GraphStore,
  type TimelineMessage,
} from '../../core/identity/store.js';
import type { Identity } from '../../core/profiles/profile.js';
import { addIdentities, emptyProfile, mergeInto, type ProfileState } from '../../core/profiles/state.js';

const now = () => new Date().toISOString();

import { inParallel } from '../../core/shared/concurrency.js';
import { batchGet, batchWrite, type Item, requestCounter } from './batch.js';
import { profileAttributes, stateFromItem } from './profile-item.js';
import { keys } from './profile-keys.js';

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
}

const conflict = (err: unknown) => {
  if (
    err instanceof ConditionalCheckFailedException ||
    (err as Error).name === 'ConditionalCheckFailedException'
  )
    return new ConflictError((err as Error).message);
  return err;
};

/**
 * The identity graph and profiles on DynamoDB with conditional writes only (no transactions). Commit
 * order keeps every crash point recoverable:
 *  1. new identity nodes (conditional create: a concurrent creator makes us recompute)
 *  2. merge history (idempotent puts)
 *  3. merged-away profiles become redirects, keeping their data (conditional on version)
 *  4. surviving profiles (conditional on version, or on not existing)
 *  5. timeline events of the whole batch and re-pointed identity nodes (idempotent puts; node
 *     pointers are hints, readers follow redirects)
 * A crash between 3 and 4 leaves a redirect whose survivor lacks its data: `load` folds such a
 * redirect into the survivor (it is not yet in `mergedFrom`), so the next commit repairs it.
 */
export class DynamoProfileStore implements GraphStore, DedupeStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly options: ProfileStoreOptions,
  ) {}

  async load(
    identities: readonly Identity[],
    options: { consistent?: boolean } = {},
  ): Promise<GraphSnapshot> {
    const consistent = options.consistent ?? true;
    const nodeItems = await batchGet(this.ddb, this.table, identities.map(keys.identity), consistent);
    const pointers = new Map<string, string>();
    // What the creators of profiles not written yet said those profiles will hold.
    const announced = new Map<string, Identity[]>();
    for (const item of nodeItems) {
      pointers.set(`${item.type as string}#${item.value as string}`, item.profileId as string);
      const ids = item.rootIdentities as Identity[] | undefined;
      if (ids)
        announced.set(item.profileId as string, [...(announced.get(item.profileId as string) ?? []), ...ids]);
    }

    const items = new Map<string, Item>();
    const loadProfiles = async (ids: Iterable<string>) => {
      let wanted = [...new Set(ids)].filter((id) => !items.has(id));
      while (wanted.length) {
        const loaded = await batchGet(this.ddb, this.table, wanted.map(keys.profile), consistent);
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
      if (!survivor.mergedFrom.includes(id)) mergeInto(survivor, stateFromItem(item), survivor.updatedAt);
    }
    const pendingIds = new Map([...announcedIds].filter(([, ids]) => ids.length > 0));
    return { nodes, profiles, versions, announced: pendingIds };
  }

  async commit(changes: GraphChanges, now: Date): Promise<void> {
    // Phases stay in order (nodes, redirects, profiles); writes within a phase are independent, and a
    // failed one fails the phase, so the batch is recomputed from what is really stored.
    const ttl = Math.floor(now.getTime() / 1000) + this.options.timelineRetentionDays * 86_400;
    await inParallel(
      changes.nodes.filter((x) => x.isNew),
      async (n) => {
        try {
          requestCounter.count++;
          await this.ddb.send(
            new PutCommand({
              TableName: this.table,
              Item: {
                ...this.nodeItem(n.identity, n.profileId),
                ...(n.rootIdentities ? { rootIdentities: n.rootIdentities } : {}),
              },
              ConditionExpression: 'attribute_not_exists(pk) OR profileId = :p',
              ExpressionAttributeValues: { ':p': n.profileId },
            }),
          );
        } catch (err) {
          throw conflict(err);
        }
      },
    );

    await batchWrite(this.ddb, this.table, [
      ...changes.merges.map((m) => ({
        put: {
          ...keys.merge(m.survivor, m.at, m.loser ?? `blocked-${m.messageId}`),
          ...m,
          recordedAt: now.toISOString(),
        },
      })),
    ]);

    // Claims: a stored survivor that profiles are merged into is claimed first (its version moved on,
    // with what it is about to hold), so no other consumer can merge it elsewhere, or decide on its
    // identifiers, between the redirects and its own write: either that consumer's conditional write
    // fails, or this claim does and nothing was redirected. Without it a redirect written by an attempt
    // whose survivor write then lost could join two profiles that merge limits keep apart. One write
    // per merge into an existing profile; merges are rare next to events.
    const claimed = new Map<string, number>();
    const survivors = new Map(changes.profiles.map((p) => [p.state.profileId, p]));
    for (const r of changes.redirects) {
      const survivor = survivors.get(r.into);
      if (survivor?.expectedVersion !== undefined) claimed.set(r.into, survivor.expectedVersion);
    }
    await inParallel([...claimed], async ([profileId, expected]) => {
      try {
        requestCounter.count++;
        await this.ddb.send(
          new UpdateCommand({
            TableName: this.table,
            Key: keys.profile(profileId),
            UpdateExpression: 'SET version = :next, pendingIdentities = :ids, pendingFrom = :from',
            ConditionExpression: 'version = :v AND attribute_not_exists(mergedInto)',
            ExpressionAttributeValues: {
              ':next': expected + 1,
              ':v': expected,
              ':ids': survivors.get(profileId)!.state.identities,
              ':from': changes.redirects.filter((r) => r.into === profileId).map((r) => r.profileId),
            },
          }),
        );
      } catch (err) {
        throw conflict(err);
      }
    });

    await inParallel(changes.redirects, async (r) => {
      try {
        requestCounter.count++;
        if (r.expectedVersion === undefined) {
          // A tombstone redirect where another consumer is about to create a profile.
          await this.ddb.send(
            new PutCommand({
              TableName: this.table,
              Item: {
                ...keys.profile(r.profileId),
                mergedInto: r.into,
                version: 1,
                mergedAt: now.toISOString(),
                ...(r.intoIdentities ? { intoIdentities: r.intoIdentities } : {}),
              },
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          );
          return;
        }
        await this.ddb.send(
          new UpdateCommand({
            TableName: this.table,
            Key: keys.profile(r.profileId),
            UpdateExpression: `SET mergedInto = :into, version = :next, mergedAt = :at${r.intoIdentities ? ', intoIdentities = :ids' : ''}`,
            ConditionExpression: 'version = :v AND attribute_not_exists(mergedInto)',
            ExpressionAttributeValues: {
              ':into': r.into,
              ':next': r.expectedVersion + 1,
              ':v': r.expectedVersion,
              ':at': now.toISOString(),
              ...(r.intoIdentities ? { ':ids': r.intoIdentities } : {}),
            },
          }),
        );
      } catch (err) {
        throw conflict(err);
      }
    });

    await inParallel(changes.profiles, async (p) => {
      // A claimed survivor is written over its claim (the Put drops the claim's attributes).
      const expectedVersion =
        p.expectedVersion === undefined
          ? undefined
          : (claimed.has(p.state.profileId) ? 1 : 0) + p.expectedVersion;
      const version = (expectedVersion ?? 0) + 1;
      try {
        requestCounter.count++;
        await this.ddb.send(
          new PutCommand({
            TableName: this.table,
            Item: {
              ...keys.profile(p.state.profileId),
              ...profileAttributes(p.state),
              version,
              // No byProfile keys: the index would copy the whole item on every write, and nothing
              // looks a profile up through it (it is found by its own key).
            },
            ...(expectedVersion === undefined
              ? { ConditionExpression: 'attribute_not_exists(pk)' }
              : {
                  ConditionExpression: 'version = :v',
                  ExpressionAttributeValues: { ':v': expectedVersion },
                }),
          }),
        );
      } catch (err) {
        throw conflict(err);
      }
    });

    // Only now that the profiles holding them are committed: timeline items (an attempt that lost a
    // race must not leave events under a profile it never wrote) and node hints.
    await batchWrite(
      this.ddb,
      this.options.timelineTable ?? this.table,
      changes.timeline.map((t) => ({
        put: {
          ...keys.timeline(t.profileId, t.event.timestamp, t.event.messageId),
          ...t.event,
          profileId: t.profileId,
          sourceId: t.sourceId,
          expiresAt: ttl,
        },
      })),
    );
    await batchWrite(
      this.ddb,
      this.table,
      changes.nodes.filter((x) => !x.isNew).map((n) => ({ put: this.nodeItem(n.identity, n.profileId) })),
    );
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
   * Eventually consistent: a copy committed a moment ago that the query misses is still caught by the
   * profile (its `recentHashes`, read consistently) or by its version condition.
   */
  async seen(lookups: ReadonlyMap<string, readonly TimelineMessage[]>): Promise<Set<string>> {
    const found = new Set<string>();
    const window = this.options.dedupeWindowHours * 3_600_000;
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
            ProjectionExpression: 'messageId, sourceId',
            ExclusiveStartKey: start,
          }),
        );
        for (const item of res.Items ?? []) {
          const sources = wanted.get(item.messageId as string);
          if (!sources) continue;
          // Items written before they carried their source match on the messageId alone.
          for (const source of sources)
            if (item.sourceId === undefined || item.sourceId === source)
              found.add(`${source}#${item.messageId}`);
        }
        start = res.LastEvaluatedKey;
      } while (start);
    });
    return found;
  }
}

/** Sort keys of timeline items (`EV#<ISO time>#<messageId>`) within `window` ms of these times. */
function eventKeyRange(times: readonly number[], window: number): [string, string] {
  const lo = Math.min(...times) - window;
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
