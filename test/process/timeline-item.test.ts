import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { batchWrite } from '../../adapters/dynamodb/batch.js';
import { encodeCursor } from '../../adapters/dynamodb/cursor.js';
import { profileAttributes } from '../../adapters/dynamodb/profile-item.js';
import { keys } from '../../adapters/dynamodb/profile-keys.js';
import {
  fromSource,
  GROUP,
  sourceDigest,
  timelineEntries,
  timelineItem,
  timelineItems,
  timelineKeyParts,
} from '../../adapters/dynamodb/timeline-item.js';
import { timelineSince } from '../../adapters/dynamodb/timeline-window.js';
import { itemSize } from '../../bench/cost/capacity.js';
import { derivedProfileId } from '../../core/identity/identifiers.js';
import { processBatch } from '../../core/process/pipeline.js';
import type { TimelineEvent } from '../../core/profiles/profile.js';
import { canonical } from '../support/canonical.js';
import { profileTables } from '../support/profile-tables.js';
import { standaloneDynamoForFile } from '../support/standalone-dynamo.js';

const dynamo = standaloneDynamoForFile();
const now = new Date('2026-01-02T00:00:00.000Z');
const user = (v: string) => ({ type: 'user_id', value: v });

/** Events go to timeline items at once: these tests are about the items. */
async function setup(name: string) {
  const tables = await profileTables(dynamo, name, { keepLatestEvents: false });
  return { ...tables, items: () => tables.scan(tables.timelineTable) };
}

/** What analytics.js sends as a page view's properties. */
const pageProperties = {
  path: '/products/123',
  referrer: 'https://www.example.org/',
  search: '?utm_source=news&utm_medium=email&utm_campaign=december',
  title: 'Blue shoes - A shop',
  url: 'https://www.a-shop.test/products/123?utm_source=news&utm_medium=email&utm_campaign=december',
};

