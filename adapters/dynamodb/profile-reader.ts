import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Identity, Profile, TimelineEvent } from '../../core/profiles/profile.js';
import { type ProfileState, toProfile } from '../../core/profiles/state.js';
import type { StoredMembership } from '../../core/segments/engine.js';
import type { KnownMemberships } from '../../core/segments/known-memberships.js';
import type { Item } from './batch.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { keptEntries } from './latest-events.js';
import {
  isMembershipItem,
  MEMBERSHIP_SK_PREFIX,
  queryMembershipsOf,
  storedMembership,
} from './membership-item.js';
import { stateFromItem, TRAITS_SK } from './profile-item.js';
import { keys } from './profile-keys.js';
import { readProfileItem, withTraitsFromPage } from './profile-read.js';
import { newestFirstDistinct } from './timeline-item.js';
import { inTimelineRange, newestTimelineItems } from './timeline-query.js';

export interface ScanOptions {
  readonly segment?: number;
  readonly totalSegments?: number;
  readonly cursor?: string;
  readonly limit?: number;
}

/** A merged-away profile as its redirect keeps it. */
export interface Redirect {
  readonly profile: Profile;
  readonly into: string;
  readonly mergedAt?: string;
}

export interface Page<T> {
  readonly items: T[];
  readonly cursor?: string;
}

/**
 * Read side of the profiles table, for the Profile API, segmentation and governance. Every read of a
 * profile id follows `mergedInto` redirects to the surviving profile.
 */
