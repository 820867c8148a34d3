import { describe, expect, it } from 'vitest';
import { ageMonthOne } from '../../bench/cost/age-month-one.js';
import { derivedProfileId } from '../../core/identity/identifiers.js';
import { processBatch } from '../../core/process/pipeline.js';
import { messageHash } from '../../core/profiles/state.js';
import { canonical } from '../support/canonical.js';
import { profileTables } from '../support/profile-tables.js';
import { standaloneDynamoForFile } from '../support/standalone-dynamo.js';

const dynamo = standaloneDynamoForFile();
const user = { type: 'user_id', value: 'aged' };

describe('the cost bench dating month one back', () => {
  it('bounds the messages a profile let go of by their times on the timeline, month one moved back', async () => {
    const { table, timelineTable, reader, deps } = await profileTables(dynamo, 'aged');
    const monthOneFrom = new Date('2026-03-01T00:00:00.000Z');
    // History before month one, then 40 messages of month one in batches: more than the hashes a
    // profile keeps, so it lets the older ones go.
    await processBatch(
      [canonical({ messageId: 'h', identities: [user], timestamp: '2026-01-15T00:00:00.000Z' })],
      deps,
      new Date('2026-01-15T00:00:00.000Z'),
    );
    const sent = Array.from({ length: 40 }, (_, n) =>
      canonical({
        messageId: `m${n}`,
        identities: [user],
        timestamp: new Date(Date.parse('2026-03-02T00:00:00.000Z') + n * 60_000).toISOString(),
      }),
    );
    for (let b = 0; b < 8; b++)
      await processBatch(sent.slice(b * 5, b * 5 + 5), deps, new Date('2026-03-02T01:00:00.000Z'), {
        lane: 'l',
        batch: String(b),
      });
    const before = (await reader.getState(derivedProfileId(user)))!;
    expect(before.forgottenUpTo! >= monthOneFrom.toISOString()).toBe(true);
    const client = dynamo.client;
    const day = 86_400_000;
    expect(
      await ageMonthOne(
        client,
        { profiles: table, timeline: timelineTable },
        ['src'],
        monthOneFrom,
        30 * day,
      ),
    ).toBe(1);
    const after = (await reader.getState(derivedProfileId(user)))!;
    // The latest of the messages let go of (a month-one message, 30 days earlier).
    const held = new Set(before.recentHashes);
    const letGo = sent.filter((e) => !held.has(messageHash(e))).map((e) => e.timestamp);
    expect(letGo.length).toBeGreaterThan(1);
    expect(after.forgottenUpTo).toBe(new Date(Date.parse(letGo.sort().at(-1)!) - 30 * day).toISOString());
    await expect(
      ageMonthOne(
        client,
        { profiles: table, timeline: timelineTable },
        ['another-source'],
        monthOneFrom,
        day,
      ),
    ).rejects.toThrow(/unknown source/);
  });
});
