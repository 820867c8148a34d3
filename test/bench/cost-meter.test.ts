import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoDbClient, dynamoDbDocumentClient, meterClients } from '../../adapters/aws/clients.js';
import { UsageMeter } from '../../bench/cost/meter.js';
import { startStandaloneDynamo } from '../../local/emulators/standalone.js';
import { PROFILES_TABLE } from '../../resources/tables.js';

/** The meter on a client from the shared factory, against dynalite with the CDP's profiles table. */
describe('usage meter', () => {
  let dynamo: Awaited<ReturnType<typeof startStandaloneDynamo>>;
  let meter: UsageMeter;
  let unmeter: () => void;
  const saved = { ...process.env };

  beforeAll(async () => {
    dynamo = await startStandaloneDynamo();
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    });
    meter = new UsageMeter(() => dynamo.client);
    unmeter = meterClients(meter.clientMeter);
  });

  afterAll(async () => {
    unmeter();
    process.env = saved;
    await dynamo.stop();
  });

  const table = PROFILES_TABLE.localName;
  const big = 'x'.repeat(2_500);

  it('charges writes to the table and to the index each item is projected into', async () => {
    const doc = dynamoDbDocumentClient(dynamoDbClient());
    meter.reset();
    await doc.send(
      new PutCommand({
        TableName: table,
        Item: { pk: 'P#1', sk: 'PROFILE', gsi1pk: 'P#1', gsi1sk: 'P', big },
      }),
    );
    // A timeline item has no index keys: the table only.
    await doc.send(new PutCommand({ TableName: table, Item: { pk: 'P#1', sk: 'EV#1', big } }));
    const usage = meter.reset();
    expect(usage.dynamo[table]).toMatchObject({ write: 6, requests: 2 });
    expect(usage.dynamo[`${table}/byProfile`]?.write).toBe(3);
    // Per operation, table and kind of item written (the sort key's prefix).
    expect(usage.dynamoOps[`PutItem ${table} PROFILE`]).toMatchObject({ requests: 1, write: 6 });
    expect(usage.dynamoOps[`PutItem ${table} EV`]).toMatchObject({ requests: 1, write: 3 });
  });

  it('charges an update the larger item, and a failed condition the table only', async () => {
    const doc = dynamoDbDocumentClient(dynamoDbClient());
    meter.reset();
    await doc.send(
      new UpdateCommand({
        TableName: table,
        Key: { pk: 'P#1', sk: 'PROFILE' },
        UpdateExpression: 'SET big = :s',
        ExpressionAttributeValues: { ':s': 'small' },
      }),
    );
    await expect(
      doc.send(
        new PutCommand({
          TableName: table,
          Item: { pk: 'P#1', sk: 'PROFILE', gsi1pk: 'P#1' },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    ).rejects.toThrow();
    const usage = meter.reset();
    // Update: 3 units (the item before), index 3 (its entry changed, the larger side). Failed put: 1.
    expect(usage.dynamo[table]?.write).toBe(3 + 1);
    expect(usage.dynamo[`${table}/byProfile`]?.write).toBe(3);
  });

  it('records the read capacity DynamoDB reports, for tables and indexes', async () => {
    const doc = dynamoDbDocumentClient(dynamoDbClient());
    meter.reset();
    await doc.send(new GetCommand({ TableName: table, Key: { pk: 'P#1', sk: 'EV#1' } }));
    await doc.send(
      new QueryCommand({
        TableName: table,
        IndexName: 'byProfile',
        KeyConditionExpression: 'gsi1pk = :p',
        ExpressionAttributeValues: { ':p': 'P#1' },
      }),
    );
    await doc.send(new DeleteCommand({ TableName: table, Key: { pk: 'P#1', sk: 'EV#1' } }));
    const usage = meter.reset();
    expect(usage.dynamo[table]?.read).toBe(0.5);
    expect(usage.dynamo[`${table}/byProfile`]?.read).toBe(0.5);
    expect(usage.dynamo[table]?.write).toBe(3);
    expect(usage.dynamoOps[`DeleteItem ${table} EV`]?.requests).toBe(1);
    expect(usage.dynamoOps[`GetItem ${table}`]?.requests).toBe(1);
  });

  it("keeps apart what an invocation reads and writes once per batch, by the function's id", async () => {
    const doc = dynamoDbDocumentClient(dynamoDbClient());
    await doc.send(
      new PutCommand({ TableName: table, Item: { pk: 'CHANGES#SEGMENTS', sk: 'COUNTER', v: 1 } }),
    );
    meter.reset();
    await meter.invocationHook('ProfileProcessor', {}, async () => {
      await doc.send(new GetCommand({ TableName: table, Key: { pk: 'CHANGES#SEGMENTS', sk: 'COUNTER' } }));
      await doc.send(
        new PutCommand({
          TableName: table,
          Item: { pk: 'CHANGES#1', sk: '2026-12-07T00:00:00.000Z#abc', ids: 'p1 p2 p3' },
        }),
      );
      // A profile read and write grow with the batch: not once per invocation.
      await doc.send(new GetCommand({ TableName: table, Key: { pk: 'P#1', sk: 'PROFILE' } }));
      await doc.send(new PutCommand({ TableName: table, Item: { pk: 'P#2', sk: 'PROFILE' } }));
    });
    // Outside an invocation (a test's or the bench's own reads): never per invocation.
    await doc.send(new GetCommand({ TableName: table, Key: { pk: 'CHANGES#SEGMENTS', sk: 'COUNTER' } }));
    const usage = meter.reset();
    const once = usage.perInvocation.ProfileProcessor!;
    expect(Object.keys(usage.perInvocation)).toEqual(['ProfileProcessor']);
    expect(once.dynamoOps[`GetItem ${table}`]).toEqual({ requests: 1, read: 0.5, write: 0 });
    expect(once.dynamoOps[`PutItem ${table} CHANGES/…`]).toEqual({ requests: 1, read: 0, write: 1 });
    expect(once.dynamo[table]).toEqual({ requests: 2, read: 0.5, write: 1 });
    expect(once.writtenBytes).toBeGreaterThan(40);
    expect(once.writtenBytes).toBeLessThan(1024);
    // All of it is in the totals too.
    expect(usage.dynamoOps[`GetItem ${table}`]?.requests).toBe(3);
    expect(usage.dynamo[table]).toMatchObject({ write: 2 });
  });

  it('leaves clients alone once unregistered', async () => {
    unmeter();
    const doc = dynamoDbDocumentClient(dynamoDbClient());
    meter.reset();
    await doc.send(new GetCommand({ TableName: table, Key: { pk: 'P#1', sk: 'PROFILE' } }));
    expect(meter.reset().dynamo).toEqual({});
    unmeter = meterClients(meter.clientMeter);
  });
});
