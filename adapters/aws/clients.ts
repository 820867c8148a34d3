import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { RECORD_ENV, withCallRecording } from './call-recorder.js';

export { withCallRecording };

/**
 * AWS clients, configured the same way on AWS and locally. Endpoints come from the SDK's standard
 * `AWS_ENDPOINT_URL_<SERVICE>` variables, which only the local runtime sets; nothing here knows
 * whether it talks to AWS or to an emulator. Under test (`CDP_RECORD_AWS_CALLS`) every client also
 * records the calls it makes, which the IAM sufficiency test checks against the stack's policies.
 */

export const keepAlive = () => new NodeHttpHandler({ connectionTimeout: 3_000, requestTimeout: 10_000 });

export type MeteredService = 'dynamodb' | 'kinesis' | 's3';
/** Called with every client this factory creates (see `meterClients`). */
export type ClientMeter = (
  service: MeteredService,
  client: DynamoDBClient | KinesisClient | S3Client,
) => void;

const meters: ClientMeter[] = [];
/** Bumped whenever a meter is added or removed: clients built before do not carry it. */
let meterGeneration = 0;

/**
 * One client per service and settings in a process. Handlers and the listeners they build asked for
 * their own (the profile processor built four DynamoDB and three S3 clients); each costs 2-5 ms of
 * cold start and opens its own connections. A client is built again when what it was built from
 * changes: the SDK's `AWS_*` variables (endpoints, region, credentials: the local runtime and tests
 * set them), call recording, the registered meters or Kinesis plugins.
 */
const built = new Map<string, unknown>();
const objectIds = new WeakMap<object, number>();
let lastObjectId = 0;
const idOf = (o: object) => {
  if (!objectIds.has(o)) objectIds.set(o, ++lastObjectId);
  return objectIds.get(o)!;
};
export function shared<C>(name: string, build: () => C): C {
  // Names first, then the values of the few that matter: reading every variable's value (each a call
  // into the process environment) was most of this key's cost, paid by every client asked for at import.
  const env = Object.keys(process.env)
    .filter((k) => k.startsWith('AWS_') || k === RECORD_ENV)
    .sort()
    .map((k) => [k, process.env[k]]);
  const key = JSON.stringify([name, env, meterGeneration, kinesisClientPlugins.map(idOf)]);
  if (!built.has(key)) built.set(key, build());
  return built.get(key) as C;
}

/**
 * Lets the cost benchmark (`bench/cost.ts`) attach its usage middleware to every client the handlers
 * create, so it counts the requests they really make. Nothing registers a meter on AWS or in
 * `npm start`; with none registered the factory returns plain clients. Returns an unregister function.
 */
export function meterClients(meter: ClientMeter): () => void {
  meters.push(meter);
  meterGeneration++;
  return () => {
    const i = meters.indexOf(meter);
    if (i >= 0) meters.splice(i, 1);
    meterGeneration++;
  };
}

export function metered<C extends DynamoDBClient | KinesisClient | S3Client>(
  service: MeteredService,
  client: C,
): C {
  for (const meter of meters) meter(service, client);
  return client;
}

export function dynamoDbClient(): DynamoDBClient {
  return shared('dynamodb', () =>
    withCallRecording(
      metered('dynamodb', new DynamoDBClient({ requestHandler: keepAlive(), maxAttempts: 5 })),
    ),
  );
}

/**
 * Document client that drops `undefined` (optional fields) and converts class instances as maps; the
 * process's shared one unless given the client to wrap.
 */
export function dynamoDbDocumentClient(client?: DynamoDBClient): DynamoDBDocumentClient {
  const wrap = (c: DynamoDBClient) =>
    DynamoDBDocumentClient.from(c, {
      marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: true },
    });
  return client ? wrap(client) : shared('dynamodb-document', () => wrap(dynamoDbClient()));
}

/**
 * Kinesis over HTTP/1.1: the SDK defaults to HTTP/2 for this service, which we never need (no
 * SubscribeToShard) and which kinesis-local cannot speak.
 */
export function kinesisClient(): KinesisClient {
  return shared('kinesis', () => {
    const client = withCallRecording(
      metered('kinesis', new KinesisClient({ requestHandler: keepAlive(), maxAttempts: 3 })),
    );
    for (const plugin of kinesisClientPlugins) client.middlewareStack.use(plugin);
    return client;
  });
}

/**
 * Plugins added to every Kinesis client created after they are registered. Empty on AWS; the local
 * runtime registers its write-ahead journal here (`local/stream-journal.ts`), because kinesis-local
 * only saves its data once a second.
 */
export const kinesisClientPlugins: KinesisClientPlugin[] = [];
export type KinesisClientPlugin = Parameters<KinesisClient['middlewareStack']['use']>[0];

export function sfnClient(): SFNClient {
  return shared('sfn', () => withCallRecording(new SFNClient({})));
}

/** CloudWatch, for the console's overview (`GetMetricData`); there is no emulator, nothing uses it locally. */
export function cloudWatchClient(): CloudWatchClient {
  return shared('cloudwatch', () => withCallRecording(new CloudWatchClient({ maxAttempts: 3 })));
}
