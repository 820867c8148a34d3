import { AsyncLocalStorage } from 'node:async_hooks';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Records which AWS API calls each function makes, so the test suite can check them against the IAM
 * policies of the synthesized template (emulators do not enforce IAM). Off unless
 * `CDP_RECORD_AWS_CALLS` names a directory; only the local runtime and tests set it, never the stack.
 *
 * A record holds the service, the command and the resource-identifying fields of its input (table,
 * index, stream, bucket and key, queue, state machine, destination ids), never payloads: the lines
 * may be read by people and must not carry customer data.
 */
export const RECORD_ENV = 'CDP_RECORD_AWS_CALLS';

export interface RecordedCall {
  /** The function (resources/functions id) whose invocation made the call. */
  readonly functionId: string;
  /** SDK client name without `Client` (`DynamoDB`, `S3`, ...), or the outbox service name. */
  readonly service: string;
  /** Command name without `Command` (`PutItem`, `PutRecords`, ...). */
  readonly command: string;
  readonly resource: Record<string, unknown>;
}

const current = new AsyncLocalStorage<string>();

/** Runs `fn` as an invocation of `functionId`: calls made inside it are recorded for that function. */
export function invokedAs<T>(functionId: string, fn: () => T): T {
  return current.run(functionId, fn);
}

/** The function whose invocation is running (see `invokedAs`), if any. */
export function invokingFunction(): string | undefined {
  return current.getStore();
}

/** Input fields that name what a call touches; anything else (items, records, bodies) is dropped. */
const RESOURCE_FIELDS = new Set([
  'TableName',
  'IndexName',
  'StreamName',
  'StreamARN',
  'Bucket',
  'Key',
  'Prefix',
  'VersionId',
  'QueueUrl',
  'stateMachineArn',
  'executionArn',
  'ApplicationId',
  'ContactListName',
  'DomainName',
  'datasetArn',
  'datasetGroupArn',
  'trackingId',
  'roleArn',
  'EventBusName',
]);

export function resourceFieldsOf(input: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!input || typeof input !== 'object') return out;
  const record = input as Record<string, unknown>;
  for (const [k, v] of Object.entries(record))
    if (RESOURCE_FIELDS.has(k) && typeof v === 'string') out[k] = v;
  // Single-item DynamoDB calls: the partition key value, which IAM conditions on
  // `dynamodb:LeadingKeys` match (every table here has the partition key `pk`).
  for (const field of ['Key', 'Item']) {
    const pk = (record[field] as { pk?: unknown } | undefined)?.pk;
    // Only the key's kind (`CHANGES#…`): keys can hold identifiers, which recordings must never carry.
    if (typeof pk === 'string') out.LeadingKey = pk.replace(/#.*$/, '#…');
  }
  // Queries: the kinds of the keys their key condition names (`P#…`, `SEG#…`, `PROFILE`), which tell a
  // read of memberships from a read of a profile; kinds only, as above.
  if (typeof record.KeyConditionExpression === 'string' && record.ExpressionAttributeValues) {
    const values = record.ExpressionAttributeValues as Record<string, unknown>;
    const kinds = (record.KeyConditionExpression.match(/:[A-Za-z0-9_]+/g) ?? [])
      .map((name) => values[name])
      .filter((v): v is string => typeof v === 'string')
      .map((v) => v.replace(/#.*$/, '#…'));
    out.KeyKinds = [...new Set(kinds)].sort();
  }
  // Batch calls name their tables as the keys of RequestItems.
  if (record.RequestItems && typeof record.RequestItems === 'object')
    out.Tables = Object.keys(record.RequestItems as object);
  const objects = (record.Delete as { Objects?: Array<{ Key?: string }> } | undefined)?.Objects;
  if (objects) out.Keys = objects.map((o) => o.Key);
  // Pinpoint import jobs pass a role (iam:PassRole) inside the request.
  const importRole = (record.ImportJobRequest as { RoleArn?: unknown } | undefined)?.RoleArn;
  if (typeof importRole === 'string') out.roleArn = importRole;
  const entries = record.Entries as Array<{ EventBusName?: string }> | undefined;
  if (Array.isArray(entries))
    out.EventBusNames = [...new Set(entries.map((e) => e.EventBusName ?? 'default'))];
  return out;
}

/** Appends one call to this process's file, if recording is on and a function invocation is current. */
export function recordAwsCall(service: string, command: string, input: unknown): void {
  const dir = process.env[RECORD_ENV];
  const functionId = current.getStore();
  if (!dir || !functionId) return;
  mkdirSync(dir, { recursive: true });
  const call: RecordedCall = {
    functionId,
    service,
    command: command.replace(/Command$/, ''),
    resource: resourceFieldsOf(input),
  };
  appendFileSync(join(dir, `calls-${process.pid}.jsonl`), `${JSON.stringify(call)}\n`);
}

interface MiddlewareClient {
  middlewareStack: {
    add(
      middleware: (
        next: (args: { input: unknown }) => Promise<unknown>,
        context: { clientName?: string; commandName?: string },
      ) => (args: { input: unknown }) => Promise<unknown>,
      options: { step: 'initialize'; name: string },
    ): void;
  };
}

/**
 * Adds the recording middleware to a client when recording is on (checked once, at construction:
 * clients are built at cold start). Without `CDP_RECORD_AWS_CALLS` the client is returned untouched.
 */
export function withCallRecording<C>(client: C): C {
  if (!process.env[RECORD_ENV]) return client;
  (client as unknown as MiddlewareClient).middlewareStack.add(
    (next, context) => async (args) => {
      recordAwsCall(
        (context.clientName ?? 'Unknown').replace(/Client$/, ''),
        context.commandName ?? 'Unknown',
        args.input,
      );
      return next(args);
    },
    { step: 'initialize', name: 'cdpCallRecorder' },
  );
  return client;
}
