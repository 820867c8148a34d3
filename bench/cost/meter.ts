/**
 * Usage meter for the cost benchmark: SDK middleware on every client the handlers create (through
 * `meterClients` in `adapters/aws/clients.ts`) and a wrapper around every handler invocation. It
 * counts what AWS bills: DynamoDB capacity per table and index and per operation, Kinesis records and
 * bytes, S3 requests by price class, Lambda invocations and the time each one spends, log bytes.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type AttributeValue,
  BatchGetItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { ClientMeter } from '../../adapters/aws/clients.js';
import { type Item, itemSize, itemWriteUnits, type TableShape } from './capacity.js';

export interface CapacityTotals {
  requests: number;
  read: number;
  write: number;
}

export interface LambdaTotals {
  invocations: number;
  /** Wall time of the handler on this machine. */
  wallMs: number;
  /** Part of it spent waiting on an emulator (at least one SDK call in flight). */
  awaitMs: number;
  /**
   * Separate waits on each service (a run of overlapping calls is one wait), DynamoDB's per table
   * (`dynamodb:<table>`, the table of the call that started the wait).
   */
  waits: Record<string, number>;
}

/**
 * DynamoDB requests a handler makes once per invocation, however large its batch: the definition
 * counters it checks (`COUNTER` items) and the change log item it appends (`CHANGES/…`, the ids of the
 * batch's profiles). Counted in `dynamo` and `dynamoOps` too; kept apart so the model can price them at
 * the batch sizes Lambda makes (`rebatchConsumers`).
 */
export interface PerInvocationTotals {
  dynamo: Record<string, CapacityTotals>;
  dynamoOps: Record<string, CapacityTotals>;
  /** Bytes of the items these requests wrote, summed. */
  writtenBytes: number;
}

export interface Usage {
  /** Keyed by `table` or `table/index`. */
  dynamo: Record<string, CapacityTotals>;
  /** Keyed by operation (`PutItem`, `Query`, ...). */
  dynamoOps: Record<string, CapacityTotals>;
  /** Keyed by the function that made them. */
  perInvocation: Record<string, PerInvocationTotals>;
  /** `payloadUnits`: 25 KB units of each record, as a provisioned stream bills its PUTs. */
  kinesis: { records: number; bytes: number; billedBytes: number; payloadUnits: number };
  s3: { put: number; get: number; list: number; putBytes: number };
  lambda: Record<string, LambdaTotals>;
  logBytes: number;
  /** The part of `logBytes` each function's invocations wrote. */
  logBytesByFunction: Record<string, number>;
}

export const emptyUsage = (): Usage => ({
  dynamo: {},
  dynamoOps: {},
  perInvocation: {},
  kinesis: { records: 0, bytes: 0, billedBytes: 0, payloadUnits: 0 },
  s3: { put: 0, get: 0, list: 0, putBytes: 0 },
  lambda: {},
  logBytes: 0,
  logBytesByFunction: {},
});

interface Invocation {
  functionId: string;
  inFlight: number;
  since: number;
  totals: LambdaTotals;
}

const S3_PUT_CLASS = new Set([
  'PutObject',
  'CopyObject',
  'ListObjectsV2',
  'ListObjects',
  'CreateMultipartUpload',
  'UploadPart',
  'CompleteMultipartUpload',
]);
const S3_FREE = new Set(['DeleteObject', 'DeleteObjects', 'AbortMultipartUpload']);
/**
 * An item's kind: its sort key up to the first `#` (`PROFILE`, `ID`, `EV`, `M`, ...), or its partition
 * key's when the sort key is a time or a single letter.
 */
const itemKind = (key: Item) => {
  const prefix = (s: string | undefined) => s?.split('#')[0] ?? '';
  const sk = prefix(key.sk?.S);
  return /^[A-Za-z]{2,}$/.test(sk) ? sk : `${prefix(key.pk?.S)}/${sk.length === 1 ? sk : '…'}`;
};

/** Kinds of item a handler reads or writes once per invocation (see `PerInvocationTotals`). */
const PER_INVOCATION_KINDS = new Set(['COUNTER', 'CHANGES/…']);

