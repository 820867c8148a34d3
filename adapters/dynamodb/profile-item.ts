import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { ProfileState } from '../../core/profiles/state.js';
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
const DICTIONARY_V1 = Buffer.from(
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
  'activity',
] as const;

/** The attributes of a profile item for this state (keys and `version` are the caller's). */
export function profileAttributes(state: ProfileState): Record<string, unknown> {
  const { profileId, ...rest } = state;
  const json = Buffer.from(JSON.stringify(rest), 'utf8');
  const body = deflateRawSync(json, { level: 9, dictionary: DICTIONARY_V1 });
  return { profileId, [PACKED_ATTRIBUTE]: Buffer.concat([Buffer.of(FORMAT_V1), body]) };
}

function unpack(packed: unknown): Record<string, unknown> {
  const bytes = packed instanceof Uint8Array ? packed : undefined;
  if (!bytes || bytes[0] !== FORMAT_V1) throw new Error('Unknown packed profile format');
  const json = inflateRawSync(bytes.subarray(1), { dictionary: DICTIONARY_V1 });
  return JSON.parse(json.toString('utf8')) as Record<string, unknown>;
}

/**
 * The state a profile item holds, packed or plain (items written before packing, or by hand). A
 * redirect keeps the state it had when it was merged away; a tombstone redirect holds none (every field
 * undefined but the defaults below).
 */
export function stateFromItem(item: Item): ProfileState {
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
  state.applied ??= {};
  state.recentHashes ??= [];
  state.traitMeta ??= {};
  state.consentMeta ??= {};
  state.computedMeta ??= {};
  return state;
}
