import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { dynamoDbDocumentClient } from '../../adapters/aws/clients.js';
import type { TableDefinition } from '../../resources/tables.js';
import { createTable, createTables, markFreshTables } from '../bootstrap.js';
import { startDynalite } from './emulator.js';

/**
 * dynalite alone, in memory, with the CDP's tables: for tests and benchmarks that exercise DynamoDB
 * code without the rest of the runtime. `table(def, suffix)` creates extra copies of a table.
 */
export async function startStandaloneDynamo() {
  const logDir = mkdtempSync(join(tmpdir(), 'cdp-dynalite-'));
  const emulator = await startDynalite(undefined, logDir);
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: emulator.endpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 5,
  });
  const doc: DynamoDBDocumentClient = dynamoDbDocumentClient(client);
  await markFreshTables(client, await createTables(client));
  return {
    endpoint: emulator.endpoint,
    client,
    doc,
    async table(def: TableDefinition, suffix: string): Promise<string> {
      await createTable(client, { ...def, localName: `${def.localName}-${suffix}` });
      return `${def.localName}-${suffix}`;
    },
    async stop() {
      client.destroy();
      await emulator.stop();
      rmSync(logDir, { recursive: true, force: true });
    },
  };
}
