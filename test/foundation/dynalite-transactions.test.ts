import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoDbDocumentClient } from '../../adapters/aws/clients.js';
import { startDynalite } from '../../local/emulators/emulator.js';
import { startStandaloneDynamo } from '../../local/emulators/standalone.js';
import { CONTROL_TABLE } from '../../resources/tables.js';

// The local DynamoDB's TransactWriteItems (local/emulators/dynalite-transactions.cjs), held to what the
// identity graph relies on in DynamoDB.
let dynamo: Awaited<ReturnType<typeof startStandaloneDynamo>>;
let table: string;
beforeAll(async () => {
  dynamo = await startStandaloneDynamo();
  table = await dynamo.table(CONTROL_TABLE, 'tx');
}, 60_000);
afterAll(async () => dynamo?.stop());

type Actions = NonNullable<TransactWriteCommandInput['TransactItems']>;
const key = (id: string) => ({ pk: `T#${id}`, sk: 'T' });
const get = async (id: string) =>
  (await dynamo.doc.send(new GetCommand({ TableName: table, Key: key(id), ConsistentRead: true }))).Item;
const transact = (TransactItems: Actions) =>
  dynamo.doc.send(new TransactWriteCommand({ TransactItems, ReturnConsumedCapacity: 'TOTAL' }));

