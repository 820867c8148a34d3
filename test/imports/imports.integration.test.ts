import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoDbDocumentClient } from '../../adapters/aws/clients.js';
import { SourceStore } from '../../adapters/dynamodb/source-store.js';
import { IMPORTS_BUCKET } from '../../resources/buckets.js';
import { CONTROL_TABLE } from '../../resources/tables.js';
import { postJson, startTestCdp } from '../support/local-cdp.js';

let cdp: Awaited<ReturnType<typeof startTestCdp>>;
let s3: S3Client;
let crm: string;
let pos: string;
beforeAll(async () => {
  cdp = await startTestCdp();
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  s3 = new S3Client({ region: 'us-east-1', endpoint: cdp.endpoints.s3, credentials, forcePathStyle: true });
  const sources = new SourceStore(
    dynamoDbDocumentClient(
      new DynamoDBClient({ region: 'us-east-1', endpoint: cdp.endpoints.dynamodb, credentials }),
    ),
    CONTROL_TABLE.localName,
  );
  crm = (await sources.createSource('CRM')).source.sourceId;
  pos = (await sources.createSource('Stores')).source.sourceId;
}, 60_000);
afterAll(async () => cdp?.cleanup());

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many shapes, asserted field by field
type Body = Record<string, any>;
const admin = async (method: string, path: string, body?: string | Buffer, type = 'application/json') => {
  const res = await fetch(`${cdp.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${cdp.adminKey}`, 'content-type': type },
    body,
  });
  return { status: res.status, body: (await res.json()) as Body };
};

const CONTACTS_MAPPING = {
  type: 'identify',
  userId: 'crm_id',
  timestamp: { column: 'updated_at', format: 'dd/MM/yyyy' },
  traits: { email: 'email', first_name: 'first_name', vip: { column: 'vip', type: 'boolean' } },
};
const PURCHASES_MAPPING = {
  type: 'track',
  userId: { column: 'customer_id', required: true },
  event: 'Order Completed',
  timestamp: { column: 'purchased_at' },
  properties: { order_id: 'receipt', total: { column: 'total', type: 'number' }, store: 'store' },
  constants: { properties: { channel: 'store' } },
};

async function waitFor(importId: string): Promise<Body> {
  for (let i = 0; i < 100; i++) {
    await cdp.drain(30_000);
    const { body } = await admin('GET', `/v1/imports/${importId}`);
    if (body.status === 'succeeded' || body.status === 'failed') return body;
  }
  throw new Error(`import ${importId} did not finish`);
}

