import { randomBytes } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { isPermanentStoreError } from '../../adapters/dynamodb/errors.js';
import { keys } from '../../adapters/dynamodb/profile-keys.js';
import { ProfileReader } from '../../adapters/dynamodb/profile-reader.js';
import { DynamoProfileStore } from '../../adapters/dynamodb/profile-store.js';
import { IdentityGraph } from '../../core/identity/graph.js';
import { DEFAULT_IDENTITY_CONFIG, derivedProfileId } from '../../core/identity/identifiers.js';
import { ConflictError } from '../../core/identity/store.js';
import { processIsolated } from '../../core/process/isolate.js';
import { processBatch } from '../../core/process/pipeline.js';
import { PROFILES_TABLE } from '../../resources/tables.js';
import { canonical } from '../support/canonical.js';
import { standaloneDynamoForFile } from '../support/standalone-dynamo.js';

const dynamo = standaloneDynamoForFile();

const now = new Date('2026-01-02T00:00:00.000Z');
const options = { timelineRetentionDays: 30, dedupeWindowHours: 24 };

/** A document client that records the commands it sends. */
function recording(doc: DynamoDBDocumentClient) {
  const sent: string[] = [];
  const client = {
    send: (command: { constructor: { name: string } }) => {
      sent.push(command.constructor.name);
      return doc.send(command as never);
    },
  } as unknown as DynamoDBDocumentClient;
  return { client, sent };
}

/**
 * The store as an eventually consistent read may see it: `load` without `consistent` returns `stale`,
 * and with `missTimelines` so does the timeline lookup (it finds nothing). Consistent reads are real.
 * Records how consistent each load and lookup asked to be.
 */
function laggingStore(
  real: DynamoProfileStore,
  stale: Awaited<ReturnType<DynamoProfileStore['load']>>,
  options: { missTimelines?: boolean } = {},
) {
  const loads: boolean[] = [];
  const checks: boolean[] = [];
  const store = Object.assign(Object.create(real) as DynamoProfileStore, {
    load: async (identities: Parameters<DynamoProfileStore['load']>[0], o?: { consistent?: boolean }) => {
      loads.push(o?.consistent ?? true);
      return o?.consistent === false ? stale : real.load(identities, o);
    },
    seen: async (lookups: Parameters<DynamoProfileStore['seen']>[0], o?: { consistent?: boolean }) => {
      checks.push(o?.consistent ?? false);
      return options.missTimelines && !o?.consistent ? new Set<string>() : real.seen(lookups, o);
    },
  });
  return { store, loads, checks };
}

const user = (v: string) => ({ type: 'user_id', value: v });
const anon = (v: string) => ({ type: 'anonymous_id', value: v });

