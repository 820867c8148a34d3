import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { ProfileReader } from '../../adapters/dynamodb/profile-reader.js';
import { DynamoProfileStore } from '../../adapters/dynamodb/profile-store.js';
import { DEFAULT_IDENTITY_CONFIG } from '../../core/identity/identifiers.js';
import { PROFILES_TABLE, TIMELINE_TABLE } from '../../resources/tables.js';
import type { StandaloneDynamo } from './standalone-dynamo.js';

/**
 * A profiles table and a timeline table named after `name`, with the store, reader and pipeline
 * dependencies on them (90 days of timeline, a 24-hour dedupe window), and a scan of either table.
 */
export async function profileTables(dynamo: StandaloneDynamo, name: string) {
  const table = await dynamo.table(PROFILES_TABLE, name);
  const timelineTable = await dynamo.table(TIMELINE_TABLE, name);
  const store = new DynamoProfileStore(dynamo.doc, table, {
    timelineRetentionDays: 90,
    dedupeWindowHours: 24,
    timelineTable,
  });
  const reader = new ProfileReader(dynamo.doc, table, timelineTable);
  const deps = { graph: store, dedupe: store, config: DEFAULT_IDENTITY_CONFIG };
  const scan = async (t: string) => (await dynamo.doc.send(new ScanCommand({ TableName: t }))).Items ?? [];
  return { table, timelineTable, store, reader, deps, scan };
}
