import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import { profileAttributes } from '../../adapters/dynamodb/profile-item.js';
import { keys } from '../../adapters/dynamodb/profile-keys.js';
import {
  fromSource,
  sourceDigest,
  timelineItem,
  timelineKeyParts,
} from '../../adapters/dynamodb/timeline-item.js';
import { timelineSince } from '../../adapters/dynamodb/timeline-window.js';
import { itemSize } from '../../bench/cost/capacity.js';
import { derivedProfileId } from '../../core/identity/identifiers.js';
import { processBatch } from '../../core/process/pipeline.js';
import { canonical } from '../support/canonical.js';
import { profileTables } from '../support/profile-tables.js';
import { standaloneDynamoForFile } from '../support/standalone-dynamo.js';

const dynamo = standaloneDynamoForFile();
const now = new Date('2026-01-02T00:00:00.000Z');
const user = (v: string) => ({ type: 'user_id', value: v });

async function setup(name: string) {
  const tables = await profileTables(dynamo, name);
  return { ...tables, items: () => tables.scan(tables.timelineTable) };
}

describe('timeline items', () => {
  it('keep the message id, time and profile in their keys only, and read back whole', async () => {
    const { timelineTable, reader, deps, items } = await setup('compact');
    const event = canonical({
      messageId: 'ajs-next-0f3c#with-a-hash',
      identities: [user('u1')],
      timestamp: '2026-01-01T10:00:00.123Z',
      properties: { sku: 'sku-1', price: 12 },
    });
    await processBatch([event], deps, now);
    const [item] = await items();
    expect(Object.keys(item!).sort()).toEqual(['event', 'expiresAt', 'pk', 'properties', 'sk', 'src']);
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
    // What the layout saves against the item written before, with a source id as the API makes them.
    const sourceId = '379c934f-aefe-4efc-9d33-6dc5dac2fcf1';
    const { src: _, ...rest } = item!;
    const before = {
      ...rest,
      type: 'track',
      sourceId,
      messageId: expected.messageId,
      timestamp: expected.timestamp,
      profileId: state.profileId,
    };
    const compact = timelineItem(state.profileId, sourceId, expected, item!.expiresAt as number);
    expect(itemSize(marshall(before)) - itemSize(marshall(compact))).toBeGreaterThanOrEqual(120);
  });

  it('keep the type of anything but a track event, and match a retry from the same source only', async () => {
    const { reader, deps, items } = await setup('types');
    const page = canonical({ messageId: 'p1', identities: [user('u3')], type: 'page', event: undefined });
    await processBatch([page, canonical({ messageId: 't1', identities: [user('u3')] })], deps, now);
    const byType = Object.fromEntries(
      (await items()).map((i) => [timelineKeyParts(i.sk as string).messageId, i]),
    );
    expect(byType.p1!.type).toBe('page');
    expect(byType.t1!.type).toBeUndefined();
    const state = (await reader.getState(derivedProfileId(user('u3'))))!;
    expect((await reader.listTimeline(state)).items.map((e) => [e.messageId, e.type]).sort()).toEqual([
      ['p1', 'page'],
      ['t1', 'track'],
    ]);
    expect(fromSource(byType.t1!, 'src')).toBe(true);
    expect(fromSource(byType.t1!, 'other-source')).toBe(false);
    // Written before: the full source id, or none at all (matches any source).
    expect(fromSource({ sourceId: 'src' }, 'src')).toBe(true);
    expect(fromSource({ sourceId: 'src' }, 'other-source')).toBe(false);
    expect(fromSource({}, 'other-source')).toBe(true);
  });

  it('of either layout read the same, and a retry of either is found on the timeline', async () => {
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
    await put({
      ...keys.timeline(profileId, at, 'old-1'),
      messageId: 'old-1',
      timestamp: at,
      profileId,
      sourceId: 'src',
      type: 'track',
      event: 'Bought',
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
    expect(listed.filter((e) => e.messageId !== 'first')).toEqual([
      { messageId: 'old-1', type: 'track', event: 'Bought', timestamp: at },
      { messageId: 'new-1', type: 'track', event: 'Bought', timestamp: at },
    ]);
    const retries = ['old-1', 'new-1'].map((messageId) =>
      canonical({ messageId, identities: [user('u2')], timestamp: at, event: 'Bought' }),
    );
    expect(await processBatch(retries, deps, now, { lane: 'z', batch: '9' })).toMatchObject({
      applied: 0,
      duplicates: 2,
    });
    expect((await reader.find(user('u2')))!.computed.event_counts.Bought).toBeUndefined();
  });
});
