import { createHash } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { TimelineEventSchema } from '../../core/profiles/profile.js';
import {
  MESSAGE_HASH_LENGTH,
  type PendingEvent,
  type ProfileState,
  type Stamp,
} from '../../core/profiles/state.js';
import type { Item } from './batch.js';

/**
 * How a profile state is stored on its `P#<id>` / `PROFILE` item. DynamoDB charges a write per started
 * KB of the whole item, and a profile is rewritten for every batch that touches its person: as plain
 * attributes a browsing person's profile (identities, last page, counters, and the processor's stamps,
 * offsets and message hashes) is 1.5-2 KB, two units a write. Packed as one deflated attribute, with a
 * preset dictionary of the state's own field names, it is about half that, one unit.
 *
 * Only `profileId` stays a plain attribute next to the packed state (scans and tombstone checks read
 * it); redirect attributes (`mergedInto`, `mergedAt`, `intoIdentities`, ...) and `version` are written
 * by conditional updates and stay plain too. Items written before packing (plain attributes only) are
 * read as they are and packed by their next write: no migration.
 */
export const PACKED_ATTRIBUTE = 'packed';

// Format byte first, so the dictionary can change later: a new dictionary gets a new format byte and
// this one stays readable. Never edit a dictionary in place.
const FORMAT_V1 = 1;
/** Exported for tests that read what a packed item holds. */
export const PROFILE_DICTIONARY = Buffer.from(
  [
    '"traits":{"email":"name":"first_name":"last_name":"phone":"plan":"company":',
    '"computed":{"first_seen":"last_seen":"event_counts":{"page":"screen":"identify":"track":"group":"alias":',
    '"Order Completed":"Product Viewed":"Product Added":"Checkout Started":"Signed In":"Signed Up":',
    '"total_revenue":"order_count":"last_page":{"name":"path":"/","url":"https://","title":"referrer":"https://',
    '"search":"?utm_source=&utm_medium=&utm_campaign=","at":"last_screen":{',
    '"consent":{"identities":[{"type":"anonymous_id","value":"},{"type":"user_id","value":"',
    '},{"type":"email","value":"@gmail.com"},{"type":"phone","value":"+1',
    '"createdAt":"updatedAt":"mergedFrom":["p_","traitMeta":{"consentMeta":{"computedMeta":{',
    '"applied":{"shardId-00000000000":{"4965":[0,1,2,3],"recentHashes":["',
    '"T00:00:00.000Z","2026-',
  ].join(''),
);

const PLAIN_FIELDS = [
  'traits',
  'computed',
  'consent',
  'identities',
  'createdAt',
  'updatedAt',
  'traitMeta',
  'consentMeta',
  'computedMeta',
  'mergedFrom',
  'applied',
  'recentHashes',
  'forgottenUpTo',
  'olderHashes',
  'olderUpTo',
  'activity',
  'lastMergeAt',
  'pending',
] as const;

/**
 * The attributes of a profile item holding the whole state, trait values included (keys and `version`
 * are the caller's). The stream processor writes `profileItemParts` instead.
 */
export function profileAttributes(state: ProfileState): Record<string, unknown> {
  const { profileId } = state;
  return { profileId, [PACKED_ATTRIBUTE]: pack(state) };
}

function pack(
  state: Omit<ProfileState, 'traits'> & { traits?: ProfileState['traits'] },
  traitNames: readonly string[] = Object.keys(state.traits ?? {}),
): Buffer {
  const { profileId: _id, ...rest } = state;
  const stamps = sharedTraitStamp(rest.traitMeta, traitNames);
  const json = Buffer.from(
    JSON.stringify({
      ...rest,
      ...(stamps ? { traitMeta: stamps.others, traitStamp: stamps.shared } : {}),
      applied: rest.applied && mapOffsets(rest.applied, offsetRanges),
      recentHashes: joinHashes(rest.recentHashes),
      pending: rest.pending?.length ? rest.pending.map((p) => [p.sourceId, p.expiresAt, p.event]) : undefined,
    }),
    'utf8',
  );
  const body = deflateRawSync(json, { level: 9, dictionary: PROFILE_DICTIONARY });
  return Buffer.concat([Buffer.of(FORMAT_V1), body]);
}

