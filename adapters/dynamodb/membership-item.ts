import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { StoredMembership } from '../../core/segments/engine.js';
import type { MembershipState } from '../../core/segments/membership.js';
import { queryAll } from './batch.js';

/** Sort key prefix of a membership item under its profile (`P#<profileId>` / `SEG#<segmentId>`). */
export const MEMBERSHIP_SK_PREFIX = 'SEG#';

/**
 * A membership lives in its profile's partition, so one Query reads all of a person's memberships
 * (and, from `PROFILE` on, the profile too); its `byProfile` index keys list a segment's members.
 */
export const membershipKey = (segmentId: string, profileId: string) => ({
  pk: `P#${profileId}`,
  sk: `${MEMBERSHIP_SK_PREFIX}${segmentId}`,
});

export const membershipIndexKeys = (segmentId: string, profileId: string) => ({
  gsi1pk: `SEG#${segmentId}`,
  gsi1sk: `M#${profileId}`,
});

/** Keys of the layout before memberships moved under their profile (read until migrated). */
export const legacyMembershipKey = (segmentId: string, profileId: string) => ({
  pk: `SEG#${segmentId}`,
  sk: `M#${profileId}`,
});

export const isMembershipItem = (item: Record<string, unknown>): boolean =>
  typeof item.pk === 'string' &&
  item.pk.startsWith('P#') &&
  typeof item.sk === 'string' &&
  item.sk.startsWith(MEMBERSHIP_SK_PREFIX);

export function membershipState(i: Record<string, unknown>): MembershipState {
  return {
    status: i.status as 'member' | 'former',
    generation: i.generation as number,
    enteredAt: i.enteredAt as string,
    exitedAt: i.exitedAt as string | undefined,
    contentHash: i.contentHash as string | undefined,
  };
}

export const storedMembership = (i: Record<string, unknown>): StoredMembership => ({
  segmentId: i.segmentId as string,
  profileId: i.profileId as string,
  state: membershipState(i),
});

/** The attributes a membership item carries besides its keys, in either layout. */
export const MEMBERSHIP_ATTRIBUTES = [
  'segmentId',
  'profileId',
  'status',
  'generation',
  'enteredAt',
  'exitedAt',
  'contentHash',
] as const;

/**
 * Every membership item of one profile: one Query of its partition from `SEG#` on, which costs one
 * read unit (half when eventually consistent) per 4 KB of them, however many segments there are.
 */
export async function queryMembershipsOf(
  ddb: DynamoDBDocumentClient,
  table: string,
  profileId: string,
  consistent: boolean,
): Promise<StoredMembership[]> {
  const items = await queryAll(ddb, {
    TableName: table,
    KeyConditionExpression: 'pk = :p AND begins_with(sk, :s)',
    ExpressionAttributeValues: { ':p': `P#${profileId}`, ':s': MEMBERSHIP_SK_PREFIX },
    ConsistentRead: consistent,
  });
  return items.map(storedMembership);
}