describe('identity changes commit as one transaction per person', () => {
  it('links in a transaction and writes steady events with a plain conditional put', async () => {
    const table = await dynamo.table(PROFILES_TABLE, 'tx-steady');
    const { client, sent } = recording(dynamo.doc);
    const store = new DynamoProfileStore(client, table, options);
    const deps = { graph: store, dedupe: store, config: DEFAULT_IDENTITY_CONFIG };
    await processBatch([canonical({ messageId: 'm1', identities: [user('u1'), anon('a1')] })], deps, now, {
      lane: 'l',
      batch: 'b1',
    });
    expect(sent.filter((c) => c === 'TransactWriteCommand')).toHaveLength(1);
    sent.length = 0;
    await processBatch([canonical({ messageId: 'm2', identities: [user('u1')] })], deps, now, {
      lane: 'l',
      batch: 'b2',
    });
    expect(sent).not.toContain('TransactWriteCommand');
    expect(sent).toContain('PutCommand');
    const profile = await new ProfileReader(dynamo.doc, table).find(anon('a1'));
    expect(profile?.computed.event_counts).toEqual({ Viewed: 2 });
  });

  it('leaves nothing behind when it loses a race: no node, no profile, no redirect', async () => {
    const table = await dynamo.table(PROFILES_TABLE, 'tx-lost');
    const store = new DynamoProfileStore(dynamo.doc, table, options);
    // Both consumers read the same empty graph; the other one commits first, taking anonymous id a1.
    const snapshot = await store.load([user('u2'), anon('a1'), anon('a2')]);
    const other = new IdentityGraph(snapshot, DEFAULT_IDENTITY_CONFIG, now.toISOString());
    other.apply(canonical({ messageId: 'o1', identities: [anon('a1')] }), {
      lane: 'l2',
      offset: 0,
      batch: 'x',
    });
    await store.commit(other.changes(), now);

    const mine = new IdentityGraph(snapshot, DEFAULT_IDENTITY_CONFIG, now.toISOString());
    mine.apply(canonical({ messageId: 'm1', identities: [user('u2'), anon('a1'), anon('a2')] }), {
      lane: 'l1',
      offset: 0,
      batch: 'y',
    });
    await expect(store.commit(mine.changes(), now)).rejects.toBeInstanceOf(ConflictError);

    const get = (key: Record<string, string>) =>
      dynamo.doc.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }));
    expect((await get(keys.identity(user('u2')))).Item).toBeUndefined();
    expect((await get(keys.identity(anon('a2')))).Item).toBeUndefined();
    const lost = [user('u2'), anon('a1'), anon('a2')].map(derivedProfileId).sort()[0]!;
    if (lost !== derivedProfileId(anon('a1'))) expect((await get(keys.profile(lost))).Item).toBeUndefined();
    expect((await get(keys.identity(anon('a1')))).Item?.profileId).toBe(derivedProfileId(anon('a1')));
  });

  it('isolates an event DynamoDB refuses inside a transaction, and commits its neighbours', async () => {
    const table = await dynamo.table(PROFILES_TABLE, 'tx-refused');
    const store = new DynamoProfileStore(dynamo.doc, table, options);
    // Random, so packing the profile cannot shrink it under DynamoDB's 400 KB.
    const huge = randomBytes(420 * 1024).toString('base64');
    const batch = [
      canonical({ messageId: 'ok1', identities: [user('n1'), anon('n1a')] }),
      canonical({
        messageId: 'big',
        type: 'identify',
        traits: { notes: huge },
        identities: [user('n2'), anon('n2a')],
      }),
      canonical({ messageId: 'ok2', identities: [user('n3'), anon('n3a')] }),
    ];
    const result = await processIsolated(
      batch,
      { graph: store, dedupe: store, config: DEFAULT_IDENTITY_CONFIG },
      now,
      { lane: 'l', batch: 'b' },
      isPermanentStoreError,
    );
    expect(result.rejected.map((r) => batch[r.index]!.messageId)).toEqual(['big']);
    expect(result.rejected[0]!.error.name).toBe('ValidationException');
    const reader = new ProfileReader(dynamo.doc, table);
    expect((await reader.find(anon('n1a')))?.computed.event_counts).toEqual({ Viewed: 1 });
    expect((await reader.find(anon('n3a')))?.computed.event_counts).toEqual({ Viewed: 1 });
    expect(await reader.find(anon('n2a'))).toBeUndefined();
  });

  it('commits a person with more new identifiers than one transaction holds', async () => {
    const table = await dynamo.table(PROFILES_TABLE, 'tx-many');
    const { client, sent } = recording(dynamo.doc);
    const store = new DynamoProfileStore(client, table, options);
    const devices = Array.from({ length: 150 }, (_, i) => anon(`dev-${i}`));
    await processBatch(
      [canonical({ messageId: 'm1', identities: [user('many'), ...devices] })],
      { graph: store, dedupe: store, config: DEFAULT_IDENTITY_CONFIG },
      now,
      { lane: 'l', batch: 'b' },
    );
    expect(sent.filter((c) => c === 'TransactWriteCommand').length).toBeGreaterThan(1);
    const reader = new ProfileReader(dynamo.doc, table);
    const owner = await reader.find(user('many'));
    expect(owner?.identities).toHaveLength(151);
    for (const d of [devices[0]!, devices[98]!, devices[99]!, devices[149]!])
      expect((await reader.find(d))?.profileId).toBe(owner?.profileId);
  });

  it('resolves a batch again on a consistent read when its first, eventually consistent snapshot was stale', async () => {
    const table = await dynamo.table(PROFILES_TABLE, 'tx-stale');
    const real = new DynamoProfileStore(dynamo.doc, table, options);
    const deps = {
      graph: real,
      dedupe: real,
      config: { ...DEFAULT_IDENTITY_CONFIG, limits: { user_id: 1 } },
    };
    await processBatch([canonical({ messageId: 's1', identities: [user('s'), anon('sa')] })], deps, now, {
      lane: 'l',
      batch: 'b1',
    });
    // What an eventually consistent read could return just after the next commits: the state before them.
    const ids = [user('s'), anon('sa'), anon('sb'), user('other')];
    const stale = await real.load(ids);
    await processBatch(
      [
        canonical({ messageId: 's2', identities: [anon('sa'), anon('sb')] }),
        canonical({ messageId: 's3', event: 'Bought', identities: [user('s')] }),
      ],
      deps,
      now,
      { lane: 'l', batch: 'b2' },
    );
    const { store: lagging, loads } = laggingStore(real, stale);
    // Against the stale snapshot: s2 is not applied yet, anonymous id sb is unknown, and a second user id
    // on the device would fit. Each decision must fail its write and be taken again on fresh data.
    const result = await processBatch(
      [
        canonical({ messageId: 's2', identities: [anon('sa'), anon('sb')] }),
        canonical({ messageId: 's4', identities: [anon('sb'), user('other')] }),
      ],
      { ...deps, graph: lagging, dedupe: lagging },
      now,
      { lane: 'l2', batch: 'b3' },
    );
    expect(loads[0]).toBe(false);
    expect(loads.slice(1).every((c) => c)).toBe(true);
    expect(result.attempts).toBeGreaterThan(1);
    const reader = new ProfileReader(dynamo.doc, table);
    const person = await reader.find(anon('sb'));
    // s2 counted once, s4 blocked from joining a second user id but its event kept on its own profile.
    expect(person?.computed.event_counts).toEqual({ Viewed: 2, Bought: 1 });
    expect(person?.identities.filter((i) => i.type === 'user_id').map((i) => i.value)).toEqual(['s']);
    const other = await reader.find(user('other'));
    expect(other?.profileId).not.toBe(person?.profileId);
    expect(other?.computed.event_counts).toEqual({ Viewed: 1 });
  });

  it('does not count an event twice when a redelivered batch misses one of its own nodes on a stale read', async () => {
    // Found by the concurrency model (seed -437694392): a batch committed its person (applied offsets
    // and nodes) and crashed before writing its timeline items. Delivered again, its first read missed
    // the anonymous id's node, so the event of that id was applied to a fresh profile, which the login
    // merged into the stored person, counting it twice; the node write passed, because the node
    // existed already pointing at that person. A node taken for new must not exist at all.
    const table = await dynamo.table(PROFILES_TABLE, 'tx-stale-node');
    const real = new DynamoProfileStore(dynamo.doc, table, options);
    const deps = { graph: real, dedupe: real, config: DEFAULT_IDENTITY_CONFIG };
    const batch = [
      canonical({ messageId: 'v1', identities: [anon('da')] }),
      canonical({ messageId: 'v2', event: 'Signed In', identities: [anon('db'), user('du')] }),
      canonical({ messageId: 'v3', event: 'Signed In', identities: [anon('da'), user('du')] }),
    ];
    await processBatch(batch, deps, now, { lane: 'l', batch: 'b1' });
    // The crash: no timeline items.
    const { ScanCommand, DeleteCommand } = await import('@aws-sdk/lib-dynamodb');
    for (const item of (await dynamo.doc.send(new ScanCommand({ TableName: table }))).Items ?? [])
      if (String(item.sk).startsWith('EV#'))
        await dynamo.doc.send(new DeleteCommand({ TableName: table, Key: { pk: item.pk, sk: item.sk } }));
    // A replica that has the person and one browser's node, not yet the other browser's or the user
    // id's: v1's browser looks new, v3 then links it to the stored person and merges what v1 added.
    const fresh = await real.load([anon('da'), anon('db'), user('du')]);
    const nodes = new Map(fresh.nodes);
    nodes.delete('anonymous_id#da');
    nodes.delete('user_id#du');
    const { store: lagging, loads } = laggingStore(real, { ...fresh, nodes });
    const again = await processBatch(batch, { ...deps, graph: lagging, dedupe: lagging }, now, {
      lane: 'l',
      batch: 'b1',
    });
    expect(loads).toEqual([false, true]);
    expect(again.applied).toBe(0);
    const person = await new ProfileReader(dynamo.doc, table).find(user('du'));
    expect(person?.computed.event_counts).toEqual({ Viewed: 1, 'Signed In': 2 });
  });

  it('looks at the timeline again, consistently, after a lost race: a copy applied meanwhile is not counted twice', async () => {
    const table = await dynamo.table(PROFILES_TABLE, 'tx-recheck');
    const real = new DynamoProfileStore(dynamo.doc, table, options);
    const deps = { graph: real, dedupe: real, config: DEFAULT_IDENTITY_CONFIG };
    await processBatch([canonical({ messageId: 'r0', identities: [user('r')] })], deps, now, {
      lane: 'l',
      batch: 'b0',
    });
    const stale = await real.load([user('r')]);
    // Another consumer applies the message, then more messages than the profile's recent hashes keep.
    const message = canonical({ messageId: 'r-dup', event: 'Bought', identities: [user('r')] });
    await processBatch([message], deps, now, { lane: 'other', batch: 'b1' });
    await processBatch(
      Array.from({ length: 40 }, (_, i) => canonical({ messageId: `r-more-${i}`, identities: [user('r')] })),
      deps,
      now,
      { lane: 'other', batch: 'b2' },
    );
    // The copy arrives again elsewhere; both eventually consistent reads lag behind all of that.
    const { store: lagging, checks } = laggingStore(real, stale, { missTimelines: true });
    const result = await processBatch([message], { ...deps, graph: lagging, dedupe: lagging }, now, {
      lane: 'l2',
      batch: 'b3',
    });
    expect(checks).toEqual([false, true]);
    expect(result).toMatchObject({ applied: 0, duplicates: 1, attempts: 2 });
    const person = await new ProfileReader(dynamo.doc, table).find(user('r'));
    expect(person?.computed.event_counts).toEqual({ Viewed: 41, Bought: 1 });
  });
});