/** A key attribute in AttributeValue form: the document client passes strings and numbers as they are. */
const attributeValue = (v: unknown): AttributeValue =>
  typeof v === 'string' ? { S: v } : typeof v === 'number' ? { N: String(v) } : (v as AttributeValue);

/** A key as the document client passes it, in AttributeValue form. */
const attributeValues = (key: Record<string, unknown>): Item =>
  Object.fromEntries(Object.entries(key).map(([k, v]) => [k, attributeValue(v)])) as Item;

const WRITE_OPS = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

// biome-ignore lint/suspicious/noExplicitAny: one middleware shape for the three clients' stacks
type Middleware = (next: any, context: any) => (args: any) => Promise<any>;

export class UsageMeter {
  usage: Usage = emptyUsage();
  /** While paused (loading the population) requests pass through uncounted, without extra reads. */
  paused = false;
  private readonly invocation = new AsyncLocalStorage<Invocation>();
  private readonly shapes = new Map<string, Promise<TableShape>>();
  private raw?: DynamoDBClient;

  /** `rawDynamoDb`: a client outside the meter for its own reads (default: from the environment). */
  constructor(private readonly rawDynamoDb: () => DynamoDBClient = () => new DynamoDBClient({})) {}

  reset(): Usage {
    const done = this.usage;
    this.usage = emptyUsage();
    return done;
  }

  /** For `startLocalCdp({ invocationHook })`: times each invocation and the waits inside it. */
  readonly invocationHook = async (functionId: string, event: unknown, invoke: () => Promise<unknown>) => {
    // Step Functions tasks name their step (the segment runner's plan, evaluate, finalize): kept apart.
    const step = (event as { step?: unknown } | null)?.step;
    const key = typeof step === 'string' ? `${functionId}:${step}` : functionId;
    this.usage.lambda[key] ??= { invocations: 0, wallMs: 0, awaitMs: 0, waits: {} };
    const totals = this.usage.lambda[key];
    const mine: LambdaTotals = { invocations: 1, wallMs: 0, awaitMs: 0, waits: {} };
    const start = performance.now();
    try {
      return await this.invocation.run({ functionId, inFlight: 0, since: 0, totals: mine }, invoke);
    } finally {
      mine.wallMs = performance.now() - start;
      totals.invocations += 1;
      totals.wallMs += mine.wallMs;
      totals.awaitMs += mine.awaitMs;
      for (const [service, n] of Object.entries(mine.waits))
        totals.waits[service] = (totals.waits[service] ?? 0) + n;
    }
  };

  /** For `meterClients`: adds the middleware of each service to a client the handlers create. */
  readonly clientMeter: ClientMeter = (service, client) => {
    const timed: Middleware = (next) => async (args) => {
      const inv = this.invocation.getStore();
      if (inv && inv.inFlight++ === 0) {
        inv.since = performance.now();
        // DynamoDB waits are kept per table (`dynamodb:cdp-control`): the model prices a segment
        // run's reads of its change log apart from its reads of the profiles it evaluates.
        const input = args.input as { TableName?: unknown; RequestItems?: object };
        const table =
          typeof input.TableName === 'string' ? input.TableName : Object.keys(input.RequestItems ?? {})[0];
        const key = service === 'dynamodb' && table ? `${service}:${table}` : service;
        inv.totals.waits[key] = (inv.totals.waits[key] ?? 0) + 1;
      }
      try {
        return await next(args);
      } finally {
        if (inv && --inv.inFlight === 0) inv.totals.awaitMs += performance.now() - inv.since;
      }
    };
    // biome-ignore lint/suspicious/noExplicitAny: the three clients' stacks differ only in their types
    const stack = client.middlewareStack as any;
    stack.add(timed, { step: 'initialize', priority: 'high', name: 'cdpCostTimer' });
    const counter: Middleware =
      service === 'dynamodb'
        ? this.dynamoMiddleware
        : service === 'kinesis'
          ? this.kinesisMiddleware
          : this.s3Middleware;
    stack.add(counter, { step: 'initialize', priority: 'low', name: 'cdpCostCounter' });
  };