/**
 * Trait values beyond this many bytes (packed) are kept beside the profile item, in their own item
 * (`P#<id>` / `PROFILE#TRAITS`). The profile item is rewritten by every batch that reaches its person
 * and is billed per started KB: what a backend identifies a person with (name, title, address,
 * company, ... about 500 bytes of JSON) took a profile past 1 KB, two write units for every page
 * view. Trait values change far less often than the counters next to them (an identify sending the
 * same values again changes only their stamps, which stay in the profile item), so beside it they are
 * written only when they change, then in one transaction with the profile item (billed twice, for
 * the few writes that change values). Numbers and flags stay in the profile item (`splitTraits`): a
 * login count changes with every identify. The profile item names the values it goes with (`tv`, their
 * digest): a read is not isolated from a transaction, and one that finds the values of another write
 * reads again. A read takes both in one Query (`profile-read.ts`), billed by their bytes together:
 * what reading the profile item alone did.
 */
export const TRAITS_INLINE_MAX = 128;
export const TRAITS_SK = 'PROFILE#TRAITS';
/** On the profile item: the digest of the values it goes with. */
export const TRAITS_REF_ATTRIBUTE = 'tv';

export interface ProfileItemParts {
  /** The profile item's attributes (keys and `version` are the caller's). */
  readonly attributes: Record<string, unknown>;
  /**
   * The values item's attributes (`d`: digest, `v`: values) to write with it: kept beside it, and
   * not those the stored profile names.
   */
  readonly traits?: Record<string, unknown>;
  /** Whether the stored profile's values item goes (its values are back inline). */
  readonly dropTraits: boolean;
}

/**
 * How the stream processor stores a state: trait values inline when small, beside it when not.
 * `stored`: the values digest (`tv`) of the profile item this write replaces, if any.
 */
export function profileItemParts(state: ProfileState, stored?: string): ProfileItemParts {
  if (packTraits(state.traits).length <= TRAITS_INLINE_MAX)
    return { attributes: profileAttributes(state), dropTraits: stored !== undefined };
  const { inline, beside } = splitTraits(state.traits);
  const values = packTraits(beside);
  // 96 bits: tells apart the values of two writes of one person, not an address shared with anyone.
  const digest = createHash('sha256').update(values).digest('base64url').slice(0, 16);
  return {
    attributes: {
      profileId: state.profileId,
      [PACKED_ATTRIBUTE]: pack({ ...state, traits: inline }, Object.keys(state.traits)),
      [TRAITS_REF_ATTRIBUTE]: digest,
    },
    ...(stored === digest ? {} : { traits: { d: digest, v: values } }),
    dropTraits: false,
  };
}

/** JSON bytes of the numbers, booleans and nulls a profile item keeps inline when its values are beside it. */
export const SCALAR_TRAITS_INLINE_MAX = 96;

/**
 * Which trait values stay in the profile item when they are kept beside it: numbers, booleans and nulls
 * (a login count, a last order total, a flag: what changes identify after identify, a few bytes each),
 * up to `SCALAR_TRAITS_INLINE_MAX`. The values that make traits large (names, addresses, companies)
 * rarely change, so an identify that only counts another login writes the profile item alone.
 */
function splitTraits(traits: ProfileState['traits']): {
  inline: ProfileState['traits'];
  beside: ProfileState['traits'];
} {
  const inline: ProfileState['traits'] = {};
  const beside: ProfileState['traits'] = {};
  for (const [name, value] of Object.entries(traits))
    if (value === null || typeof value === 'number' || typeof value === 'boolean') inline[name] = value;
    else beside[name] = value;
  if (JSON.stringify(inline).length > SCALAR_TRAITS_INLINE_MAX) return { inline: {}, beside: traits };
  return { inline, beside };
}

