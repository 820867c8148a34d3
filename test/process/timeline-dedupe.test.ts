import { inflateRawSync } from 'node:zlib';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  PROFILE_DICTIONARY,
  profileAttributes,
  profileItemParts,
  stateFromItem,
  TRAITS_SK,
  withTraitValues,
} from '../../adapters/dynamodb/profile-item.js';
import { keys } from '../../adapters/dynamodb/profile-keys.js';
import { timelineMessageIds } from '../../adapters/dynamodb/timeline-item.js';
import { itemSize } from '../../bench/cost/capacity.js';
import { browserEvent, people, random, serverEvent } from '../../bench/cost/population.js';
import { withServerFields } from '../../core/collect/ingest.js';
import { CollectedEventParser, type Message } from '../../core/events/schema.js';
import { DEFAULT_IDENTITY_CONFIG, derivedProfileId } from '../../core/identity/identifiers.js';
import { MemoryGraphStore } from '../../core/identity/memory-store.js';
import { batchName } from '../../core/process/batch-name.js';
import { normalizeEvent } from '../../core/process/normalize.js';
import { processBatch } from '../../core/process/pipeline.js';
import { emptyProfile, RECENT_HASHES } from '../../core/profiles/state.js';
import { canonical } from '../support/canonical.js';
import { profileTables } from '../support/profile-tables.js';
import { standaloneDynamoForFile } from '../support/standalone-dynamo.js';

const dynamo = standaloneDynamoForFile();

const now = new Date('2026-01-02T00:00:00.000Z');
const user = (v: string) => ({ type: 'user_id', value: v });
const anon = (v: string) => ({ type: 'anonymous_id', value: v });

const setup = (name: string) => profileTables(dynamo, name);

/**
 * An anonymous visit (message m1) on a device, then a login on it as `userValue` (message `login`):
 * the device's profile is merged into the user's. The device is one whose id sorts after the user's,
 * so the device's profile is the one merged away under either naming rule.
 */
async function visitThenLogin(deps: Parameters<typeof processBatch>[1], userValue: string) {
  const device = ['d1', 'd2', 'd3', 'd4', 'd5', 'd6'].find(
    (v) => derivedProfileId(anon(v)) > derivedProfileId(user(userValue)),
  )!;
  const onDevice = canonical({ messageId: 'm1', identities: [anon(device)] });
  await processBatch([onDevice], deps, now, { lane: 'a', batch: '1' });
  await processBatch(
    [canonical({ messageId: 'login', identities: [anon(device), user(userValue)] })],
    deps,
    now,
    { lane: 'a', batch: '2' },
  );
  return { device, onDevice };
}

/** 40 events of one person at `at`, in one batch: more than the hashes a profile holds. */
async function burst(
  deps: Parameters<typeof processBatch>[1],
  identity: { type: string; value: string },
  at: Date,
  name: string,
) {
  const events = Array.from({ length: 40 }, (_, i) =>
    canonical({ messageId: `${name}-${i}`, identities: [identity], timestamp: at.toISOString() }),
  );
  await processBatch(events, deps, at, { lane: 'a', batch: name });
}