describe('timeline items', () => {
  it('keep the message id, time and profile in their keys only, the rest compressed, and read back whole', async () => {
    const { timelineTable, reader, deps, items } = await setup('compact');
    const event = canonical({
      messageId: 'ajs-next-0f3c#with-a-hash',
      identities: [user('u1')],
      timestamp: '2026-01-01T10:00:00.123Z',
      properties: { sku: 'sku-1', price: 12 },
    });
    await processBatch([event], deps, now);
    const [item] = await items();
    expect(Object.keys(item!).sort()).toEqual(['ev', 'expiresAt', 'pk', 'sk', 'src']);
    expect(item!.src).toBe(sourceDigest('src'));
    expect(timelineKeyParts(item!.sk as string)).toEqual({
      timestamp: '2026-01-01T10:00:00.123Z',
      messageId: 'ajs-next-0f3c#with-a-hash',
    });
    const state = (await reader.getState(derivedProfileId(user('u1'))))!;
    const expected = {
      messageId: 'ajs-next-0f3c#with-a-hash',
      type: 'track',
      event: 'Viewed',
      timestamp: '2026-01-01T10:00:00.123Z',
      properties: { sku: 'sku-1', price: 12 },
    };
    expect((await reader.listTimeline(state)).items).toEqual([expected]);
    expect(await timelineSince(dynamo.doc, timelineTable, state, new Date(0))).toEqual([expected]);
  });

  it('are smaller than the event as attributes: a page view by at least a third', () => {
    const page: TimelineEvent = {
      messageId: 'ajs-next-8c1f6f3e2b8a4d2f9e7c6b5a4d3c2b1a',
      type: 'page',
      name: 'Product',
      timestamp: '2026-01-01T10:00:00.123Z',
      properties: pageProperties,
    };
    const compact = timelineItem('user-1', 'source-1', page, 1_800_000_000);
    const { messageId: _, timestamp: __, ...fields } = page;
    const asAttributes = {
      ...keys.timeline('user-1', page.timestamp, page.messageId),
      ...fields,
      src: 'abcdefghijk',
      expiresAt: 1_800_000_000,
    };
    const [before, after] = [asAttributes, compact].map((i) => itemSize(marshall(i)));
    expect(after).toBeLessThan((before! * 2) / 3);
    expect(timelineEntries(compact).map((e) => e.event)).toEqual([page]);
  });

  it('keep the type of anything but a track event, and match a retry from the same source only', async () => {
    const { reader, deps, items } = await setup('types');
    const page = canonical({ messageId: 'p1', identities: [user('u3')], type: 'page', event: undefined });
    const at = '2026-01-01T02:00:00.000Z';
    await processBatch(
      [page, canonical({ messageId: 't1', identities: [user('u3')], timestamp: at })],
      deps,
      now,
    );
    // Two hours apart: two items.
    const byId = Object.fromEntries(
      (await items()).flatMap((i) => timelineEntries(i).map((e) => [e.event.messageId, { item: i, e }])),
    );
    expect(byId.p1!.e.event.type).toBe('page');
    expect(byId.t1!.e.event.type).toBe('track');
    const state = (await reader.getState(derivedProfileId(user('u3'))))!;
    expect((await reader.listTimeline(state)).items.map((e) => [e.messageId, e.type])).toEqual([
      ['t1', 'track'],
      ['p1', 'page'],
    ]);
    expect(fromSource(byId.t1!.item, 'src')).toBe(true);
    expect(fromSource(byId.t1!.item, 'other-source')).toBe(false);
    // Written before: the full source id, or none at all (matches any source).
    expect(fromSource({ sourceId: 'src' }, 'src')).toBe(true);
    expect(fromSource({ sourceId: 'src' }, 'other-source')).toBe(false);
    expect(fromSource({}, 'other-source')).toBe(true);
  });

  it('hold a batch’s events of one person from one source within the span: one write unit for a few', async () => {
    const { reader, deps, items } = await setup('grouped');
    const ev = (messageId: string, timestamp: string, sourceId = 'src') =>
      canonical({
        messageId,
        identities: [user('g1')],
        timestamp,
        sourceId,
        properties: { sku: `s-${messageId}` },
      });
    const result = await processBatch(
      [
        ev('a', '2026-01-01T10:00:00.000Z'),
        ev('b', '2026-01-01T10:20:00.000Z'),
        ev('c', '2026-01-01T10:59:00.000Z'),
        // More than the span after the first: an item of its own.
        ev('d', '2026-01-01T11:00:00.001Z'),
        // Another source: an item of its own.
        ev('e', '2026-01-01T10:10:00.000Z', 'other'),
      ],
      deps,
      now,
    );
    expect(result.applied).toBe(5);
    const stored = await items();
    const groups = stored.map((i) => timelineEntries(i).map((e) => e.event.messageId)).sort();
    expect(groups).toEqual([['a', 'b', 'c'], ['d'], ['e']]);
    const three = stored.find((i) => timelineEntries(i).length === 3)!;
    expect(itemSize(marshall(three))).toBeLessThanOrEqual(1024);
    expect(timelineKeyParts(three.sk as string).timestamp).toBe('2026-01-01T10:00:00.000Z');
    const state = (await reader.getState(derivedProfileId(user('g1'))))!;
    expect((await reader.listTimeline(state)).items.map((e) => e.messageId)).toEqual([
      'd',
      'c',
      'b',
      'e',
      'a',
    ]);
    // Each is a copy when delivered again, the grouped ones included.
    const again = await processBatch(
      [ev('b', '2026-01-01T10:20:00.000Z'), ev('e', '2026-01-01T10:10:00.000Z', 'other')],
      deps,
      now,
      { lane: 'z', batch: '9' },
    );
    expect(again).toMatchObject({ applied: 0, duplicates: 2 });
  });

  it('written by two attempts that grouped a batch differently are both kept, each message listed once', async () => {
    const { timelineTable, reader, deps } = await setup('regrouped');
    await processBatch([canonical({ messageId: 'x', identities: [user('r1')] })], deps, now);
    const profileId = derivedProfileId(user('r1'));
    const e = (id: string, minute: number): TimelineEvent => ({
      messageId: id,
      type: 'track',
      event: 'Viewed',
      timestamp: `2026-01-01T10:${String(minute).padStart(2, '0')}:00.000Z`,
    });
    // The first attempt wrote three events as one item; the second, a split batch, the first two.
    const first = timelineItems(profileId, 'src', [e('e1', 1), e('e2', 2), e('e3', 3)], 1);
    const second = timelineItems(profileId, 'src', [e('e1', 1), e('e2', 2)], 1);
    expect(first[0]!.sk).not.toBe(second[0]!.sk);
    // Sets whose ids, joined, would read the same: still two keys.
    const joined = timelineItems(profileId, 'src', [e('e1', 1), e('a\nb', 2)], 1);
    const split = timelineItems(profileId, 'src', [e('e1', 1), e('a', 2), e('b', 3)], 1);
    expect(joined[0]!.sk).not.toBe(split[0]!.sk);
    await batchWrite(
      dynamo.doc,
      timelineTable,
      [...first, ...second].map((put) => ({ put })),
    );
    const state = (await reader.getState(profileId))!;
    expect((await reader.listTimeline(state)).items.map((x) => x.messageId)).toEqual(['e3', 'e2', 'e1', 'x']);
  });

  it('page newest first, each event once, however items group and overlap in time, across merged timelines', async () => {
    const { timelineTable, reader, deps } = await setup('paging');
    await processBatch([canonical({ messageId: 'seed', identities: [user('pg')] })], deps, now);
    const profileId = derivedProfileId(user('pg'));
    const base = Date.parse('2026-01-01T00:00:00.000Z');
    let round = 0;
    await fc.assert(
      fc.asyncProperty(
        // Batches of events within a few hours (so items overlap in time), ids that may share prefixes;
        // each under the profile, under one merged into it, under both (a copy committed before the
        // merge), or twice under the profile (two attempts that grouped the batch differently).
        fc.array(
          fc.tuple(
            fc.array(
              fc.tuple(fc.integer({ min: 0, max: 4 * 3600 }), fc.constantFrom('a', 'a#', 'a#b', 'b', 'ab')),
              { minLength: 1, maxLength: 8 },
            ),
            fc.constantFrom('survivor', 'merged', 'both', 'again'),
          ),
          { minLength: 1, maxLength: 8 },
        ),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 0, max: 4 * 3600 }),
        async (batches, limit, sinceSeconds) => {
          const id = `${profileId}-${++round}`;
          const merged = `${id}-merged`;
          const all = new Map<string, TimelineEvent>();
          const puts = batches.flatMap(([batch, under], b) => {
            const events = batch.map(([s, prefix], i) => ({
              messageId: `${prefix}${b}-${i}`,
              type: 'track',
              event: 'Viewed',
              timestamp: new Date(base + s * 1000).toISOString(),
            }));
            for (const x of events) all.set(x.messageId, x);
            const ids =
              under === 'both'
                ? [id, merged]
                : under === 'again'
                  ? [id, id]
                  : under === 'merged'
                    ? [merged]
                    : [id];
            // The second copy as another attempt grouped the batch: its first two events only.
            return ids.flatMap((at, n) =>
              timelineItems(at, 'src', n === 0 ? events : events.slice(0, 2), 1).map((put) => ({ put })),
            );
          });
          await batchWrite(dynamo.doc, timelineTable, puts);
          const key = (x: TimelineEvent) => `EV#${x.timestamp}#${x.messageId}`;
          const expected = [...all.values()].sort((x, y) => (key(x) < key(y) ? 1 : -1));
          const state = { ...(await reader.getState(profileId))!, profileId: id, mergedFrom: [merged] };
          const paged: TimelineEvent[] = [];
          let cursor: string | undefined;
          do {
            const page = await reader.listTimeline(state, { limit, cursor });
            paged.push(...page.items);
            cursor = page.cursor;
          } while (cursor);
          expect(paged).toEqual(expected);
          const since = new Date(base + sinceSeconds * 1000);
          expect(await timelineSince(dynamo.doc, timelineTable, state, since, 5)).toEqual(
            expected.filter((x) => x.timestamp >= since.toISOString()).slice(0, 5),
          );
        },
      ),
      { numRuns: 25 },
    );
  });

  it('of every layout read the same, and a retry of each is found on the timeline', async () => {
    const { table, timelineTable, reader, deps } = await setup('old-layout');
    await processBatch([canonical({ messageId: 'first', identities: [user('u2')] })], deps, now);
    const profileId = derivedProfileId(user('u2'));
    // A profile that does not bound the messages it let go of (as written before it kept the bound):
    // only the timeline can tell whether a message it holds no hash of was applied.
    const state = (await reader.getState(profileId))!;
    delete state.forgottenUpTo;
    await dynamo.doc.send(
      new PutCommand({
        TableName: table,
        Item: { ...keys.profile(profileId), ...profileAttributes(state), version: 2 },
      }),
    );
    const at = '2026-01-01T00:00:05.000Z';
    const put = (Item: Record<string, unknown>) =>
      dynamo.doc.send(new PutCommand({ TableName: timelineTable, Item }));
    // The first layout: every field an attribute.
    await put({
      ...keys.timeline(profileId, at, 'old-1'),
      messageId: 'old-1',
      timestamp: at,
      profileId,
      sourceId: 'src',
      type: 'track',
      event: 'Bought',
    });
    // The second: id and time in the key only, a source digest, the event's fields as attributes.
    await put({
      ...keys.timeline(profileId, at, 'old-2'),
      event: 'Bought',
      src: sourceDigest('src'),
      expiresAt: 1,
    });
    await put(
      timelineItem(
        profileId,
        'src',
        { messageId: 'new-1', type: 'track', event: 'Bought', timestamp: at },
        1,
      ),
    );
    const listed = (await reader.listTimeline(state)).items;
    expect(listed.filter((e) => e.messageId !== 'first')).toEqual(
      ['old-2', 'old-1', 'new-1'].map((messageId) => ({
        messageId,
        type: 'track',
        event: 'Bought',
        timestamp: at,
      })),
    );
    const retries = ['old-1', 'old-2', 'new-1'].map((messageId) =>
      canonical({ messageId, identities: [user('u2')], timestamp: at, event: 'Bought' }),
    );
    expect(await processBatch(retries, deps, now, { lane: 'z', batch: '9' })).toMatchObject({
      applied: 0,
      duplicates: 3,
    });
    expect((await reader.find(user('u2')))!.computed.event_counts.Bought).toBeUndefined();
  });

  it('refuse a cursor that is not one of their keys, and an item of a format they do not know', async () => {
    const { reader, deps } = await setup('hostile');
    await processBatch([canonical({ messageId: 'h', identities: [user('h1')] })], deps, now);
    const state = (await reader.getState(derivedProfileId(user('h1'))))!;
    for (const cursor of [
      encodeCursor(42),
      encodeCursor({ pk: 'x' }),
      encodeCursor('PROFILE'),
      'not base64 json',
    ])
      await expect(reader.listTimeline(state, { cursor })).rejects.toThrow(RangeError);
    const item = timelineItem('p', 's', { messageId: 'm', type: 'track', event: 'E', timestamp: 'T' }, 1);
    (item.ev as Uint8Array)[0] = 9;
    expect(() => timelineEntries(item)).toThrow(/unknown format/);
    expect(GROUP.spanMs).toBeGreaterThan(0);
  });
});
