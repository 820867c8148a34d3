import { type DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { ProfileReader } from '../../adapters/dynamodb/profile-reader.js';
import { DynamoProfileStore } from '../../adapters/dynamodb/profile-store.js';
import { DEFAULT_IDENTITY_CONFIG, type IdentityConfig } from '../../core/identity/identifiers.js';
import { PROFILES_TABLE, TIMELINE_TABLE } from '../../resources/tables.js';
import type { StandaloneDynamo } from './standalone-dynamo.js';

/** A DynamoDB command as a watcher of the store's calls sees it. */
export type WatchedCommand = { constructor: { name: string }; input: Record<string, unknown> };

/**
 * A profiles table and a timeline table named after `name`, with the store, reader and pipeline
 * dependencies on them (90 days of timeline, a 24-hour dedupe window), and a scan of either table.
 * `watch` sees every command the store sends, before it is sent.
 */
export async function profileTables(
  dynamo: StandaloneDynamo,
  name: string,
  options: {
    config?: IdentityConfig;
    watch?: (command: WatchedCommand) => void;
    /** The store's `keepLatestEvents` (default true): false for tests of timeline items themselves. */
    keepLatestEvents?: boolean;
  } = {},
) {
  const table = await dynamo.table(PROFILES_TABLE, name);
  const timelineTable = await dynamo.table(TIMELINE_TABLE, name);
  const watch = options.watch;
  const client = watch
    ? ({
        send: (command: WatchedCommand) => {
          watch(command);
          return dynamo.doc.send(command as never);
        },
      } as unknown as DynamoDBDocumentClient)
    : dynamo.doc;
  const store = new DynamoProfileStore(client, table, {
    timelineRetentionDays: 90,
    dedupeWindowHours: 24,
    timelineTable,
    ...(options.keepLatestEvents === undefined ? {} : { keepLatestEvents: options.keepLatestEvents }),
  });
  const reader = new ProfileReader(dynamo.doc, table, timelineTable);
  const deps = { graph: store, dedupe: store, config: options.config ?? DEFAULT_IDENTITY_CONFIG };
  const scan = async (t: string) => (await dynamo.doc.send(new ScanCommand({ TableName: t }))).Items ?? [];
  return { table, timelineTable, store, reader, deps, scan };
}
