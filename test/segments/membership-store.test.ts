import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { profileAttributes } from '../../adapters/dynamodb/profile-item.js';
import { ProfileReader } from '../../adapters/dynamodb/profile-reader.js';
import { SegmentChangeLog } from '../../adapters/dynamodb/segment-changes.js';
import { MEMBERSHIPS_SETTLED_ATTRIBUTE, SegmentStore } from '../../adapters/dynamodb/segment-store.js';
import type { Profile } from '../../core/profiles/profile.js';
import { emptyProfile, toProfile } from '../../core/profiles/state.js';
import type { MembershipDelta } from '../../core/segments/delta.js';
import { compileSegment, evaluateProfiles, type StoredMembership } from '../../core/segments/engine.js';
import { answeringFrom } from '../../core/segments/known-memberships.js';
import type { Segment } from '../../core/segments/language.js';
import { decideMembership } from '../../core/segments/membership.js';
import { CONTROL_TABLE, PROFILES_TABLE } from '../../resources/tables.js';
import { startMeteredDynamo } from '../support/metered-dynamo.js';

let env: Awaited<ReturnType<typeof startMeteredDynamo>>;
beforeAll(async () => {
  env = await startMeteredDynamo();
}, 30_000);
afterAll(async () => env?.stop());

const AT = '2026-06-30T12:00:00.000Z';
const person = (profileId: string, plan = 'free'): Profile => ({
  ...toProfile(emptyProfile(profileId, AT)),
  traits: { plan },
  identities: [{ type: 'user_id', value: profileId }],
});
const segment = (segmentId: string, plan: string): Segment => ({
  segmentId,
  name: segmentId,
  condition: { trait: 'plan', op: 'eq', value: plan },
  active: true,
  realtime: true,
  createdAt: AT,
  updatedAt: AT,
});
const sink = {
  published: [] as MembershipDelta[],
  async publish(d: readonly MembershipDelta[]) {
    this.published.push(...d);
  },
};

/** Enters a profile into a segment through the store (as evaluation does). */
async function enter(store: SegmentStore, segmentId: string, profileId: string) {
  const change = decideMembership(segmentId, person(profileId), true, undefined, AT, 'test')!;
  expect(await store.apply(change)).toBe(true);
}

describe('memberships under their profile', () => {
  const store = () => new SegmentStore(env.doc, CONTROL_TABLE.localName, PROFILES_TABLE.localName);

  it('reads the memberships of many segments with one request per profile', async () => {
    const s = store();
    const segmentIds = Array.from({ length: 12 }, (_, i) => `many-${i}`);
    const profileIds = ['many-a', 'many-b', 'many-c'];
    const truth = new Set<string>();
    for (const [p, profileId] of profileIds.entries())
      for (const [i, segmentId] of segmentIds.entries())
        if ((i + p) % 2 === 0) {
          await enter(s, segmentId, profileId);
          truth.add(`${segmentId}/${profileId}`);
        }
    // The item is in the profile's partition, and listed under its segment in the index.
    const { Item } = await env.doc.send(
      new GetCommand({ TableName: PROFILES_TABLE.localName, Key: { pk: 'P#many-a', sk: 'SEG#many-0' } }),
    );
    expect(Item).toMatchObject({ status: 'member', generation: 1, gsi1pk: 'SEG#many-0', gsi1sk: 'M#many-a' });

    env.meter.reset();
    const found = await s.memberships(
      profileIds.flatMap((profileId) => segmentIds.map((segmentId) => ({ segmentId, profileId }))),
      { consistent: true },
    );
    const usage = env.meter.reset();
    expect(new Set(found.keys())).toEqual(truth);
    const ops = Object.keys(usage.dynamoOps).filter((op) => op.endsWith(PROFILES_TABLE.localName));
    expect(ops).toEqual([`Query ${PROFILES_TABLE.localName}`]);
    expect(usage.dynamoOps[`Query ${PROFILES_TABLE.localName}`]).toMatchObject({ requests: 3, read: 3 });
  });

  it('lists a segment through the index, and deletes it by the base keys the index names', async () => {
    const s = store();
    const ids = ['list-1', 'list-2', 'list-3', 'list-4', 'list-5'];
    for (const id of ids) await enter(s, 'listed', id);
    await enter(s, 'other', 'list-1');
    const current = await s.memberships([{ segmentId: 'listed', profileId: 'list-3' }]);
    const exit = decideMembership(
      'listed',
      person('list-3'),
      false,
      current.get('listed/list-3'),
      AT,
      'test',
    )!;
    expect(await s.apply(exit)).toBe(true);

    const listed: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await s.listMembers('listed', { limit: 2, cursor });
      listed.push(...page.members.map((m) => m.profileId));
      cursor = page.cursor;
      pages++;
    } while (cursor);
    expect(listed.sort()).toEqual(['list-1', 'list-2', 'list-4', 'list-5']);
    expect(pages).toBeGreaterThan(1);
    expect((await s.segmentsOfProfile('list-1')).map((m) => m.segmentId).sort()).toEqual(['listed', 'other']);

    await s.create({ name: 'gone', condition: { trait: 'plan', op: 'eq', value: 'x' }, active: true });
    const created = (await s.list()).find((d) => d.name === 'gone')!;
    for (const id of ids.slice(0, 2)) await enter(s, created.segmentId, id);
    expect(await s.delete(created.segmentId)).toBe(true);
    const left = await s.memberships(ids.map((profileId) => ({ segmentId: created.segmentId, profileId })));
    expect(left.size).toBe(0);
    expect((await s.segmentsOfProfile('list-1')).map((m) => m.segmentId).sort()).toEqual(['listed', 'other']);
  });
});

