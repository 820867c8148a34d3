import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoDbDocumentClient } from '../../adapters/aws/clients.js';
import { SourceStore } from '../../adapters/dynamodb/source-store.js';
import { runCli } from '../../local/cli.js';
import { CONTROL_TABLE } from '../../resources/tables.js';
import { startTestCdp } from '../support/local-cdp.js';

let cdp: Awaited<ReturnType<typeof startTestCdp>>;
let source: string;
beforeAll(async () => {
  // Slices of one batch each, so a small file takes the state machine's loop several times.
  process.env.CDP_IMPORT_SLICE_SECONDS = '0';
  cdp = await startTestCdp();
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  const sources = new SourceStore(
    dynamoDbDocumentClient(
      new DynamoDBClient({ region: 'us-east-1', endpoint: cdp.endpoints.dynamodb, credentials }),
    ),
    CONTROL_TABLE.localName,
  );
  source = (await sources.createSource('POS')).source.sourceId;
}, 60_000);
afterAll(async () => {
  delete process.env.CDP_IMPORT_SLICE_SECONDS;
  await cdp?.cleanup();
});

describe('npm run cdp -- import', () => {
  it('imports a gzip JSON Lines file in several time slices, handing the cursor on, each row once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cdp-import-'));
    const lines = Array.from({ length: 1_234 }, (_, i) =>
      JSON.stringify({
        order: { id: `o${i}`, total: i % 10 },
        customer: i % 2 ? 'alice' : 'bob',
        at: 1767225600 + i,
      }),
    );
    lines.splice(600, 0, '{"broken json');
    writeFileSync(join(dir, 'orders.jsonl.gz'), gzipSync(`${lines.join('\n')}\n`));
    writeFileSync(
      join(dir, 'mapping.json'),
      JSON.stringify({
        type: 'track',
        userId: 'customer',
        event: 'Order Completed',
        timestamp: { column: 'at', format: 'unix' },
        properties: { order_id: 'order.id', total: { column: 'order.total', type: 'number' } },
      }),
    );
    const out: string[] = [];
    const code = await runCli(
      [
        'import',
        join(dir, 'orders.jsonl.gz'),
        '--source',
        source,
        '--mapping',
        join(dir, 'mapping.json'),
        '--data-dir',
        cdp.dataDir,
        '--json',
      ],
      (line) => out.push(line),
    );
    expect(out.at(-1)).toContain('succeeded');
    expect(code).toBe(0);
    const report = JSON.parse(out.at(-1)!);
    expect(report).toMatchObject({
      status: 'succeeded',
      rowsRead: 1_235,
      accepted: 1_234,
      refused: 1,
      lastRow: 1_235,
    });
    expect(report.slices).toBeGreaterThanOrEqual(3);
    expect(report.sampleErrors).toEqual([{ row: 601, field: 'row', rule: 'is not valid JSON' }]);

    await cdp.drain(60_000);
    const res = await fetch(`${cdp.apiUrl}/v1/profiles/user_id:alice`, {
      headers: { authorization: `Bearer ${cdp.adminKey}` },
    });
    const profile = (await res.json()) as { computed: { order_count: number; first_seen: string } };
    expect(profile.computed.order_count).toBe(617);
    expect(profile.computed.first_seen).toBe('2026-01-01T00:00:01.000Z');
  }, 180_000);

  it('says what is missing', async () => {
    const out: string[] = [];
    expect(
      await runCli(['import', 'nope.csv', '--source', source, '--data-dir', cdp.dataDir], (l) => out.push(l)),
    ).toBe(2);
    expect(out[0]).toBe('No file nope.csv');
  });
});
