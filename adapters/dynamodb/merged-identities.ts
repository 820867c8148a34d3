import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod/mini';
import { type Identity, IdentitySchema } from '../../core/profiles/profile.js';
import '../../core/shared/zod.js';
import { batchGet } from './batch.js';
import { stateFromItem } from './profile-item.js';
import { keys } from './profile-keys.js';

/** A merged-away profile as its redirect keeps it: the identifiers it held and where it went. */
export interface MergedProfileIdentities {
  readonly profileId: string;
  readonly identities: Identity[];
  readonly mergedInto?: string;
  readonly mergedAt?: string;
}

/** A 360 view draws at most this many merged profiles; a person merged more often shows the first ones. */
export const MAX_MERGED_PROFILES = 100;

/**
 * Read side only, for the identity graph of the 360 view: which identifiers each merged-away profile
 * brought, read from the redirects the stream processor leaves (it keeps their data there). One
 * BatchGetItem per 100 profiles; nothing is written.
 */
export async function readMergedIdentities(
  ddb: DynamoDBDocumentClient,
  table: string,
  profileIds: readonly string[],
): Promise<MergedProfileIdentities[]> {
  const wanted = profileIds.slice(0, MAX_MERGED_PROFILES);
  if (!wanted.length) return [];
  const items = await batchGet(ddb, table, wanted.map(keys.profile));
  const byId = new Map(items.map((i) => [i.pk.slice('P#'.length), i]));
  return wanted.flatMap((profileId) => {
    const item = byId.get(profileId);
    if (!item) return [];
    // The profile's data is packed; `stateFromItem` reads packed and plain layouts alike.
    const identities = z
      .array(IdentitySchema)
      .safeParse(stateFromItem(item, { withoutTraits: true }).identities ?? []);
    return [
      {
        profileId,
        identities: identities.success ? identities.data : [],
        ...(typeof item.mergedInto === 'string' ? { mergedInto: item.mergedInto } : {}),
        ...(typeof item.mergedAt === 'string' ? { mergedAt: item.mergedAt } : {}),
      },
    ];
  });
}
