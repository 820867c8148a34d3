import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { withCallRecording } from './call-recorder.js';

export { withCallRecording };

/**
 * AWS clients, configured the same way on AWS and locally. Endpoints come from the SDK's standard
 * `AWS_ENDPOINT_URL_<SERVICE>` variables, which only the local runtime sets; nothing here knows
 * whether it talks to AWS or to an emulator. Under test (`CDP_RECORD_AWS_CALLS`) every client also
 * records the calls it makes, which the IAM sufficiency test checks against the stack's policies.
 */

const keepAlive = () => new NodeHttpHandler({ connectionTimeout: 3_000, requestTimeout: 10_000 });

export type MeteredService = 'dynamodb' | 'kinesis' | 's3';
/** Called with every client this factory creates (see `meterClients`). */
export type ClientMeter = (
  service: MeteredService,
  client: DynamoDBClient | KinesisClient | S3Client,
) => void;

const meters: ClientMeter[] = [];

/**
 * Lets the cost benchmark (`bench/cost.ts`) attach its usage middleware to every client the handlers
 * create, so it counts the requests they really make. Nothing registers a meter on AWS or in
 * `npm start`; with none registered the factory returns plain clients. Returns an unregister function.
 */
export function meterClients(meter: ClientMeter): () => void {
  meters.push(meter);
  return () => {
    const i = meters.indexOf(meter);
    if (i >= 0) meters.splice(i, 1);
  };
}

function metered<C extends DynamoDBClient | KinesisClient | S3Client>(service: MeteredService, client: C): C {
  for (const meter of meters) meter(service, client);
  return client;
}

export function dynamoDbClient(): DynamoDBClient {
  return withCallRecording(
    metered('dynamodb', new DynamoDBClient({ requestHandler: keepAlive(), maxAttempts: 5 })),
  );
}

/** Document client that drops `undefined` (optional fields) and converts class instances as maps. */
export function dynamoDbDocumentClient(client: DynamoDBClient = dynamoDbClient()): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: true },
  });
}

/**
 * Kinesis over HTTP/1.1: the SDK defaults to HTTP/2 for this service, which we never need (no
 * SubscribeToShard) and which kinesis-local cannot speak.
 */
export function kinesisClient(): KinesisClient {
  const client = withCallRecording(
    metered('kinesis', new KinesisClient({ requestHandler: keepAlive(), maxAttempts: 3 })),
  );
  for (const plugin of kinesisClientPlugins) client.middlewareStack.use(plugin);
  return client;
}

/**
 * Plugins added to every Kinesis client created after they are registered. Empty on AWS; the local
 * runtime registers its write-ahead journal here (`local/stream-journal.ts`), because kinesis-local
 * only saves its data once a second.
 */
export const kinesisClientPlugins: KinesisClientPlugin[] = [];
export type KinesisClientPlugin = Parameters<KinesisClient['middlewareStack']['use']>[0];

/** Path-style addressing when an endpoint override is set (s3rver has no virtual-host buckets). */
export function s3Client(env: Record<string, string | undefined> = process.env): S3Client {
  return withCallRecording(
    metered(
      's3',
      new S3Client({
        requestHandler: keepAlive(),
        forcePathStyle: Boolean(env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL),
      }),
    ),
  );
}

export function sfnClient(): SFNClient {
  return withCallRecording(new SFNClient({}));
}

export function sqsClient(): SQSClient {
  return withCallRecording(new SQSClient({}));
}

/** CloudWatch, for the console's overview (`GetMetricData`); there is no emulator, nothing uses it locally. */
export function cloudWatchClient(): CloudWatchClient {
  return withCallRecording(new CloudWatchClient({ maxAttempts: 3 }));
}