export class ProfileReader {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
    /** Where timeline events are (default: the profiles table itself, as tests and old layouts have it). */
    private readonly timelineTable: string = table,
  ) {}

  /** The live profile state for a profile id (following redirects), or undefined. */
  async getState(profileId: string): Promise<ProfileState | undefined> {
    let id = profileId;
    for (let hops = 0; hops < 64; hops++) {
      const item = await readProfileItem(this.ddb, this.table, id, true);
      if (!item) return undefined;
      if (!item.mergedInto) return stateFromItem(item);
      id = item.mergedInto as string;
    }
    throw new Error(`Redirect chain too long at ${profileId}`);
  }

  async getProfile(profileId: string): Promise<Profile | undefined> {
    const state = await this.getState(profileId);
    return state && toProfile(state);
  }

  /** The profile id an identifier belongs to (before following redirects), or undefined. */
  async resolveIdentity(type: string, value: string): Promise<string | undefined> {
    const { Item } = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: keys.identity({ type, value }), ConsistentRead: true }),
    );
    return Item?.profileId as string | undefined;
  }

  /** Profile id or `type:value` → live profile state. */
  async find(ref: string | Identity): Promise<ProfileState | undefined> {
    if (typeof ref === 'string') return this.getState(ref);
    const id = await this.resolveIdentity(ref.type, ref.value);
    return id ? this.getState(id) : undefined;
  }

  /**
   * Timeline, newest first, across the profile and every profile merged into it (their events stay
   * under their own keys), with the latest events the profile keeps itself. The cursor is the last event key (`EV#<time>#<messageId>`) returned.
   */
  async listTimeline(
    state: ProfileState,
    options: { limit?: number; cursor?: string } = {},
  ): Promise<Page<TimelineEvent>> {
    const limit = Math.min(Math.max(options.limit ?? 25, 1), 100);
    const before = decodeCursor<unknown>(options.cursor);
    if (before !== undefined && (typeof before !== 'string' || !/^EV#[^#]+#/.test(before)))
      throw new RangeError('The cursor is not valid');
    const ids = [state.profileId, ...state.mergedFrom];
    const range = { ...(before !== undefined ? { below: before } : {}), want: limit };
    const lists = await Promise.all(
      ids.map((id) => newestTimelineItems(this.ddb, this.timelineTable, id, range)),
    );
    const merged = newestFirstDistinct(
      lists.map((l) => l.items),
      keptEntries(state),
    ).filter((e) => inTimelineRange(range, e));
    const page = merged.slice(0, limit);
    return {
      items: page.map((e) => e.event),
      ...(merged.length > limit || (page.length > 0 && lists.some((l) => l.more))
        ? { cursor: encodeCursor(page.at(-1)!.key) }
        : {}),
    };
  }

  /** The whole timeline (up to `max` events, newest first), for event conditions in segments. */
  async fullTimeline(state: ProfileState, max = 1000): Promise<TimelineEvent[]> {
    const out: TimelineEvent[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.listTimeline(state, { limit: 100, cursor });
      out.push(...page.items);
      cursor = page.cursor;
    } while (cursor && out.length < max);
    return out.slice(0, max);
  }

  async listMerges(state: ProfileState): Promise<Record<string, unknown>[]> {
    const ids = [state.profileId, ...state.mergedFrom];
    const lists = await Promise.all(
      ids.map((id) =>
        this.ddb.send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :m)',
            ExpressionAttributeValues: { ':pk': keys.profilePk(id), ':m': 'MERGE#' },
          }),
        ),
      ),
    );
    return lists
      .flatMap((r) => r.Items ?? [])
      .map(({ pk: _pk, sk: _sk, recordedAt: _r, ...rest }) => rest)
      .sort((a, b) => ((a.at as string) < (b.at as string) ? -1 : 1));
  }

  /** Live profiles, one parallel-scan segment at a time (for batch segmentation and sweeps). */
  async scanProfiles(options: ScanOptions = {}): Promise<Page<Profile>> {
    const page = await this.scanStates(options);
    return { ...page, items: page.items.map(toProfile) };
  }

  /** Like scanProfiles, with the stored state (e.g. `mergedFrom`, to read a merged timeline). */
  async scanStates(options: ScanOptions = {}): Promise<Page<ProfileState>> {
    const { items, cursor } = await this.scanProfileItems(
      '(sk = :s AND attribute_not_exists(mergedInto)) OR sk = :traits',
      {},
      options,
      { ':traits': TRAITS_SK },
    );
    const { profiles, values } = splitTraitValues(items);
    const whole = await withTraitsFromPage(this.ddb, this.table, profiles, values);
    return {
      items: whole.filter((i) => !i.mergedInto).map((i) => stateFromItem(i)),
      ...(cursor ? { cursor } : {}),
    };
  }

  /** DynamoDB's own count of the table's items (updated about every six hours): enough to size a scan. */
  async approximateItemCount(): Promise<number> {
    const { Table } = await this.ddb.send(new DescribeTableCommand({ TableName: this.table }));
    return Table?.ItemCount ?? 0;
  }

  /**
   * Like scanStates, and in the same pass the merged-away profiles (redirects, with the data they kept)
   * that do not carry the attribute `unlessMarked` yet: batch segment runs sweep their memberships until
   * they mark them settled. Parallel-scan segments split live profiles and redirects alike.
   *
   * Also the memberships of every profile of the page: the scan reads them anyway (they follow the
   * `PROFILE` item in its partition, `SEG#` > `PROFILE`), so a run needs no second read for them. Only
   * the page's last profile may have more on the next page: that one is completed with a Query.
   */
  async scanStatesAndRedirects(
    options: ScanOptions & { unlessMarked: string },
  ): Promise<Page<ProfileState> & { redirects: Redirect[]; memberships: KnownMemberships }> {
    const page = await this.scanProfileItems(
      '(sk = :s AND (attribute_not_exists(mergedInto) OR attribute_not_exists(#marked))) OR begins_with(sk, :seg) OR sk = :traits',
      { '#marked': options.unlessMarked },
      options,
      { ':seg': MEMBERSHIP_SK_PREFIX, ':traits': TRAITS_SK },
    );
    const { cursor, lastKey } = page;
    // Profile items with their trait values (which sort right after them), in the page's order.
    const { profiles, values } = splitTraitValues(page.items);
    const whole = new Map(
      (await withTraitsFromPage(this.ddb, this.table, profiles, values)).map((i) => [i.pk, i]),
    );
    const items = page.items.flatMap((i) =>
      i.sk === TRAITS_SK ? [] : i.sk === 'PROFILE' ? (whole.has(i.pk) ? [whole.get(i.pk)!] : []) : [i],
    );
    const live: ProfileState[] = [];
    const redirects: Redirect[] = [];
    const memberships = new Map<string, StoredMembership[]>();
    // Membership items before the page's first profile item belong to the previous page's last
    // profile (completed there), and those of a settled redirect are not read: both are skipped.
    let held: StoredMembership[] | undefined;
    let heldPk: string | undefined;
    for (const item of items) {
      if (item.sk !== 'PROFILE') {
        if (item.pk === heldPk && isMembershipItem(item)) held!.push(storedMembership(item));
        continue;
      }
      const profileId = item.pk.slice('P#'.length);
      held = [];
      heldPk = item.pk;
      memberships.set(profileId, held);
      if (!item.mergedInto) {
        live.push(stateFromItem(item));
        continue;
      }
      // A tombstone redirect (written where a profile was still being created) holds no data at all.
      const state = stateFromItem(item);
      redirects.push({
        profile: toProfile({
          ...state,
          profileId: state.profileId ?? profileId,
          traits: state.traits ?? {},
          consent: state.consent ?? {},
          identities: state.identities ?? [],
        }),
        into: item.mergedInto as string,
        ...(typeof item.mergedAt === 'string' ? { mergedAt: item.mergedAt } : {}),
      });
    }
    if (heldPk !== undefined && lastKey?.pk === heldPk) {
      const profileId = heldPk.slice('P#'.length);
      // Eventually consistent, as the scan itself is.
      memberships.set(profileId, await queryMembershipsOf(this.ddb, this.table, profileId, false));
    }
    return { items: live, redirects, memberships, ...(cursor ? { cursor } : {}) };
  }

  private async scanProfileItems(
    filter: string,
    names: Record<string, string>,
    options: ScanOptions,
    values: Record<string, string> = {},
  ): Promise<{ items: Item[]; cursor?: string; lastKey?: Record<string, unknown> }> {
    const res = await this.ddb.send(
      new ScanCommand({
        TableName: this.table,
        FilterExpression: filter,
        ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
        ExpressionAttributeValues: { ':s': 'PROFILE', ...values },
        ...(options.totalSegments
          ? { Segment: options.segment ?? 0, TotalSegments: options.totalSegments }
          : {}),
        ExclusiveStartKey: decodeCursor(options.cursor),
        Limit: options.limit ?? 1000,
      }),
    );
    return {
      items: (res.Items ?? []) as Item[],
      ...(res.LastEvaluatedKey
        ? { cursor: encodeCursor(res.LastEvaluatedKey), lastKey: res.LastEvaluatedKey }
        : {}),
    };
  }
}

/** A scan page's profile items, and its trait values items by partition. */
function splitTraitValues(items: readonly Item[]): { profiles: Item[]; values: Map<string, Item[]> } {
  const values = new Map<string, Item[]>();
  for (const i of items) if (i.sk === TRAITS_SK) values.set(i.pk, [...(values.get(i.pk) ?? []), i]);
  return { profiles: items.filter((i) => i.sk === 'PROFILE'), values };
}
