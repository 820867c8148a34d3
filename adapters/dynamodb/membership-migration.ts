import { type DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { inParallel } from '../../core/shared/concurrency.js';
import { LegacyMemberships } from './legacy-memberships.js';

export interface MembershipMigrationCounts {
  /** Profiles-table items the scan read (what it is billed for). */
  scanned: number;
  /** Old-layout memberships found. */
  found: number;
  /** Copied to their new key. */
  copied: number;
  /** Not copied: a newer item of the current layout was already there (the old one is deleted all the same). */
  superseded: number;
}

/**
 * Moves every membership of the old layout (`SEG#<segmentId>` / `M#<profileId>`) under its profile
 * (`P#<profileId>` / `SEG#<segmentId>`): a conditional put of the new key, so a newer item written by
 * this version is never overwritten, then a delete of the old one. Every step can be repeated, so an
 * interrupted migration is resumed by running it again (what is moved is gone from the old keys). Once
 * a whole scan has finished, the control table is marked migrated, and readers stop looking at the
 * old layout.
 */
export async function migrateMemberships(
  ddb: DynamoDBDocumentClient,
  tables: { profiles: string; control: string },
  options: {
    /** Parallel-scan segments read at once. */
    segments?: number;
    onProgress?: (counts: Readonly<MembershipMigrationCounts>) => void;
    now?: () => Date;
  } = {},
): Promise<MembershipMigrationCounts> {
  const legacy = new LegacyMemberships(ddb, tables.profiles, tables.control);
  const counts: MembershipMigrationCounts = { scanned: 0, found: 0, copied: 0, superseded: 0 };
  const totalSegments = Math.max(1, options.segments ?? 4);
  await inParallel(
    Array.from({ length: totalSegments }, (_, i) => i),
    async (segment) => {
      let ExclusiveStartKey: Record<string, unknown> | undefined;
      do {
        const page = await ddb.send(
          new ScanCommand({
            TableName: tables.profiles,
            FilterExpression: 'begins_with(pk, :seg) AND begins_with(sk, :m)',
            ExpressionAttributeValues: { ':seg': 'SEG#', ':m': 'M#' },
            Segment: segment,
            TotalSegments: totalSegments,
            ExclusiveStartKey,
          }),
        );
        counts.scanned += page.ScannedCount ?? 0;
        const items = page.Items ?? [];
        counts.found += items.length;
        await inParallel(items, async (item) => {
          if (await legacy.moveToCurrent(item)) counts.copied++;
          else counts.superseded++;
        });
        options.onProgress?.(counts);
        ExclusiveStartKey = page.LastEvaluatedKey;
      } while (ExclusiveStartKey);
    },
    totalSegments,
  );
  await legacy.markMigrated((options.now ?? (() => new Date()))(), { ...counts });
  return counts;
}
