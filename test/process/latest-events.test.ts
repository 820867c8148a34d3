import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import type { Item } from '../../adapters/dynamodb/batch.js';
import { documentItemSize, WRITE_UNIT_BYTES } from '../../adapters/dynamodb/item-size.js';
import { LATEST_EVENTS_MAX, planLatestEvents } from '../../adapters/dynamodb/latest-events.js';
import { stateFromItem } from '../../adapters/dynamodb/profile-item.js';
import { keys } from '../../adapters/dynamodb/profile-keys.js';
import { timelineMessageIds } from '../../adapters/dynamodb/timeline-item.js';
import { derivedProfileId } from '../../core/identity/identifiers.js';
import type { CanonicalEvent } from '../../core/process/normalize.js';
import { processBatch } from '../../core/process/pipeline.js';
import type { Identity } from '../../core/profiles/profile.js';
import type { PendingEvent } from '../../core/profiles/state.js';
import { canonical } from '../support/canonical.js';
import { profileTables, type WatchedCommand } from '../support/profile-tables.js';
import { standaloneDynamoForFile } from '../support/standalone-dynamo.js';

const dynamo = standaloneDynamoForFile();
const now = new Date('2026-01-02T00:00:00.000Z');
const user = (v: string): Identity => ({ type: 'user_id', value: v });
const anon = (v: string): Identity => ({ type: 'anonymous_id', value: v });

/** An analytics.js page view of `who`, `minute` minutes into 2026-01-01. */
const pageView = (messageId: string, who: Identity[], minute: number): CanonicalEvent =>
  canonical({
    messageId,
    identities: who,
    type: 'page',
    event: undefined,
    name: 'Product',
    timestamp: new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString(),
    properties: {
      path: `/products/${minute}`,
      referrer: 'https://www.example.org/',
      title: 'Blue shoes - A shop',
      url: `https://www.a-shop.test/products/${minute}`,
    },
  });

const pending = (messageId: string, expiresAt = 2_000_000_000): PendingEvent => ({
  sourceId: 'src',
  expiresAt,
  event: { messageId, type: 'track', event: 'Viewed', timestamp: '2026-01-01T00:00:00.000Z' },
});
const ids = (events: readonly PendingEvent[]) => events.map((e) => e.event.messageId);

describe('the plan for the events a profile write keeps', () => {
  it('keeps the held and new events while they fit, else puts the held ones on the timeline first', () => {
    const held = [pending('a'), pending('b')];
    const fitsAll = planLatestEvents(held, [pending('c')], 0, () => true);
    expect([ids(fitsAll.kept), fitsAll.before, fitsAll.after]).toEqual([['a', 'b', 'c'], [], []]);

    const fitsOne = planLatestEvents(held, [pending('c')], 0, (kept) => kept.length <= 1);
    expect([ids(fitsOne.kept), ids(fitsOne.before), fitsOne.after]).toEqual([['c'], ['a', 'b'], []]);

    const fitsNone = planLatestEvents(held, [pending('c')], 0, () => false);
    expect([fitsNone.kept, ids(fitsNone.before), ids(fitsNone.after)]).toEqual([[], ['a', 'b'], ['c']]);

    // A batch too large to keep goes to the timeline as it is; the held events stay.
    const batch = [pending('c'), pending('d'), pending('e')];
    const large = planLatestEvents(held, batch, 0, (kept) => kept.length <= 2);
    expect([ids(large.kept), large.before, ids(large.after)]).toEqual([['a', 'b'], [], ['c', 'd', 'e']]);
  });

  it('writes no event twice, keeps at most LATEST_EVENTS_MAX, and lets go of events past retention', () => {
    const again = planLatestEvents([pending('a')], [pending('a'), pending('b'), pending('b')], 0, () => true);
    expect(ids(again.kept)).toEqual(['a', 'b']);

    const many = Array.from({ length: LATEST_EVENTS_MAX + 1 }, (_, i) => pending(`m${i}`));
    const full = planLatestEvents([], many, 0, () => true);
    expect([full.kept, ids(full.after)]).toEqual([[], ids(many)]);

    const expired = planLatestEvents([pending('old', 100), pending('live', 300)], [], 200, () => false);
    expect([expired.kept, ids(expired.before), expired.after]).toEqual([[], ['live'], []]);
  });
});

