import { setTimeout as sleep } from 'node:timers/promises';
import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { inParallel } from '../../core/shared/concurrency.js';
import { type Item, requestCounter } from './batch.js';
import { TRAITS_SK, withTraitValues } from './profile-item.js';
import { keys } from './profile-keys.js';

/** Reads of a profile that met a trait change half way, before giving up. */
const MAX_ATTEMPTS = 6;
/** Profile reads in flight at once (the SDK's default agent keeps 50 sockets). */
const PARALLEL_READS = 32;

/**
 * A profile item (live or redirect) with its trait values attached, or undefined when there is none.
 * One Query takes the profile item and the trait values item beside it (`PROFILE` and
 * `PROFILE#TRAITS` sort together), billed by their bytes together: the price of reading one item.
 * The two are written in one transaction, but a read is not isolated from it: one that finds the
 * values of another write reads again, consistently.
 */
export async function readProfileItem(
  ddb: DynamoDBDocumentClient,
  table: string,
  profileId: string,
  consistent: boolean,
): Promise<Item | undefined> {
  for (let attempt = 1; ; attempt++) {
    requestCounter.count++;
    const res = await ddb.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :profile AND :traits',
        ExpressionAttributeValues: {
          ':pk': keys.profilePk(profileId),
          ':profile': 'PROFILE',
          ':traits': TRAITS_SK,
        },
        ConsistentRead: consistent || attempt > 1,
      }),
    );
    const items = (res.Items ?? []) as Item[];
    const profile = items.find((i) => i.sk === 'PROFILE');
    if (!profile) return undefined;
    const whole = withTraitValues(profile, items);
    if (whole) return whole;
    if (attempt >= MAX_ATTEMPTS)
      throw new Error(`Profile ${profileId}: its trait values item is not the one it names`);
    await sleep(Math.random() * 10 * 2 ** attempt);
  }
}

/** `readProfileItem` for several profiles at once, by profile id (those that exist). */
export async function readProfileItems(
  ddb: DynamoDBDocumentClient,
  table: string,
  profileIds: Iterable<string>,
  consistent: boolean,
): Promise<Map<string, Item>> {
  const out = new Map<string, Item>();
  // One request per profile (a BatchGetItem took 100): DynamoDB bills reads by bytes, not requests, and
  // a Query of both items costs what the profile item alone did, where a second round for the values
  // would cost half a read unit more per person. Enough at once that a batch's few hundred people
  // take a handful of round trips.
  await inParallel(
    [...new Set(profileIds)],
    async (id) => {
      const item = await readProfileItem(ddb, table, id, consistent);
      if (item) out.set(id, item);
    },
    PARALLEL_READS,
  );
  return out;
}

/**
 * Profile items of a scan page with their trait values attached: from the values items the page holds
 * (`valuesByPk`), else read again whole (the page ended between the two, or met a transaction half
 * way). A profile deleted since is left out.
 */
export async function withTraitsFromPage(
  ddb: DynamoDBDocumentClient,
  table: string,
  profiles: readonly Item[],
  valuesByPk: ReadonlyMap<string, readonly Item[]>,
): Promise<Item[]> {
  const out: Array<Item | undefined> = profiles.map((p) => withTraitValues(p, valuesByPk.get(p.pk) ?? []));
  const missing = out.flatMap((item, i) => (item === undefined ? [i] : []));
  await inParallel(missing, async (i) => {
    out[i] = await readProfileItem(ddb, table, profiles[i]!.pk.slice('P#'.length), false);
  });
  return out.filter((i): i is Item => i !== undefined);
}