describe('batch runs read memberships with the profiles', () => {
  let table: string;
  const segments = [0, 1, 2, 3].map((k) => compileSegment(segment(`plan-${k}`, `p${k}`)));
  /** Profile i has plan p(i%4) and is a member of plan-(i%4); every third also of the next one. */
  const truth = new Map<string, string[]>();

  beforeAll(async () => {
    table = await env.dynamo.table(PROFILES_TABLE, 'scan');
    const s = new SegmentStore(env.doc, CONTROL_TABLE.localName, table);
    for (let i = 0; i < 14; i++) {
      const profileId = `scan-${i}`;
      const state = { ...emptyProfile(profileId, AT), traits: { plan: `p${i % 4}` } };
      await env.doc.send(
        new PutCommand({
          TableName: table,
          Item: { pk: `P#${profileId}`, sk: 'PROFILE', version: 1, ...profileAttributes(state) },
        }),
      );
      // Merge history sorts before the profile item, memberships after it.
      await env.doc.send(
        new PutCommand({
          TableName: table,
          Item: { pk: `P#${profileId}`, sk: `MERGE#${AT}#x`, survivor: profileId },
        }),
      );
      const held = i % 3 === 0 ? [i % 4, (i + 1) % 4] : [i % 4];
      truth.set(profileId, held.map((k) => `plan-${k}`).sort());
      for (const k of held) await enter(s, `plan-${k}`, profileId);
    }
  }, 30_000);

  const sorted = (list: readonly StoredMembership[] | undefined) =>
    (list ?? []).map((m) => m.segmentId).sort();

  it('a full run evaluates with the memberships its scan read, without reading them again', async () => {
    const reader = new ProfileReader(env.doc, table);
    const s = new SegmentStore(env.doc, CONTROL_TABLE.localName, table);
    expect(await s.partitionsHoldAllMemberships()).toBe(true);
    const seen = new Map<string, readonly StoredMembership[]>();
    const totals = { entered: 0, exited: 0, evaluated: 0 };
    let cursor: string | undefined;
    let pages = 0;
    let completions = 0;
    do {
      env.meter.reset();
      // Small pages, so that partitions are cut between pages.
      const page = await reader.scanStatesAndRedirects({
        cursor,
        limit: 5,
        unlessMarked: MEMBERSHIPS_SETTLED_ATTRIBUTE,
      });
      const scanUsage = env.meter.reset();
      completions += scanUsage.dynamoOps[`Query ${table}`]?.requests ?? 0;
      for (const [id, list] of page.memberships) seen.set(id, list);
      const counts = await evaluateProfiles(
        page.items.map(toProfile),
        segments,
        { store: answeringFrom(page.memberships, s), sink },
        new Date(AT),
        'run',
      );
      const evalUsage = env.meter.reset();
      // Evaluation writes the changes and reads nothing from the profiles table.
      expect(evalUsage.dynamo[table]?.read ?? 0).toBe(0);
      totals.entered += counts.entered;
      totals.exited += counts.exited;
      totals.evaluated += counts.evaluated;
      cursor = page.cursor;
      pages++;
    } while (cursor);
    expect(pages).toBeGreaterThan(3);
    // At most the last profile of each page is completed with a Query.
    expect(completions).toBeLessThan(pages);
    expect(new Set(seen.keys())).toEqual(new Set(truth.keys()));
    for (const [id, held] of truth) expect(sorted(seen.get(id)), id).toEqual(held);
    expect(totals).toEqual({
      evaluated: 14 * 4,
      entered: 0,
      exited: [...truth.values()].filter((h) => h.length > 1).length,
    });
  });

  it('an incremental run reads each profile and its memberships in one Query', async () => {
    const log = new SegmentChangeLog(env.doc, CONTROL_TABLE.localName, table);
    const ids = ['scan-1', 'scan-3', 'scan-6', 'nobody'];
    env.meter.reset();
    const read = await log.read(ids, MEMBERSHIPS_SETTLED_ATTRIBUTE);
    const usage = env.meter.reset();
    expect(read.items.map((p) => p.profileId).sort()).toEqual(['scan-1', 'scan-3', 'scan-6']);
    expect(Object.keys(usage.dynamoOps)).toEqual([`Query ${table}`]);
    expect(usage.dynamoOps[`Query ${table}`]?.requests).toBe(ids.length);
    // Eventually consistent (the next run reads the change log's last 15 minutes again): half a unit each.
    expect(usage.dynamoOps[`Query ${table}`]?.read).toBeLessThanOrEqual(0.5 * ids.length);
    // The previous test's run exited scan-6's second membership: still stored, as a former member.
    expect(sorted(read.memberships.get('scan-6'))).toEqual(truth.get('scan-6'));
    expect(read.memberships.get('scan-6')!.filter((m) => m.state.status === 'member')).toHaveLength(1);
    expect(sorted(read.memberships.get('scan-1'))).toEqual(['plan-1']);
    expect(read.memberships.has('nobody')).toBe(false);
  });
});
