import { inflateRawSync } from 'node:zlib';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import type { Item } from '../../adapters/dynamodb/batch.js';
import {
  PROFILE_DICTIONARY,
  profileAttributes,
  profileItemParts,
  stateFromItem,
  TRAITS_SK,
  withTraitValues,
} from '../../adapters/dynamodb/profile-item.js';
import { keys } from '../../adapters/dynamodb/profile-keys.js';
import { readProfileItem } from '../../adapters/dynamodb/profile-read.js';
import { itemSize } from '../../bench/cost/capacity.js';
import { derivedProfileId } from '../../core/identity/identifiers.js';
import { ConflictError } from '../../core/identity/store.js';
import { processBatch } from '../../core/process/pipeline.js';
import type { Identity } from '../../core/profiles/profile.js';
import { emptyProfile } from '../../core/profiles/state.js';
import { canonical } from '../support/canonical.js';
import { identifiedTraits } from '../support/identity-model.js';
import { profileTables } from '../support/profile-tables.js';
import { standaloneDynamoForFile } from '../support/standalone-dynamo.js';

const dynamo = standaloneDynamoForFile();
const now = new Date('2026-01-02T00:00:00.000Z');
const user = (v: string) => ({ type: 'user_id', value: v });
const anon = (v: string) => ({ type: 'anonymous_id', value: v });

/** What a backend identifies a person with: more than packs small. */
const richTraits = (n: number) => ({
  name: `Person ${n}`,
  title: 'Head of Engineering',
  ...identifiedTraits(n),
  address: { street: `${n} Market St`, city: 'San Francisco', postalCode: '94103', country: 'USA' },
});

/** An identify of `who` with `traits`, `hour` hours into 2026-01-01. */
const identify = (messageId: string, who: Identity, traits: Record<string, unknown>, hour = 0) =>
  canonical({
    messageId,
    type: 'identify',
    identities: [who],
    traits,
    timestamp: `2026-01-01T${String(hour).padStart(2, '0')}:00:00.000Z`,
  });

/** Tables, and a store whose every DynamoDB call is logged (command name and items written). */
async function setup(name: string) {
  const calls: Array<{ name: string; keys: string[] }> = [];
  const tables = await profileTables(dynamo, name, {
    watch: (command) => {
      const input = command.input;
      const written = [
        ...((input.TransactItems as Array<Record<string, { Item?: { sk: string }; Key?: { sk: string } }>>) ??
          []),
        ...(input.Item ? [{ Put: { Item: input.Item as { sk: string } } }] : []),
      ].map((a) => {
        const [kind, body] = Object.entries(a)[0]!;
        return `${kind} ${(body.Item ?? body.Key)?.sk}`;
      });
      calls.push({ name: command.constructor.name, keys: written });
    },
  });
  const get = async (pk: string, sk: string) =>
    (await dynamo.doc.send(new GetCommand({ TableName: tables.table, Key: { pk, sk } }))).Item;
  const writes = () =>
    calls.filter((c) => c.keys.length).flatMap((c) => c.keys.map((k) => `${c.name}: ${k}`));
  return { ...tables, get, calls, writes };
}