describe('TransactWriteItems on the local DynamoDB', () => {
  it('applies every action, reports twice the write units, and a check leaves no item', async () => {
    await dynamo.doc.send(new PutCommand({ TableName: table, Item: { ...key('a'), n: 1 } }));
    const out = await transact([
      {
        Put: {
          TableName: table,
          Item: { ...key('b'), n: 1 },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Update: {
          TableName: table,
          Key: key('a'),
          UpdateExpression: 'SET n = :two',
          ConditionExpression: 'n = :one',
          ExpressionAttributeValues: { ':one': 1, ':two': 2 },
        },
      },
      {
        ConditionCheck: { TableName: table, Key: key('c'), ConditionExpression: 'attribute_not_exists(pk)' },
      },
    ]);
    expect((await get('a'))?.n).toBe(2);
    expect((await get('b'))?.n).toBe(1);
    expect(await get('c')).toBeUndefined();
    expect(out.ConsumedCapacity?.[0]?.CapacityUnits).toBe(6);
  });

  it('applies nothing when one condition fails, with a reason per action', async () => {
    await dynamo.doc.send(new PutCommand({ TableName: table, Item: { ...key('d'), n: 1 } }));
    const failed = await transact([
      { Put: { TableName: table, Item: { ...key('e'), n: 1 } } },
      { Delete: { TableName: table, Key: key('d') } },
      {
        Update: {
          TableName: table,
          Key: key('d2'),
          UpdateExpression: 'SET n = :n',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':n': 5 },
        },
      },
    ]).catch((err) => err);
    expect(failed.name).toBe('TransactionCanceledException');
    expect(failed.CancellationReasons.map((r: { Code: string }) => r.Code)).toEqual([
      'None',
      'None',
      'ConditionalCheckFailed',
    ]);
    expect(await get('e')).toBeUndefined();
    expect((await get('d'))?.n).toBe(1);
    expect(await get('d2')).toBeUndefined();
  });

  it('reports only real reasons for the actions after a failed one', async () => {
    await dynamo.doc.send(new PutCommand({ TableName: table, Item: { ...key('k'), n: 1 } }));
    const failed = await transact([
      {
        ConditionCheck: { TableName: table, Key: key('k'), ConditionExpression: 'attribute_not_exists(pk)' },
      },
      {
        Update: {
          TableName: table,
          Key: key('k2'),
          UpdateExpression: 'SET n = :n, m = :m',
          ConditionExpression: 'attribute_not_exists(n) OR n = :n',
          ExpressionAttributeValues: { ':n': 1, ':m': 2 },
        },
      },
    ]).catch((err) => err);
    expect(failed.CancellationReasons.map((r: { Code: string }) => r.Code)).toEqual([
      'ConditionalCheckFailed',
      'None',
    ]);
    expect(await get('k2')).toBeUndefined();
  });

  it('refuses two actions on one item, and more than 100 actions', async () => {
    const twice = await transact([
      { Put: { TableName: table, Item: { ...key('f'), n: 1 } } },
      { Delete: { TableName: table, Key: key('f') } },
    ]).catch((err) => err);
    expect(twice.name).toBe('ValidationException');
    const many = await transact(
      Array.from({ length: 101 }, (_, i) => ({ Put: { TableName: table, Item: { ...key(`m${i}`) } } })),
    ).catch((err) => err);
    expect(many.name).toBe('ValidationException');
    expect(await get('f')).toBeUndefined();
    expect(await get('m0')).toBeUndefined();
  });

  it('cancels with a validation reason when an item cannot be stored', async () => {
    const failed = await transact([
      { Put: { TableName: table, Item: { ...key('g'), n: 1 } } },
      { Put: { TableName: table, Item: { ...key('h'), blob: 'x'.repeat(401 * 1024) } } },
    ]).catch((err) => err);
    expect(failed.name).toBe('TransactionCanceledException');
    expect(failed.CancellationReasons[1].Code).toBe('ValidationError');
    expect(await get('g')).toBeUndefined();
  });

  it('is never seen half-applied by concurrent readers', async () => {
    // Two accounts; every transaction moves one unit between them. Every consistent read of both must
    // see the same total, however reads and transactions interleave.
    await dynamo.doc.send(new PutCommand({ TableName: table, Item: { ...key('x'), n: 100 } }));
    await dynamo.doc.send(new PutCommand({ TableName: table, Item: { ...key('y'), n: 100 } }));
    const move = (from: string, to: string) =>
      transact([
        {
          Update: {
            TableName: table,
            Key: key(from),
            UpdateExpression: 'SET n = n - :one',
            ExpressionAttributeValues: { ':one': 1 },
          },
        },
        {
          Update: {
            TableName: table,
            Key: key(to),
            UpdateExpression: 'SET n = n + :one',
            ExpressionAttributeValues: { ':one': 1 },
          },
        },
      ]);
    const totals: number[] = [];
    const reads = async () => {
      for (let i = 0; i < 40; i++) {
        const r = await dynamo.doc.send(
          new BatchGetCommand({
            RequestItems: { [table]: { Keys: [key('x'), key('y')], ConsistentRead: true } },
          }),
        );
        totals.push((r.Responses?.[table] ?? []).reduce((n, item) => n + (item.n as number), 0));
      }
    };
    await Promise.all([
      reads(),
      ...Array.from({ length: 30 }, (_, i) => (i % 2 ? move('x', 'y') : move('y', 'x'))),
      reads(),
    ]);
    expect(totals).toHaveLength(80);
    expect(new Set(totals)).toEqual(new Set([200]));
  });

  it('rolls back, at the next start, a transaction the process died in the middle of', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cdp-tx-journal-'));
    const logs = mkdtempSync(join(tmpdir(), 'cdp-tx-logs-'));
    const open = async () => {
      const emulator = await startDynalite(dir, logs);
      const client = new DynamoDBClient({
        region: 'us-east-1',
        endpoint: emulator.endpoint,
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      });
      return { emulator, client, doc: dynamoDbDocumentClient(client) };
    };
    try {
      let db = await open();
      const { createTable } = await import('../../local/bootstrap.js');
      await createTable(db.client, { ...CONTROL_TABLE, localName: 'journal' });
      // What a transaction left when its process was killed: its first write done, its second not.
      await db.doc.send(new PutCommand({ TableName: 'journal', Item: { ...key('p'), n: 2 } }));
      await db.doc.send(new PutCommand({ TableName: 'journal', Item: { ...key('q'), n: 1 } }));
      db.client.destroy();
      await db.emulator.stop();
      writeFileSync(
        join(dir, 'transaction-journal.json'),
        JSON.stringify({
          headers: {
            authorization:
              'AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
            'x-amz-date': '20260101T000000Z',
            'content-type': 'application/x-amz-json-1.0',
          },
          entries: [
            { table: 'journal', key: key('p'), item: { ...key('p'), n: 1 } },
            { table: 'journal', key: key('q') },
          ].map((e) => ({
            ...e,
            key: Object.fromEntries(Object.entries(e.key).map(([k, v]) => [k, { S: v }])),
            ...(e.item
              ? {
                  item: Object.fromEntries(
                    Object.entries(e.item).map(([k, v]) => [
                      k,
                      typeof v === 'number' ? { N: String(v) } : { S: v },
                    ]),
                  ),
                }
              : {}),
          })),
        }),
      );
      db = await open();
      const read = async (id: string) =>
        (await db.doc.send(new GetCommand({ TableName: 'journal', Key: key(id), ConsistentRead: true })))
          .Item;
      expect((await read('p'))?.n).toBe(1);
      expect(await read('q')).toBeUndefined();
      db.client.destroy();
      await db.emulator.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(logs, { recursive: true, force: true });
    }
  });
});