describe('dedupe through the timeline item (no marker items)', () => {
  // With the first event kept on the profile item (a batch too large to keep goes to the timeline as it
  // is, and the kept event stays) or written to the timeline, where dedupe looks it up.
  it.each([
    ['kept with the profile', true],
    ['on the timeline', false],
  ])(
    "recognises a client's retry whose skew-corrected time moved, in another batch and lane, and keeps each event on the timeline once (first event %s)",
    async (_where, keepLatestEvents) => {
      const { table, timelineTable, reader, deps, scan } = await profileTables(
        dynamo,
        `dedupe-retry-${keepLatestEvents}`,
        { keepLatestEvents },
      );
      const first = canonical({
        messageId: 'm1',
        identities: [user('u1')],
        timestamp: '2026-01-01T10:00:00.000Z',
      });
      expect((await processBatch([first], deps, now, { lane: 'a', batch: '1' })).applied).toBe(1);
      // Many events later (more than the profile's bounded message hashes), the client retries m1.
      const later = Array.from({ length: 40 }, (_, i) =>
        canonical({ messageId: `x${i}`, identities: [user('u1')], timestamp: '2026-01-01T10:30:00.000Z' }),
      );
      await processBatch(later, deps, now, { lane: 'a', batch: '2' });
      const retry = {
        ...first,
        timestamp: '2026-01-01T10:01:30.000Z',
        receivedAt: '2026-01-01T10:01:30.000Z',
      };
      const result = await processBatch([retry], deps, now, { lane: 'b', batch: '9' });
      expect(result).toMatchObject({ applied: 0, duplicates: 1 });
      const profile = (await reader.find(user('u1')))!;
      expect(profile.computed.event_counts.Viewed).toBe(41);
      // Each event once on the timeline (the 40 of one batch share an item) and no marker items anywhere.
      const ids = (await scan(timelineTable)).flatMap((i) => timelineMessageIds(i));
      const kept = (profile.pending ?? []).map((p) => p.event.messageId);
      expect(kept).toEqual(keepLatestEvents ? ['m1'] : []);
      expect([...ids, ...kept].sort()).toEqual(['m1', ...later.map((e) => e.messageId)].sort());
      expect((await reader.fullTimeline(profile)).map((e) => e.messageId).sort()).toEqual(
        ['m1', ...later.map((e) => e.messageId)].sort(),
      );
      expect((await scan(table)).filter((i) => String(i.pk).startsWith('DEDUPE#'))).toEqual([]);
    },
  );

  it('keeps the same messageId from another source, and finds a message on the timeline of a profile merged away since', async () => {
    const { reader, deps } = await setup('dedupe-merge');
    const { device, onDevice } = await visitThenLogin(deps, 'u7');
    const merged = (await reader.find(user('u7')))!;
    expect(merged.mergedFrom).toEqual([derivedProfileId(anon(device))]);
    const again = await processBatch([onDevice, { ...onDevice, sourceId: 'other' }], deps, now, {
      lane: 'b',
      batch: '1',
    });
    expect(again).toMatchObject({ applied: 1, duplicates: 1 });
    expect((await reader.find(user('u7')))!.computed.event_counts.Viewed).toBe(3);
  });

  it('looks under merged-away timelines only for messages dated near the last merge, and still finds copies there', async () => {
    const { store, reader } = await setup('dedupe-merged-window');
    const looked: string[][] = [];
    const dedupe = {
      windowMs: store.windowMs,
      seen: (lookups: Parameters<typeof store.seen>[0], o?: Parameters<typeof store.seen>[1]) => {
        looked.push([...lookups.keys()].sort());
        return store.seen(lookups, o);
      },
    };
    const deps = { graph: store, dedupe, config: DEFAULT_IDENTITY_CONFIG };
    const { device, onDevice } = await visitThenLogin(deps, 'u8');
    const deviceId = derivedProfileId(anon(device));
    const userId = derivedProfileId(user('u8'));
    const state = (await reader.getState(userId))!;
    expect(state.mergedFrom).toEqual([deviceId]);
    expect(state.lastMergeAt).toBe(now.toISOString());
    // The person then sends 40 events, so the profile lets go of the hashes of m1 and the login.
    await burst(deps, user('u8'), now, 'early');
    // A retry of the device's message, dated before the merge: looked for, and found, under the device.
    looked.length = 0;
    expect(await processBatch([onDevice], deps, now, { lane: 'b', batch: '1' })).toMatchObject({
      duplicates: 1,
    });
    expect(looked[0]).toEqual([deviceId, userId].sort());
    // A week later the device's timeline cannot hold a copy of a new message: one timeline read.
    const weekLater = new Date(now.getTime() + 7 * 86_400_000);
    // (after another burst, so that the person's own timeline is still read)
    await burst(deps, user('u8'), new Date(weekLater.getTime() - 3_600_000), 'late');
    looked.length = 0;
    const fresh = canonical({
      messageId: 'm2',
      identities: [anon(device)],
      timestamp: weekLater.toISOString(),
    });
    expect(await processBatch([fresh], deps, weekLater, { lane: 'a', batch: '3' })).toMatchObject({
      applied: 1,
    });
    expect(looked[0]).toEqual([userId]);
    // ...and its own retry is still recognised, on the person's timeline.
    expect(await processBatch([fresh], deps, weekLater, { lane: 'b', batch: '2' })).toMatchObject({
      duplicates: 1,
    });
    // m1, the login, m2 and the bursts, each once.
    expect((await reader.find(user('u8')))!.computed.event_counts.Viewed).toBe(83);
  });

  it('matches timeline items written before they carried their source on the messageId', async () => {
    const { table, timelineTable, reader, deps } = await setup('dedupe-old-items');
    await processBatch([canonical({ messageId: 'm1', identities: [user('u2')] })], deps, now);
    const profileId = derivedProfileId(user('u2'));
    // Such items lie only under profiles written before too, which did not bound the messages whose
    // hashes they let go of: their latest event time stands in, so the timeline is searched.
    const state = (await reader.getState(profileId))!;
    delete state.forgottenUpTo;
    await dynamo.doc.send(
      new PutCommand({
        TableName: table,
        Item: { ...keys.profile(profileId), ...profileAttributes(state), version: 2 },
      }),
    );
    const old = keys.timeline(profileId, '2026-01-01T00:00:05.000Z', 'm-old');
    await dynamo.doc.send(
      new PutCommand({
        TableName: timelineTable,
        Item: {
          ...old,
          messageId: 'm-old',
          type: 'track',
          event: 'Viewed',
          timestamp: '2026-01-01T00:00:05.000Z',
        },
      }),
    );
    const replay = canonical({
      messageId: 'm-old',
      identities: [user('u2')],
      timestamp: '2026-01-01T00:00:05.000Z',
    });
    expect(await processBatch([replay], deps, now, { lane: 'z', batch: '1' })).toMatchObject({
      duplicates: 1,
    });
    expect((await reader.find(user('u2')))!.computed.event_counts.Viewed).toBe(1);
  });

  it('the in-memory store answers the same way', async () => {
    const store = new MemoryGraphStore();
    const deps = { graph: store, dedupe: store, config: DEFAULT_IDENTITY_CONFIG };
    const e = canonical({ messageId: 'm1', identities: [user('u1')] });
    await processBatch([e], deps, now, { lane: 'a', batch: '1' });
    expect(
      await processBatch([e, { ...e, sourceId: 'other' }], deps, now, { lane: 'b', batch: '1' }),
    ).toMatchObject({
      applied: 1,
      duplicates: 1,
    });
  });
});