function packTraits(traits: ProfileState['traits']): Buffer {
  const body = deflateRawSync(Buffer.from(JSON.stringify(traits ?? {}), 'utf8'), {
    level: 9,
    dictionary: PROFILE_DICTIONARY,
  });
  return Buffer.concat([Buffer.of(FORMAT_V1), body]);
}

/**
 * A profile item with its trait values attached (as the plain `traits` attribute, which
 * `stateFromItem` reads) from the items read with it (`values`: any items of its partition), or
 * undefined when its values item is missing or holds the values of another write (a read that met a
 * transaction half way). Items whose values are inline are returned as they are.
 */
export function withTraitValues(profile: Item, values: readonly Item[]): Item | undefined {
  const ref = profile[TRAITS_REF_ATTRIBUTE];
  if (ref === undefined || profile.traits !== undefined) return profile;
  const item = values.find((v) => v.pk === profile.pk && v.sk === TRAITS_SK);
  if (!item || item.d !== ref) return undefined;
  return { ...profile, traits: unpack(item.v) };
}

/**
 * The stamp most traits share, and the stamps of the others. An identify usually sends a person's
 * whole set of traits, so after it every trait has its stamp: written once instead of once per trait
 * name (a backend's dozen traits, about 80 bytes of a packed profile). Only when every trait has a
 * stamp: the traits without one of their own take the shared one when read back.
 */
