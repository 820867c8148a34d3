import { GetCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEMBERSHIPS_MIGRATED_KEY } from '../../adapters/dynamodb/legacy-memberships.js';
import { migrateMemberships } from '../../adapters/dynamodb/membership-migration.js';
import { SegmentStore } from '../../adapters/dynamodb/segment-store.js';
import { runCli } from '../../local/cli.js';
import { CONTROL_TABLE, PROFILES_TABLE } from '../../resources/tables.js';
import { startMeteredDynamo } from '../support/metered-dynamo.js';

let env: Awaited<ReturnType<typeof startMeteredDynamo>>;
beforeAll(async () => {
  env = await startMeteredDynamo();
}, 30_000);
afterAll(async () => env?.stop());

const AT = '2026-06-30T12:00:00.000Z';
/** A membership as versions before this one wrote it. */
const legacy = (segmentId: string, profileId: string, extra: Record<string, unknown> = {}) => ({
  pk: `SEG#${segmentId}`,
  sk: `M#${profileId}`,
  segmentId,
  profileId,
  status: 'member',
  generation: 1,
  enteredAt: AT,
  contentHash: 'h',
  gsi1pk: `P#${profileId}`,
  gsi1sk: `SEG#${segmentId}`,
  ...extra,
});
const current = (segmentId: string, profileId: string, extra: Record<string, unknown> = {}) => ({
  pk: `P#${profileId}`,
  sk: `SEG#${segmentId}`,
  segmentId,
  profileId,
  status: 'member',
  generation: 1,
  enteredAt: AT,
  contentHash: 'h',
  gsi1pk: `SEG#${segmentId}`,
  gsi1sk: `M#${profileId}`,
  ...extra,
});

/** A deployed table of the previous version: its own tables, not marked migrated. */
async function oldTables(suffix: string) {
  const profiles = await env.dynamo.table(PROFILES_TABLE, suffix);
  const control = await env.dynamo.table(CONTROL_TABLE, suffix);
  const put = (Item: Record<string, unknown>) => env.doc.send(new PutCommand({ TableName: profiles, Item }));
  return { profiles, control, put };
}
const items = async (table: string) =>
  ((await env.doc.send(new ScanCommand({ TableName: table }))).Items ?? [])
    .map((i) => `${i.pk} ${i.sk}`)
    .sort();

describe('moving memberships under their profiles', () => {
  it('readers find old-layout memberships and move them until the table is migrated', async () => {
    const { profiles, control, put } = await oldTables('fallback');
    await put(legacy('seg-a', 'p1', { generation: 2 }));
    await put(legacy('seg-a', 'p2', { status: 'former', exitedAt: AT }));
    await put(legacy('seg-b', 'p2'));
    const store = new SegmentStore(env.doc, control, profiles);
    expect(await store.partitionsHoldAllMemberships()).toBe(false);

    const found = await store.memberships([
      { segmentId: 'seg-a', profileId: 'p1' },
      { segmentId: 'seg-b', profileId: 'p1' },
    ]);
    expect([...found]).toEqual([['seg-a/p1', expect.objectContaining({ status: 'member', generation: 2 })]]);
    // Moved on the way: the next read of this person is one Query.
    expect(await items(profiles)).toEqual(['P#p1 SEG#seg-a', 'SEG#seg-a M#p2', 'SEG#seg-b M#p2']);

    const of = await store.membershipsOf(['p2']);
    expect(of.map((m) => `${m.segmentId} ${m.state.status}`).sort()).toEqual([
      'seg-a former',
      'seg-b member',
    ]);
    await put(legacy('seg-a', 'p3'));
    // Old members are listed first, then the current layout's, across pages.
    const listed: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listMembers('seg-a', { limit: 1, cursor });
      listed.push(...page.members.map((m) => m.profileId));
      cursor = page.cursor;
    } while (cursor);
    expect(listed.sort()).toEqual(['p1', 'p3']);
    expect((await store.segmentsOfProfile('p3')).map((m) => m.segmentId)).toEqual(['seg-a']);
  });

  it('migrates every old item without overwriting a newer one, marks the table, and can run again', async () => {
    const { profiles, control, put } = await oldTables('migrate');
    for (let i = 0; i < 30; i++) await put(legacy(`seg-${i % 3}`, `p${i}`, { generation: 1 + (i % 2) }));
    await put(legacy('seg-0', 'late', { generation: 2, status: 'former', exitedAt: AT }));
    // This version already re-entered `late`: its item is newer than the old one.
    await put(current('seg-0', 'late', { generation: 3, contentHash: 'new' }));
    await put({ pk: 'P#p0', sk: 'PROFILE', profileId: 'p0', version: 1 });

    const counts = await migrateMemberships(env.doc, { profiles, control }, { segments: 2 });
    expect(counts).toMatchObject({ found: 31, copied: 30, superseded: 1 });
    expect(counts.scanned).toBe(33);
    const after = await items(profiles);
    expect(after.filter((k) => k.startsWith('SEG#'))).toEqual([]);
    expect(after).toHaveLength(32);
    const { Item: moved } = await env.doc.send(
      new GetCommand({ TableName: profiles, Key: { pk: 'P#p7', sk: 'SEG#seg-1' }, ConsistentRead: true }),
    );
    expect(moved).toMatchObject({ ...current('seg-1', 'p7', { generation: 2 }) });
    const { Item: kept } = await env.doc.send(
      new GetCommand({ TableName: profiles, Key: { pk: 'P#late', sk: 'SEG#seg-0' }, ConsistentRead: true }),
    );
    expect(kept).toMatchObject({ generation: 3, status: 'member', contentHash: 'new' });
    const { Item: mark } = await env.doc.send(
      new GetCommand({ TableName: control, Key: MEMBERSHIPS_MIGRATED_KEY, ConsistentRead: true }),
    );
    expect(mark).toMatchObject({ found: 31, copied: 30 });

    const store = new SegmentStore(env.doc, control, profiles);
    expect(await store.partitionsHoldAllMemberships()).toBe(true);
    const members = await store.listMembers('seg-1', { limit: 100 });
    expect(members.members.map((m) => m.profileId).sort()).toEqual(
      ['p1', 'p4', 'p7', 'p10', 'p13', 'p16', 'p19', 'p22', 'p25', 'p28'].sort(),
    );
    // Again: nothing left to move (an interrupted run is resumed the same way).
    expect(await migrateMemberships(env.doc, { profiles, control })).toMatchObject({ found: 0, copied: 0 });
  });

  it('runs as `npm run cdp -- migrate-memberships` and prints the counts', async () => {
    const { profiles, control, put } = await oldTables('cli');
    await put(legacy('seg-x', 'p1'));
    const lines: string[] = [];
    const code = await runCli(
      ['migrate-memberships', '--aws', '--table', profiles, '--control-table', control, '--json'],
      (l) => lines.push(l),
    );
    expect(code).toBe(0);
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ found: 1, copied: 1, superseded: 0 });
    expect(await items(profiles)).toEqual(['P#p1 SEG#seg-x']);
    const usage: string[] = [];
    expect(await runCli(['migrate-memberships', '--aws'], (l) => usage.push(l))).toBe(2);
  });
});