describe('trait values kept beside the profile item', () => {
  it('keeps large values in their own item, the profile item under 1 KB, and reads them back whole', async () => {
    const { reader, deps, get, writes } = await setup('traits-beside');
    const traits = richTraits(1);
    await processBatch([identify('id1', user('u1'), traits)], deps, now);
    const id = derivedProfileId(user('u1'));
    const profile = (await get(keys.profilePk(id), 'PROFILE'))!;
    const values = (await get(keys.profilePk(id), TRAITS_SK))!;
    expect(profile.tv).toBe(values.d);
    expect(profile.traits).toBeUndefined();
    expect(itemSize(marshall(profile))).toBeLessThan(1024);
    // With its values and its identity node, in one transaction.
    expect(writes()).toEqual([
      'TransactWriteCommand: Put PROFILE',
      'TransactWriteCommand: Put PROFILE#TRAITS',
      'TransactWriteCommand: Put ID',
    ]);
    expect((await reader.find(user('u1')))!.traits).toEqual(traits);
    expect((await reader.getProfile(id))!.traits).toEqual(traits);
  });

  it('writes the profile item alone while the values stay the same, both when they change', async () => {
    const { reader, deps, writes, calls } = await setup('traits-unchanged');
    const traits = richTraits(2);
    await processBatch([identify('id1', user('u2'), traits)], deps, now);
    calls.length = 0;
    // A page view, then the same identify sent again (analytics.js on every page load): new stamps,
    // same values.
    await processBatch([canonical({ messageId: 'v1', identities: [user('u2')] })], deps, now);
    await processBatch([identify('id2', user('u2'), traits, 1)], deps, now);
    expect(writes()).toEqual(['PutCommand: Put PROFILE', 'PutCommand: Put PROFILE']);
    // A login counted and a flag set (numbers and flags stay in the profile item): the item alone.
    calls.length = 0;
    // (identifiedTraits(2) has 2 logins and is verified.)
    const counted = { logins: 3, verified: false };
    await processBatch([identify('id2b', user('u2'), counted, 2)], deps, now);
    expect(writes()).toEqual(['PutCommand: Put PROFILE']);
    expect((await reader.find(user('u2')))!.traits).toEqual({ ...traits, ...counted });
    calls.length = 0;
    const changed = { ...traits, ...counted, title: 'CTO' };
    await processBatch([identify('id3', user('u2'), { title: 'CTO' }, 2)], deps, now);
    // Both, in one transaction.
    expect(writes()).toEqual([
      'TransactWriteCommand: Put PROFILE',
      'TransactWriteCommand: Put PROFILE#TRAITS',
    ]);
    expect((await reader.find(user('u2')))!.traits).toEqual(changed);
  });

  it('takes values back into the profile item when they shrink, deleting their item', async () => {
    const { reader, deps, get } = await setup('traits-shrink');
    await processBatch([identify('id1', user('u3'), identifiedTraits(3))], deps, now);
    await processBatch([identify('id2', user('u3'), { note: 'short' }, 1)], deps, now);
    const id = derivedProfileId(user('u3'));
    expect(await get(keys.profilePk(id), TRAITS_SK)).toBeUndefined();
    expect((await get(keys.profilePk(id), 'PROFILE'))!.tv).toBeUndefined();
    expect((await reader.find(user('u3')))!.traits).toEqual({ ...identifiedTraits(3), note: 'short' });
    // Large again: beside it again.
    const again = { ...identifiedTraits(4), plan: 'plan-3' };
    await processBatch([identify('id3', user('u3'), again, 2)], deps, now);
    expect((await get(keys.profilePk(id), 'PROFILE'))!.tv).toBe(
      (await get(keys.profilePk(id), TRAITS_SK))!.d,
    );
    expect((await reader.find(user('u3')))!.traits).toEqual(again);
  });

  it('merges two people with large values: the survivor holds both, the redirect keeps its own', async () => {
    const { reader, deps, get } = await setup('traits-merge');
    await processBatch([identify('a1', anon('d1'), richTraits(4))], deps, now);
    await processBatch([identify('u1', user('u4'), { title: 'CTO', plan: 'pro' }, 1)], deps, now);
    await processBatch(
      [
        canonical({
          messageId: 'login',
          identities: [anon('d1'), user('u4')],
          timestamp: '2026-01-01T02:00:00.000Z',
        }),
      ],
      deps,
      now,
    );
    const state = (await reader.find(anon('d1')))!;
    expect(state.profileId).toBe(derivedProfileId(user('u4')));
    expect(state.traits).toEqual({ ...richTraits(4), title: 'CTO', plan: 'pro' });
    const loser = derivedProfileId(anon('d1'));
    const redirect = (await get(keys.profilePk(loser), 'PROFILE'))!;
    expect(redirect.mergedInto).toBe(state.profileId);
    // The redirect keeps the data it had (destinations' records of it were built from it).
    const values = await get(keys.profilePk(loser), TRAITS_SK);
    const kept = stateFromItem(withTraitValues(redirect as Item, [values as Item])!);
    expect(kept.traits).toEqual(richTraits(4));
  });

  it('attaches values across scan pages, for live profiles and redirects alike', async () => {
    const { reader, deps } = await setup('traits-scan');
    for (let n = 0; n < 4; n++)
      await processBatch([identify(`id${n}`, user(`s${n}`), richTraits(n))], deps, now);
    // One item a page: every profile item ends its page, its values on the next.
    const found = new Map<string, unknown>();
    let cursor: string | undefined;
    do {
      const page = await reader.scanStates({ cursor, limit: 1 });
      for (const s of page.items) found.set(s.profileId, s.traits);
      cursor = page.cursor;
    } while (cursor);
    expect(found.size).toBe(4);
    for (let n = 0; n < 4; n++) expect(found.get(derivedProfileId(user(`s${n}`)))).toEqual(richTraits(n));
    const seen = new Map<string, unknown>();
    cursor = undefined;
    do {
      const page = await reader.scanStatesAndRedirects({ cursor, limit: 2, unlessMarked: 'settledAt' });
      for (const s of page.items) seen.set(s.profileId, s.traits);
      cursor = page.cursor;
    } while (cursor);
    expect(seen).toEqual(found);
  });

  it('never reads a profile without its values, nor with the values of another write', async () => {
    const { table } = await setup('traits-torn');
    const state = emptyProfile('p_torn', now.toISOString());
    state.traits = richTraits(9);
    const item = {
      ...keys.profile('p_torn'),
      ...profileAttributes(state),
      version: 1,
      tv: 'AAAAAAAAAAAAAAAA',
    };
    expect(() => stateFromItem({ ...item, packed: undefined } as never)).toThrow(/without its trait values/);
    // Names values it does not have: a read that met a change half way, and never the values of another.
    await dynamo.doc.send(new PutCommand({ TableName: table, Item: { ...item, packed: undefined } }));
    const other = { pk: item.pk, sk: TRAITS_SK, d: 'BBBBBBBBBBBBBBBB', v: 'x' };
    await dynamo.doc.send(new PutCommand({ TableName: table, Item: other }));
    expect(withTraitValues(item, [other])).toBeUndefined();
    // Nor the values item of another profile.
    expect(withTraitValues(item, [{ ...other, pk: 'P#other', d: 'AAAAAAAAAAAAAAAA' }])).toBeUndefined();
    await expect(readProfileItem(dynamo.doc, table, 'p_torn', false)).rejects.toThrow(/not the one it names/);
  });

  it('leaves neither item changed when the profile write loses its race', async () => {
    const { store, deps, reader, get } = await setup('traits-race');
    await processBatch([identify('id1', user('u5'), richTraits(5))], deps, now);
    const id = derivedProfileId(user('u5'));
    const first = (await get(keys.profilePk(id), 'PROFILE'))!;
    const v1 = (await reader.getState(id))!;
    await processBatch([identify('id2', user('u5'), richTraits(6), 1)], deps, now);
    // A writer that read version 1 changes the values too: its profile write fails, and so does its
    // values write with it.
    const stale = { ...v1, traits: richTraits(7) };
    await expect(
      store.commit(
        {
          profiles: [{ state: stale, expectedVersion: 1, stored: first.tv as string }],
          redirects: [],
          nodes: [],
          timeline: [],
          merges: [],
          applied: [],
        },
        now,
      ),
    ).rejects.toBeInstanceOf(ConflictError);
    expect((await reader.getState(id))!.traits).toEqual(richTraits(6));
    expect((await get(keys.profilePk(id), 'PROFILE'))!.version).toBe(2);
  });
});