  /** Bytes the handlers log (stdout and stderr), swallowed while a phase runs. */
  captureLogs(): () => void {
    const out = process.stdout.write;
    const err = process.stderr.write;
    const count = (chunk: unknown) => {
      const bytes = typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk as Uint8Array).byteLength;
      this.usage.logBytes += bytes;
      const functionId = this.invocation.getStore()?.functionId;
      if (functionId)
        this.usage.logBytesByFunction[functionId] = (this.usage.logBytesByFunction[functionId] ?? 0) + bytes;
      return true;
    };
    process.stdout.write = count as typeof process.stdout.write;
    process.stderr.write = count as typeof process.stderr.write;
    return () => {
      process.stdout.write = out;
      process.stderr.write = err;
    };
  }

  private add(key: string, map: Record<string, CapacityTotals>, read: number, write: number, requests = 0) {
    map[key] ??= { requests: 0, read: 0, write: 0 };
    const t = map[key];
    t.read += read;
    t.write += write;
    t.requests += requests;
  }

  /** Where a request's usage is also counted when the current invocation makes it once per batch. */
  private perInvocation(kinds: readonly string[]): PerInvocationTotals | undefined {
    const functionId = this.invocation.getStore()?.functionId;
    if (!functionId || kinds.length === 0 || !kinds.every((k) => PER_INVOCATION_KINDS.has(k)))
      return undefined;
    this.usage.perInvocation[functionId] ??= { dynamo: {}, dynamoOps: {}, writtenBytes: 0 };
    return this.usage.perInvocation[functionId];
  }

  private readonly dynamoMiddleware: Middleware = (next, context) => async (args) => {
    if (this.paused) return next(args);
    const command = String(context.commandName ?? '').replace(/Command$/, '');
    const input = args.input as Record<string, unknown>;
    // Reported per operation and table (`Query cdp-timeline`), so a cost is traced to its call.
    const tables =
      typeof input.TableName === 'string'
        ? [input.TableName]
        : Array.isArray(input.TransactItems)
          ? [
              ...new Set(
                (input.TransactItems as Array<Record<string, { TableName: string }>>).map(
                  (a) => Object.values(a)[0]!.TableName,
                ),
              ),
            ]
          : Object.keys((input.RequestItems ?? {}) as object);
    const op = tables.length ? `${command} ${tables.join('+')}` : command;
    input.ReturnConsumedCapacity = 'INDEXES';
    const isWrite =
      WRITE_OPS.has(command) || ['Put', 'Update', 'Delete', 'BatchWrite', 'TransactWrite'].includes(command);
    // A transactional write costs two units for every unit the same write costs outside one.
    const factor = command.startsWith('TransactWrite') ? 2 : 1;
    const keys = isWrite ? await this.writtenKeys(command, input) : [];
    const before = isWrite ? await this.items(keys) : [];
    let failed = false;
    try {
      const result = await next(args);
      if (!isWrite) {
        const key = command === 'GetItem' ? (input.Key as Record<string, unknown> | undefined) : undefined;
        this.recordReads(
          op,
          (result.output as { ConsumedCapacity?: unknown }).ConsumedCapacity,
          this.perInvocation(key ? [itemKind(attributeValues(key))] : []),
        );
      }
      return result;
    } catch (err) {
      failed = ['ConditionalCheckFailedException', 'TransactionCanceledException'].includes(
        (err as { name?: string }).name ?? '',
      );
      throw err;
    } finally {
      if (isWrite) {
        const after = failed ? before : await this.items(keys);
        // Writes are told apart by what they write too (`PutItem cdp-profiles PROFILE`, `... ID`).
        const kindList = [...new Set(keys.map((k) => itemKind(k.key)))].sort();
        const kinds = kindList.join('+');
        await this.recordWrites(
          `${op}${kinds ? ` ${kinds}` : ''}${failed ? ' (condition failed)' : ''}`,
          keys,
          before,
          after,
          failed,
          factor,
          this.perInvocation(kindList),
        );
      }
    }
  };

  private recordReads(op: string, consumed: unknown, also?: PerInvocationTotals) {
    const list = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) as Array<{
      TableName?: string;
      Table?: { CapacityUnits?: number };
      GlobalSecondaryIndexes?: Record<string, { CapacityUnits?: number }>;
    }>;
    let total = 0;
    for (const c of list) {
      const table = c.TableName ?? '?';
      this.add(table, this.usage.dynamo, c.Table?.CapacityUnits ?? 0, 0, 1);
      if (also) this.add(table, also.dynamo, c.Table?.CapacityUnits ?? 0, 0, 1);
      total += c.Table?.CapacityUnits ?? 0;
      for (const [index, v] of Object.entries(c.GlobalSecondaryIndexes ?? {})) {
        this.add(`${table}/${index}`, this.usage.dynamo, v.CapacityUnits ?? 0, 0, 1);
        total += v.CapacityUnits ?? 0;
      }
    }
    this.add(op, this.usage.dynamoOps, total, 0, 1);
    if (also) this.add(op, also.dynamoOps, total, 0, 1);
  }

  private async recordWrites(
    op: string,
    keys: ReadonlyArray<{ table: string; key: Item }>,
    before: ReadonlyArray<Item | undefined>,
    after: ReadonlyArray<Item | undefined>,
    failed: boolean,
    factor = 1,
    also?: PerInvocationTotals,
  ) {
    let total = 0;
    for (let i = 0; i < keys.length; i++) {
      const { table } = keys[i]!;
      const units = itemWriteUnits(before[i], after[i], await this.shape(table), { conditionFailed: failed });
      this.add(table, this.usage.dynamo, 0, factor * units.table, 1);
      if (also) this.add(table, also.dynamo, 0, factor * units.table, 1);
      total += factor * units.table;
      for (const [index, n] of Object.entries(units.indexes)) {
        this.add(`${table}/${index}`, this.usage.dynamo, 0, factor * n);
        if (also) this.add(`${table}/${index}`, also.dynamo, 0, factor * n);
        total += factor * n;
      }
      if (also && after[i]) also.writtenBytes += itemSize(after[i]!);
    }
    this.add(op, this.usage.dynamoOps, 0, total, 1);
    if (also) this.add(op, also.dynamoOps, 0, total, 1);
  }

  /** The keys a write touches, in AttributeValue form (the document client's input is plain JS). */
  private async writtenKeys(op: string, input: Record<string, unknown>) {
    const keyOf = async (table: string, item: Record<string, unknown>) => {
      const shape = await this.shape(table);
      return { table, key: Object.fromEntries(shape.keys.map((k) => [k, attributeValue(item[k])])) as Item };
    };
    if (op.startsWith('BatchWrite')) {
      const out: Array<{ table: string; key: Item }> = [];
      for (const [table, requests] of Object.entries(input.RequestItems as Record<string, unknown[]>))
        for (const r of requests as Array<{ PutRequest?: { Item: object }; DeleteRequest?: { Key: object } }>)
          out.push(
            await keyOf(table, (r.PutRequest?.Item ?? r.DeleteRequest?.Key) as Record<string, unknown>),
          );
      return out;
    }
    if (op.startsWith('TransactWrite')) {
      const out: Array<{ table: string; key: Item }> = [];
      for (const action of input.TransactItems as Array<Record<string, Record<string, unknown>>>) {
        const body = Object.values(action)[0]!;
        out.push(await keyOf(body.TableName as string, (body.Item ?? body.Key) as Record<string, unknown>));
      }
      return out;
    }
    const table = input.TableName as string;
    return [await keyOf(table, (input.Item ?? input.Key) as Record<string, unknown>)];
  }

  private client(): DynamoDBClient {
    this.raw ??= this.rawDynamoDb();
    return this.raw;
  }

  /** Strongly consistent reads of the items, outside the meter (they are not the CDP's requests). */
  private async items(keys: ReadonlyArray<{ table: string; key: Item }>): Promise<Array<Item | undefined>> {
    if (keys.length === 1) {
      const { table, key } = keys[0]!;
      const r = await this.client().send(
        new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }),
      );
      return [r.Item];
    }
    const found = new Map<string, Item>();
    const id = (table: string, key: Item) => `${table}|${JSON.stringify(Object.entries(key).sort())}`;
    for (let i = 0; i < keys.length; i += 100) {
      let request: Record<string, { Keys: Item[]; ConsistentRead: boolean }> = {};
      for (const { table, key } of keys.slice(i, i + 100)) {
        request[table] ??= { Keys: [], ConsistentRead: true };
        const entry = request[table];
        if (!entry.Keys.some((k) => JSON.stringify(k) === JSON.stringify(key))) entry.Keys.push(key);
      }
      while (Object.keys(request).length > 0) {
        const r = await this.client().send(new BatchGetItemCommand({ RequestItems: request }));
        for (const [table, items] of Object.entries(r.Responses ?? {}))
          for (const item of items) {
            const shape = await this.shape(table);
            found.set(id(table, Object.fromEntries(shape.keys.map((k) => [k, item[k]!]))), item);
          }
        request = (r.UnprocessedKeys ?? {}) as typeof request;
      }
    }
    return keys.map(({ table, key }) => found.get(id(table, key)));
  }

  /** Keys and index projections as the table has them (whatever layout is deployed). */
  private shape(table: string): Promise<TableShape> {
    if (!this.shapes.has(table))
      this.shapes.set(
        table,
        this.client()
          .send(new DescribeTableCommand({ TableName: table }))
          .then(({ Table }) => ({
            keys: (Table?.KeySchema ?? []).map((k) => k.AttributeName!),
            indexes: (Table?.GlobalSecondaryIndexes ?? []).map((g) => ({
              indexName: g.IndexName!,
              keys: (g.KeySchema ?? []).map((k) => k.AttributeName!),
              projection: (g.Projection?.ProjectionType ?? 'ALL') as 'ALL' | 'KEYS_ONLY' | 'INCLUDE',
              nonKeyAttributes: g.Projection?.NonKeyAttributes,
            })),
          })),
      );
    return this.shapes.get(table)!;
  }

  private readonly kinesisMiddleware: Middleware = (next, context) => async (args) => {
    const result = await next(args);
    const op = String(context.commandName ?? '');
    const input = args.input as {
      Records?: Array<{ Data?: Uint8Array; PartitionKey?: string }>;
      Data?: Uint8Array;
      PartitionKey?: string;
    };
    const output = result.output as { Records?: Array<{ ErrorCode?: string }> };
    const records =
      op === 'PutRecordsCommand'
        ? (input.Records ?? []).filter((_, i) => !output.Records?.[i]?.ErrorCode)
        : op === 'PutRecordCommand'
          ? [input]
          : [];
    for (const r of records) {
      // Billed size: the record (data and partition key) rounded up to the next 1 KB.
      const bytes = (r.Data?.byteLength ?? 0) + Buffer.byteLength(r.PartitionKey ?? '');
      this.usage.kinesis.records += 1;
      this.usage.kinesis.bytes += bytes;
      this.usage.kinesis.billedBytes += Math.ceil(bytes / 1024) * 1024;
      this.usage.kinesis.payloadUnits += Math.max(1, Math.ceil(bytes / (25 * 1024)));
    }
    return result;
  };

  private readonly s3Middleware: Middleware = (next, context) => async (args) => {
    const op = String(context.commandName ?? '').replace(/Command$/, '');
    const result = await next(args);
    if (op.startsWith('List')) this.usage.s3.list += 1;
    else if (S3_PUT_CLASS.has(op)) {
      this.usage.s3.put += 1;
      const body = (args.input as { Body?: unknown }).Body;
      if (body instanceof Uint8Array || typeof body === 'string')
        this.usage.s3.putBytes += Buffer.byteLength(body);
    } else if (!S3_FREE.has(op)) this.usage.s3.get += 1;
    return result;
  };
}