function sharedTraitStamp(
  meta: ProfileState['traitMeta'] | undefined,
  traitNames: readonly string[],
): { shared: Stamp; others: Record<string, Stamp> } | undefined {
  if (!meta || traitNames.length < 2 || traitNames.some((n) => meta[n] === undefined)) return undefined;
  const counts = new Map<string, number>();
  for (const n of traitNames) {
    const key = JSON.stringify(meta[n]);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const [sharedKey, times] = [...counts].sort((a, b) => b[1] - a[1])[0]!;
  if (times < 2) return undefined;
  const names = new Set(traitNames);
  const others = Object.fromEntries(
    Object.entries(meta).filter(([n, stamp]) => !names.has(n) || JSON.stringify(stamp) !== sharedKey),
  );
  return { shared: JSON.parse(sharedKey) as Stamp, others };
}

/**
 * Message hashes are random (nothing to deflate), fixed-length strings: stored as one string, without
 * the quotes and commas of a JSON array (a third of their bytes). Read back in both forms.
 */
const joinHashes = (hashes: readonly string[] | undefined) =>
  !hashes?.every((h) => h.length === MESSAGE_HASH_LENGTH) ? hashes : hashes.join('');
const splitHashes = (stored: unknown): string[] =>
  typeof stored === 'string'
    ? Array.from({ length: Math.floor(stored.length / MESSAGE_HASH_LENGTH) }, (_, i) =>
        stored.slice(i * MESSAGE_HASH_LENGTH, (i + 1) * MESSAGE_HASH_LENGTH),
      )
    : ((stored as string[] | undefined) ?? []);

/**
 * A batch's offsets folded into a profile are mostly runs (a backend's batch of one person's events):
 * stored as ranges, `"0-99"` rather than a hundred numbers, which would push a profile that took a big
 * batch past one write unit for that write and the next. Read back in both forms.
 */
function offsetRanges(offsets: readonly number[]): string {
  const sorted = [...new Set(offsets)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(j === i ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
function offsetList(stored: unknown): number[] {
  if (Array.isArray(stored)) return stored as number[];
  if (typeof stored !== 'string' || stored === '') return [];
  return stored.split(',').flatMap((part) => {
    const [from, to] = part.split('-').map(Number) as [number, number | undefined];
    return to === undefined ? [from] : Array.from({ length: to - from + 1 }, (_, k) => from + k);
  });
}
const mapOffsets = <A, B>(
  applied: Record<string, Record<string, A>>,
  f: (offsets: A) => B,
): Record<string, Record<string, B>> =>
  Object.fromEntries(
    Object.entries(applied).map(([lane, batches]) => [
      lane,
      Object.fromEntries(Object.entries(batches).map(([batch, offsets]) => [batch, f(offsets)])),
    ]),
  );

/**
 * Events kept with the profile, packed as `[sourceId, expiresAt, event]` (names once, not per event);
 * a plain attribute (a hand repair) holds them as objects.
 */
function pendingEvents(stored: unknown): PendingEvent[] {
  if (!Array.isArray(stored)) return [];
  return stored.map((p) => {
    const [sourceId, expiresAt, event] = Array.isArray(p)
      ? (p as [unknown, unknown, unknown])
      : [(p as PendingEvent).sourceId, (p as PendingEvent).expiresAt, (p as PendingEvent).event];
    if (typeof sourceId !== 'string' || typeof expiresAt !== 'number')
      throw new Error('A profile keeps an event without its source or expiry');
    return { sourceId, expiresAt, event: TimelineEventSchema.parse(event) };
  });
}

function unpack(packed: unknown): Record<string, unknown> {
  const bytes = packed instanceof Uint8Array ? packed : undefined;
  if (!bytes || bytes[0] !== FORMAT_V1) throw new Error('Unknown packed profile format');
  const json = inflateRawSync(bytes.subarray(1), { dictionary: PROFILE_DICTIONARY });
  return JSON.parse(json.toString('utf8')) as Record<string, unknown>;
}

/**
 * The state a profile item holds, packed or plain (items written before packing, or by hand). A
 * redirect keeps the state it had when it was merged away; a tombstone redirect holds none (every field
 * undefined but the defaults below).
 */
export function stateFromItem(item: Item, options: { withoutTraits?: boolean } = {}): ProfileState {
  // Never a state without the traits it has: written back, it would lose them.
  if (item[TRAITS_REF_ATTRIBUTE] !== undefined && item.traits === undefined && !options.withoutTraits)
    throw new Error(`Profile item ${item.pk} read without its trait values`);
  const packed = item[PACKED_ATTRIBUTE] !== undefined ? unpack(item[PACKED_ATTRIBUTE]) : {};
  // A plain attribute wins over the packed field of the same name, whole (never merged into it): an
  // item of the plain layout has only those, and a hand repair or an update of one field (`SET traits
  // = :t`) on a packed item means what it says. The processor's next write packs the result.
  const state = Object.fromEntries(
    PLAIN_FIELDS.map((f) => [f, item[f] !== undefined ? item[f] : packed[f]]),
  ) as unknown as ProfileState;
  state.profileId = item.profileId as string;
  state.mergedFrom ??= [];
  // Items written before `applied` existed carried `recent`, which is simply dropped: a batch is only
  // ever delivered again while it is in flight, and those items were committed long before.
  state.applied = mapOffsets((state.applied ?? {}) as Record<string, Record<string, unknown>>, offsetList);
  state.recentHashes = splitHashes(state.recentHashes);
  const pending = pendingEvents(state.pending);
  if (pending.length) state.pending = pending;
  else delete state.pending;
  // Values kept beside the item (attached as the plain `traits`) and the numbers and flags it keeps
  // (`splitTraits`; names never in both), those last.
  if (item[TRAITS_REF_ATTRIBUTE] !== undefined && item.traits !== undefined && packed.traits)
    state.traits = {
      ...(item.traits as ProfileState['traits']),
      ...(packed.traits as ProfileState['traits']),
    };
  state.traits ??= {};
  state.traitMeta ??= {};
  // Traits stamped by the stamp most share (`sharedTraitStamp`), unless a plain attribute says otherwise.
  const shared = packed.traitStamp as Stamp | undefined;
  if (shared && item.traitMeta === undefined)
    for (const name of Object.keys(state.traits)) state.traitMeta[name] ??= shared;
  state.consentMeta ??= {};
  state.computedMeta ??= {};
  return state;
}