describe('file imports through the local runtime', () => {
  it('refuses an invalid mapping naming the field and rule, and an upload before a mapping exists', async () => {
    const bad = await admin(
      'PUT',
      `/v1/sources/${crm}/import-mapping`,
      JSON.stringify({ type: 'track', userId: 'id' }),
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues).toContainEqual({ field: 'event', rule: 'is required for track mappings' });
    const early = await admin(
      'POST',
      `/v1/imports?sourceId=${crm}&filename=c.csv`,
      'crm_id\n1\n',
      'text/csv',
    );
    expect(early.status).toBe(409);
    expect((await admin('PUT', '/v1/sources/nope/import-mapping', '{}')).status).toBe(404);
    const type = await admin('POST', `/v1/imports?sourceId=${crm}&filename=c.xlsx`, 'x', 'text/csv');
    expect(type.status).toBe(400);
    expect(type.body.error.issues[0].field).toBe('filename');
  });

  it('imports CRM contacts (API upload) and store purchases (file dropped in the bucket) into one profile with web events', async () => {
    expect(
      (await admin('PUT', `/v1/sources/${crm}/import-mapping`, JSON.stringify(CONTACTS_MAPPING))).status,
    ).toBe(200);
    expect(
      (await admin('PUT', `/v1/sources/${pos}/import-mapping`, JSON.stringify(PURCHASES_MAPPING))).status,
    ).toBe(200);
    // The person browsed the web shop first.
    const web = await postJson(cdp, '/v1/track', {
      userId: 'C-1001',
      event: 'Product Viewed',
      timestamp: '2026-01-02T09:00:00Z',
    });
    expect(web.status).toBe(200);

    const contacts =
      '\uFEFFcrm_id,email,first_name,vip,updated_at\r\n' +
      'C-1001,ada@example.com,"Ada, Countess",yes,01/01/2026\r\n' +
      'C-1002,bob@example.com,Bob,maybe,02/01/2026\r\n' +
      ',nobody@example.com,Nobody,no,03/01/2026\r\n';
    const up = await admin('POST', `/v1/imports?sourceId=${crm}&filename=contacts.csv`, contacts, 'text/csv');
    expect(up.status).toBe(202);
    const report = await waitFor(up.body.importId);
    expect(report).toMatchObject({
      status: 'succeeded',
      rowsRead: 3,
      accepted: 1,
      refused: 2,
      duplicates: 0,
    });
    expect(report.sampleErrors).toEqual([
      { row: 2, column: 'vip', field: 'traits.vip', rule: 'must be a boolean (true/false, yes/no, 1/0)' },
      { row: 3, column: 'crm_id', field: 'userId', rule: 'userId or anonymousId is required' },
    ]);
    // The errors file sits beside the file, with rows, columns and rules but no cell values.
    const errorsFile = await s3.send(
      new GetObjectCommand({ Bucket: IMPORTS_BUCKET.localName, Key: report.errorFiles[0] }),
    );
    const errorsText = await errorsFile.Body!.transformToString();
    expect(
      errorsText
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual(report.sampleErrors);
    expect(errorsText).not.toContain('nobody@example.com');

    const purchases =
      'receipt,customer_id,total,store,purchased_at\n' +
      'R-1,C-1001,59.90,London,2026-01-05T12:00:00Z\n' +
      'R-2,C-1001,20,Leeds,2026-01-06T12:00:00Z\n' +
      'R-3,C-1002,not-a-number,Leeds,2026-01-06T13:00:00Z\n';
    await s3.send(
      new PutObjectCommand({
        Bucket: IMPORTS_BUCKET.localName,
        Key: `imports/${pos}/2026-01/purchases.csv`,
        Body: purchases,
      }),
    );
    await cdp.drain(30_000);
    const list = await admin('GET', `/v1/imports?sourceId=${pos}`);
    expect(list.body.imports).toHaveLength(1);
    const posReport = await waitFor(list.body.imports[0].importId);
    expect(posReport).toMatchObject({ status: 'succeeded', rowsRead: 3, accepted: 2, refused: 1 });
    expect(posReport.sampleErrors[0]).toEqual({
      row: 3,
      column: 'total',
      field: 'properties.total',
      rule: 'must be a number',
    });

    await cdp.drain(30_000);
    const profile = await admin('GET', '/v1/profiles/email:ada@example.com');
    expect(profile.status).toBe(200);
    expect(profile.body.traits).toMatchObject({
      email: 'ada@example.com',
      first_name: 'Ada, Countess',
      vip: true,
    });
    expect(profile.body.computed).toMatchObject({ order_count: 2, total_revenue: 79.9 });
    const events = await admin('GET', '/v1/profiles/user_id:C-1001/events?limit=10');
    const names = events.body.events.map((e: Body) => e.event ?? e.type);
    expect(names).toEqual(expect.arrayContaining(['Product Viewed', 'Order Completed', 'identify']));

    // The same file again: a duplicate, nothing sent twice.
    const again = await admin(
      'POST',
      `/v1/imports?sourceId=${crm}&filename=contacts.csv`,
      contacts,
      'text/csv',
    );
    expect(again.body).toMatchObject({ importId: up.body.importId, duplicate: true });
    expect((await admin('GET', `/v1/imports/${up.body.importId}`)).body).toMatchObject({
      duplicates: 3,
      reimports: 1,
    });
    await cdp.drain(30_000);
    const after = await admin('GET', '/v1/profiles/user_id:C-1001');
    expect(after.body.computed).toMatchObject({ order_count: 2, total_revenue: 79.9 });
  }, 120_000);

  it('fails a file that does not fit its mapping or its name, with the reason, importing nothing', async () => {
    await s3.send(
      new PutObjectCommand({
        Bucket: IMPORTS_BUCKET.localName,
        Key: `imports/${pos}/wrong-columns.csv`,
        Body: 'id,amount\n1,2\n',
      }),
    );
    await s3.send(
      new PutObjectCommand({
        Bucket: IMPORTS_BUCKET.localName,
        Key: `imports/${pos}/fake.parquet`,
        Body: 'a,b\n1,2\n',
      }),
    );
    await s3.send(
      new PutObjectCommand({
        Bucket: IMPORTS_BUCKET.localName,
        Key: `imports/unknown-source/x.csv`,
        Body: 'a\n1\n',
      }),
    );
    await cdp.drain(30_000);
    const { body } = await admin('GET', '/v1/imports?limit=20');
    const byKey = new Map<string, Body>(body.imports.map((i: Body) => [i.key, i]));
    const wrong = await waitFor(byKey.get(`imports/${pos}/wrong-columns.csv`)!.importId);
    expect(wrong).toMatchObject({ status: 'failed', accepted: 0 });
    expect(wrong.error).toMatch(
      /"customer_id", "receipt", "total", "store", "purchased_at" that the header does not have \(it has 2 columns: id, amount\)/,
    );
    const fake = await waitFor(byKey.get(`imports/${pos}/fake.parquet`)!.importId);
    expect(fake.error).toMatch(/not a Parquet file/);
    expect(byKey.get('imports/unknown-source/x.csv')).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/no source unknown-source/),
    });
    expect((await admin('GET', '/v1/imports/imp_nothing')).status).toBe(404);
  }, 60_000);
});