describe("a person's latest events on their profile item", () => {
  async function profileItem(table: string, profileId: string) {
    return (await dynamo.doc.send(new GetCommand({ TableName: table, Key: keys.profile(profileId) }))).Item!;
  }

  it('ride on it within one write unit, then go to the timeline together, each event listed once', async () => {
    const { table, timelineTable, reader, deps, scan } = await profileTables(dynamo, 'latest-ride');
    const id = derivedProfileId(user('u1'));
    const keptCounts: number[] = [];
    const timelineItems: number[] = [];
    for (let i = 0; i < 12; i++) {
      // One event per batch: what a browser sends.
      await processBatch([pageView(`p${i}`, [user('u1')], i)], deps, now);
      const item = await profileItem(table, id);
      expect(documentItemSize(item)).toBeLessThanOrEqual(WRITE_UNIT_BYTES);
      keptCounts.push(stateFromItem(item as Item).pending?.length ?? 0);
      timelineItems.push((await scan(timelineTable)).length);
    }
    // Kept first, then let go several at a time: fewer timeline items than events.
    expect(keptCounts[0]).toBe(1);
    expect(Math.max(...keptCounts)).toBeGreaterThan(1);
    expect(timelineItems.at(-1)!).toBeGreaterThan(0);
    expect(timelineItems.at(-1)!).toBeLessThan(12 - keptCounts.at(-1)!);
    const onTimeline = (await scan(timelineTable)).flatMap(timelineMessageIds);
    const kept = stateFromItem((await profileItem(table, id)) as Item).pending!.map((p) => p.event.messageId);
    expect([...onTimeline, ...kept].sort()).toEqual(Array.from({ length: 12 }, (_, i) => `p${i}`).sort());

    const state = (await reader.getState(id))!;
    const page = await reader.listTimeline(state, { limit: 5 });
    expect(page.items.map((e) => e.messageId)).toEqual(['p11', 'p10', 'p9', 'p8', 'p7']);
    const rest = await reader.listTimeline(state, { limit: 100, cursor: page.cursor });
    expect(rest.items.map((e) => e.messageId)).toEqual(['p6', 'p5', 'p4', 'p3', 'p2', 'p1', 'p0']);
    expect(rest.cursor).toBeUndefined();
    expect(state.computed.event_counts).toEqual({ page: 12 });
  });

  it('count as on the timeline: a kept event sent again changes nothing', async () => {
    const { table, timelineTable, deps, scan } = await profileTables(dynamo, 'latest-retry');
    const id = derivedProfileId(user('u2'));
    await processBatch([pageView('r1', [user('u2')], 1)], deps, now);
    const before = await profileItem(table, id);
    // The same message again at another stream position (a client's retry).
    const result = await processBatch([pageView('r1', [user('u2')], 1)], deps, now, {
      lane: 'shard-1',
      batch: 'later',
    });
    expect(result).toMatchObject({ applied: 0, duplicates: 1 });
    expect(await profileItem(table, id)).toEqual(before);
    expect(await scan(timelineTable)).toEqual([]);
  });

  it('of a profile merged away go to its own timeline, where readers of the survivor find them', async () => {
    const { table, timelineTable, reader, deps, scan } = await profileTables(dynamo, 'latest-merge');
    const visitor = derivedProfileId(anon('a3'));
    await processBatch([pageView('v1', [anon('a3')], 1)], deps, now);
    await processBatch([pageView('v2', [anon('a3')], 2)], deps, now);
    expect(stateFromItem((await profileItem(table, visitor)) as Item).pending).toHaveLength(2);
    // The visitor logs in: their profile is merged into the user's.
    await processBatch([pageView('v3', [user('u3'), anon('a3')], 3)], deps, now);
    const survivor = (await reader.find(user('u3')))!;
    expect(survivor.profileId).not.toBe(visitor);
    const items = await scan(timelineTable);
    expect(
      items
        .filter((i) => i.pk === keys.profilePk(visitor))
        .flatMap(timelineMessageIds)
        .sort(),
    ).toEqual(['v1', 'v2']);
    expect((await reader.fullTimeline(survivor)).map((e) => e.messageId)).toEqual(['v3', 'v2', 'v1']);
    expect(survivor.computed.event_counts).toEqual({ page: 3 });
  });

  it('are on the timeline before a write lets them go: a batch that fails in between loses none', async () => {
    let failTimelineWrites = false;
    const watch = (command: WatchedCommand) => {
      if (failTimelineWrites && command.constructor.name === 'BatchWriteCommand')
        throw Object.assign(new Error('Throughput exceeded'), {
          name: 'ProvisionedThroughputExceededException',
        });
    };
    const { table, timelineTable, reader, deps, scan } = await profileTables(dynamo, 'latest-fail', {
      watch,
    });
    const id = derivedProfileId(user('u4'));
    // Steady page views write no timeline item until one lets the kept events go: that one fails.
    failTimelineWrites = true;
    let minute = 0;
    for (; minute < 20; minute++) {
      const failed = await processBatch([pageView(`f${minute}`, [user('u4')], minute)], deps, now).then(
        () => false,
        (err: Error) => err.message === 'Throughput exceeded',
      );
      if (failed) break;
    }
    expect(minute).toBeGreaterThan(1);
    expect(minute).toBeLessThan(20);
    expect(await scan(timelineTable)).toEqual([]);
    const kept = stateFromItem((await profileItem(table, id)) as Item).pending!.map((p) => p.event.messageId);
    expect(kept).toEqual(Array.from({ length: minute }, (_, i) => `f${i}`));
    // The batch is delivered again and goes through.
    failTimelineWrites = false;
    await processBatch([pageView(`f${minute}`, [user('u4')], minute)], deps, now);
    const state = (await reader.getState(id))!;
    const listed = (await reader.fullTimeline(state)).map((e) => e.messageId);
    expect(listed.sort()).toEqual(Array.from({ length: minute + 1 }, (_, i) => `f${i}`).sort());
    expect(state.computed.event_counts).toEqual({ page: minute + 1 });
  });

  it('past retention are let go by the next write, never written to the timeline', async () => {
    const { table, timelineTable, deps, scan } = await profileTables(dynamo, 'latest-expiry');
    const id = derivedProfileId(user('u5'));
    await processBatch([pageView('e1', [user('u5')], 1)], deps, now);
    // 91 days later (the tables keep 90).
    const later = new Date(now.getTime() + 91 * 86_400_000);
    await processBatch([pageView('e2', [user('u5')], 2)], deps, later);
    const kept = stateFromItem((await profileItem(table, id)) as Item).pending!.map((p) => p.event.messageId);
    expect(kept).toEqual(['e2']);
    expect(await scan(timelineTable)).toEqual([]);
  });
});