describe('trait stamps', () => {
  const packedJson = (attributes: Record<string, unknown>) =>
    inflateRawSync((attributes.packed as Uint8Array).subarray(1), {
      dictionary: PROFILE_DICTIONARY,
    }).toString();

  it('write the stamp most traits share once, and read every trait’s own stamp back', () => {
    const state = emptyProfile('p_stamps', now.toISOString());
    const identify = ['2026-01-01T00:00:00.000Z', 'identify-1'] as const;
    const later = ['2026-01-01T05:00:00.000Z', 'track-9'] as const;
    // Values large enough to be kept beside the profile item (`bio`).
    const bio = Array.from({ length: 60 }, (_, i) => `w${(i * 7919) % 1009}`).join(' ');
    state.traits = { name: 'Ada', email: 'ada@example.com', plan: 'pro', seats: 3, gone: null, bio };
    state.traitMeta = {
      name: identify,
      email: identify,
      plan: later,
      seats: identify,
      gone: identify,
      bio: identify,
    };
    // A stamp kept for a trait the profile no longer has a value for.
    state.traitMeta.removed = identify;
    expect(profileItemParts(state).traits).toBeDefined();
    for (const attributes of [profileAttributes(state), profileItemParts(state).attributes]) {
      const json = packedJson(attributes);
      expect(json.split('identify-1').length - 1).toBe(2);
      const values = profileItemParts(state).traits;
      const item = { ...keys.profile('p_stamps'), ...attributes };
      const whole = values ? withTraitValues(item, [{ ...item, sk: TRAITS_SK, ...values }])! : item;
      expect(stateFromItem(whole).traitMeta).toEqual(state.traitMeta);
    }
    // A trait without a stamp of its own: every stamp written as it is.
    const unstamped = { ...state, traits: { ...state.traits, hand: 'set' } };
    expect(packedJson(profileAttributes(unstamped)).split('identify-1').length - 1).toBe(6);
    expect(stateFromItem({ ...keys.profile('p_stamps'), ...profileAttributes(unstamped) }).traitMeta).toEqual(
      state.traitMeta,
    );
  });
});