/** The cost benchmark's person (two browsers, a user id, an email, a phone) sending `count` events an hour apart. */
async function sendHistory(store: MemoryGraphStore, count: number) {
  const deps = { graph: store, dedupe: store, config: DEFAULT_IDENTITY_CONFIG };
  const rnd = random(7);
  const [person] = people(1);
  let t = Date.parse('2026-01-01T00:00:00.000Z');
  for (let i = 0; i < count; i++) {
    t += 3_600_000;
    const at = new Date(t);
    const raw = i % 2 ? browserEvent(person!, at, rnd).body : serverEvent(person!, at, rnd);
    const collected = withServerFields(raw as Message, 'src_0123456789abcdef', at);
    const event = normalizeEvent(CollectedEventParser.parse(collected), DEFAULT_IDENTITY_CONFIG);
    await processBatch([event], deps, at, {
      lane: 'shardId-000000000003',
      batch: batchName(`4965812345678901234567890123456789012345678901234567${i}`),
      offsets: [0],
    });
  }
  return { deps, person: person!, rnd, last: new Date(t) };
}

describe('packed profile items', () => {
  it('store the state in one attribute that reads back whole, and still read items written as plain attributes', async () => {
    const { table, reader, deps } = await setup('packed');
    await processBatch(
      [canonical({ messageId: 'm1', identities: [user('u3'), anon('a3')], traits: { plan: 'pro' } })],
      deps,
      now,
    );
    const profileId = [derivedProfileId(anon('a3')), derivedProfileId(user('u3'))].sort()[0]!;
    const item = (await dynamo.doc.send(new GetCommand({ TableName: table, Key: keys.profile(profileId) })))
      .Item!;
    expect(item.packed).toBeInstanceOf(Uint8Array);
    expect(item.traits).toBeUndefined();
    const state = (await reader.find(user('u3')))!;
    expect(state).toMatchObject({
      profileId,
      traits: { plan: 'pro' },
      computed: { event_counts: { Viewed: 1 } },
    });
    expect(stateFromItem({ ...keys.profile(profileId), ...profileAttributes(state) })).toEqual(state);

    // An item of the plain layout (as deployed tables hold them) is read as it is, and packed on its next write.
    const { packed: _packed, ...rest } = item;
    await dynamo.doc.send(
      new PutCommand({ TableName: table, Item: { ...rest, ...state, traits: { plan: 'free' } } }),
    );
    expect((await reader.find(user('u3')))!.traits).toEqual({ plan: 'free' });
    await processBatch(
      [canonical({ messageId: 'm2', identities: [user('u3')], traits: { seats: 3 } })],
      deps,
      now,
    );
    const repacked = (
      await dynamo.doc.send(new GetCommand({ TableName: table, Key: keys.profile(profileId) }))
    ).Item!;
    expect(repacked.packed).toBeInstanceOf(Uint8Array);
    expect(repacked.traits).toBeUndefined();
    expect((await reader.find(user('u3')))!.traits).toEqual({ plan: 'free', seats: 3 });
  });

  it('keep a person with months of browsing and server events under 1 KB, one write unit', async () => {
    // The cost benchmark's person: two browsers, a user id, an email and a phone, a backend's
    // identify traits (name, title, address, company, ...); 200 events.
    const store = new MemoryGraphStore();
    await sendHistory(store, 200);
    const [state] = store.liveProfiles();
    expect(state!.identities).toHaveLength(5);
    const parts = profileItemParts(state!);
    const item = { ...keys.profile(state!.profileId), ...parts.attributes, version: 200 };
    const whole = { ...keys.profile(state!.profileId), ...profileAttributes(state!), version: 200 };
    const plain = { ...keys.profile(state!.profileId), ...state!, version: 200 };
    // DynamoDB's sizing rules, as the cost benchmark applies them.
    const size = (i: object) => itemSize(marshall(i, { removeUndefinedValues: true }));
    expect(size(plain)).toBeGreaterThan(1024);
    // Packed with its trait values, the item leaves under 100 bytes of its write unit, too little for
    // the latest events a profile keeps (`latest-events.ts`); with the values beside it, over 200.
    expect(1024 - size(whole)).toBeLessThan(100);
    expect(parts.traits).toBeDefined();
    expect(size(item)).toBeLessThan(1024 - 200);
    const values = { ...keys.profile(state!.profileId), ...parts.traits!, sk: TRAITS_SK };
    expect(stateFromItem(withTraitValues(item, [values])!)).toEqual(state);
  });

  it('keep message hashes as one string and a batch offsets as ranges, and read the older forms', () => {
    const state = emptyProfile('p_1', now.toISOString());
    state.recentHashes = ['AAAAAAAA', 'BBBBBBBB', 'CCCCCCCC'];
    state.applied = { 'shardId-000000000001': { [batchName('4965')]: [0, 1, 2, 3, 7, 9, 10] } };
    const attributes = profileAttributes(state);
    const item = { ...keys.profile('p_1'), ...attributes };
    expect(stateFromItem(item)).toEqual(state);
    const packed = inflateRawSync((attributes.packed as Uint8Array).subarray(1), {
      // Any dictionary mismatch fails to inflate; the stored JSON is what the assertions read.
      dictionary: PROFILE_DICTIONARY,
    }).toString();
    expect(packed).toContain('"recentHashes":"AAAAAAAABBBBBBBBCCCCCCCC"');
    expect(packed).toContain(`"${batchName('4965')}":"0-3,7,9-10"`);
    // Items written before: hashes as an array, offsets as numbers.
    const older = { ...keys.profile('p_1'), ...state, recentHashes: ['AAAAAAAA'] };
    expect(stateFromItem(older).recentHashes).toEqual(['AAAAAAAA']);
    expect(stateFromItem(older).applied).toEqual(state.applied);
  });

  it('keep a person with months of history who sent a backend batch of 100 events under 1 KB', async () => {
    const store = new MemoryGraphStore();
    const { deps, person, rnd, last } = await sendHistory(store, 200);
    const at = new Date(last.getTime() + 3_600_000);
    const events = Array.from({ length: 100 }, () =>
      normalizeEvent(
        CollectedEventParser.parse(
          withServerFields(serverEvent(person!, at, rnd) as Message, 'src_0123456789abcdef', at),
        ),
        DEFAULT_IDENTITY_CONFIG,
      ),
    );
    await processBatch(events, deps, at, {
      lane: 'shardId-000000000003',
      batch: batchName('49658123456789012345678901234567890123456789012345678901'),
      offsets: events.map((_, i) => i),
    });
    const [stored] = store.liveProfiles();
    // The most it ever holds is `RECENT_HASHES`: priced at that.
    const state = {
      ...stored!,
      recentHashes: Array.from({ length: RECENT_HASHES }, (_, i) => `h${String(i).padStart(7, '0')}`),
    };
    expect(stored!.recentHashes.length).toBeGreaterThanOrEqual(RECENT_HASHES / 2);
    expect(Object.values(state!.applied['shardId-000000000003']!)[0]).toHaveLength(100);
    const item = { ...keys.profile(state!.profileId), ...profileAttributes(state!), version: 1 };
    const size = (i: object) => itemSize(marshall(i, { removeUndefinedValues: true }));
    expect(size(item)).toBeLessThan(1024);
    // The run of 100 offsets costs a few bytes more than a single one, not a number per event.
    const single = { ...state!, applied: { 'shardId-000000000003': { [batchName('x')]: [0] } } };
    const one = { ...keys.profile(state!.profileId), ...profileAttributes(single), version: 1 };
    expect(size(item) - size(one)).toBeLessThan(16);
  });
});
