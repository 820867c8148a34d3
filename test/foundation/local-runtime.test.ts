import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchInfo } from '../../local/kinesis-poller.js';
import { TABLES } from '../../resources/tables.js';
import { postJson, startTestCdp } from '../support/local-cdp.js';

describe('local runtime', () => {
  let cdp: Awaited<ReturnType<typeof startTestCdp>>;
  const batches: BatchInfo[] = [];

  beforeAll(async () => {
    cdp = await startTestCdp();
    cdp.events.on('batch', (b: BatchInfo) => batches.push(b));
  });
  afterAll(async () => {
    await cdp?.cleanup();
  });

  it('serves on loopback and writes local.json for scripts', () => {
    expect(cdp.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    for (const endpoint of Object.values(cdp.endpoints))
      expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const info = JSON.parse(readFileSync(join(cdp.dataDir, 'local.json'), 'utf8'));
    expect(info).toEqual({
      apiUrl: cdp.apiUrl,
      writeKey: cdp.writeKey,
      adminKey: cdp.adminKey,
      dataDir: cdp.dataDir,
      consoleUrl: `${cdp.apiUrl}/`,
      consoleAdmin: { username: 'admin', password: expect.any(String) },
      endpoints: cdp.endpoints,
    });
  });

  it('creates every table from the shared definitions, with the same keys and indexes', async () => {
    const ddb = new DynamoDBClient({
      endpoint: cdp.endpoints.dynamodb,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    for (const def of TABLES) {
      const { Table } = await ddb.send(new DescribeTableCommand({ TableName: def.localName }));
      expect(Table?.KeySchema).toEqual([
        { AttributeName: def.partitionKey.name, KeyType: 'HASH' },
        { AttributeName: def.sortKey.name, KeyType: 'RANGE' },
      ]);
      expect((Table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName).sort()).toEqual(
        def.globalSecondaryIndexes.map((i) => i.indexName).sort(),
      );
    }
  });

  it('carries an event from the HTTP API through Kinesis to the stream handler', async () => {
    const res = await postJson(cdp, '/v1/track', { userId: 'foundation-user', event: 'Frame Tested' });
    expect(res).toMatchObject({ status: 200, body: { success: true } });
    await cdp.drain();
    const handled = batches.filter((b) => b.consumerId === 'ProfileProcessor');
    expect(handled.reduce((n, b) => n + b.records, 0)).toBeGreaterThanOrEqual(1);
    expect(handled.every((b) => b.failures === 0)).toBe(true);
  });

  it('answers 401 without a write key and 404 for unknown routes', async () => {
    const noKey = await fetch(`${cdp.apiUrl}/v1/track`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(noKey.status).toBe(401);
    const unknown = await fetch(`${cdp.apiUrl}/v1/nothing`, { method: 'POST', body: '{}' });
    expect(unknown.status).toBe(404);
  });

  it('keeps data under its data directory', () => {
    expect(existsSync(join(cdp.dataDir, 's3'))).toBe(true);
    expect(existsSync(join(cdp.dataDir, 'checkpoints', 'ProfileProcessor.json'))).toBe(true);
  });
});
