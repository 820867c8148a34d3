import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { invokedAs } from '../adapters/aws/call-recorder.js';
import { dynamoDbDocumentClient, kinesisClientPlugins } from '../adapters/aws/clients.js';
import { SourceStore } from '../adapters/dynamodb/source-store.js';
import { regulationRunDefinition } from '../core/govern/run-definition.js';
import { importRunDefinition } from '../core/imports/run-definition.js';
import { replayRunDefinition } from '../core/replay/run-definition.js';
import { segmentRunDefinition } from '../core/segments/run-definition.js';
import { IMPORTS_BUCKET } from '../resources/buckets.js';
import { CONSOLE_DIST_DIR } from '../resources/console.js';
import {
  ACTIVATION_FUNCTION,
  FUNCTIONS,
  IMPORT_RUN_STATE_MACHINE,
  IMPORT_RUNNER_FUNCTION,
  IMPORT_TRIGGER_FUNCTION,
  LAKE_COMPACTION_SCHEDULE_MINUTES,
  LAKE_COMPACTOR_FUNCTION,
  localFunctionArn,
  REGULATION_RUN_STATE_MACHINE,
  REGULATION_RUNNER_FUNCTION,
  REPLAY_RUN_STATE_MACHINE,
  REPLAY_RUNNER_FUNCTION_ID,
  ROUTES,
  SEGMENT_RUN_STATE_MACHINE,
  SEGMENT_RUNNER_FUNCTION,
  STREAM_CONSUMERS,
} from '../resources/functions/index.js';
import { DELTA_QUEUES } from '../resources/queues.js';
import { STREAMS } from '../resources/streams.js';
import { CONTROL_TABLE } from '../resources/tables.js';
import { bootstrapResources } from './bootstrap.js';
import { createConsoleServer } from './console-server.js';
import { ensureFirstAdmin } from './console-users.js';
import { LocalDeltaQueue } from './delta-queue.js';
import { type Emulator, startDynalite, startKinesis, startS3rver } from './emulators/emulator.js';
import { localEnvironment } from './environment.js';
import { createHttpAdapter, type HttpHandler } from './http-adapter.js';
import { ImportWatcher } from './import-watcher.js';
import {
  type BatchInfo,
  KinesisPoller,
  readCheckpoints,
  type StreamHandler,
  writeCheckpoints,
} from './kinesis-poller.js';
import { lambdaContext } from './lambda-context.js';
import { LocalMetricsStore } from './metrics-store.js';
import { LocalStepFunctions } from './step-functions.js';
import { StreamJournal } from './stream-journal.js';
import './polyfills.js';

export const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '..', '..');

export interface LocalCdpOptions {
  /** Where emulator data, checkpoints and keys live. */
  readonly dataDir: string;
  /** HTTP port on 127.0.0.1; 0 picks a free one. */
  readonly port: number;
  /** Wipe dataDir first. */
  readonly reset?: boolean;
  /** Keep DynamoDB and Kinesis data on disk (default true); tests may run them in memory. */
  readonly persist?: boolean;
  /** Run the stream consumers (default true); benchmarks of the collector alone turn them off. */
  readonly streamConsumers?: boolean;
  /** Wraps every handler invocation (the cost benchmark times them); none by default. */
  readonly invocationHook?: (
    functionId: string,
    event: unknown,
    invoke: () => Promise<unknown>,
  ) => Promise<unknown>;
  /** Replaces the activation handler module for the deltas queues (tests inject faults with it). */
  readonly activationHandler?: (event: SQSEvent) => Promise<SQSBatchResponse>;
  /** Batches each deltas queue hands to activation at once (default 1), like concurrent invocations. */
  readonly deltaQueueConcurrency?: number;
}

/** What `.cdp/local.json` holds, so scripts and tests can find a running CDP. */
export interface LocalCdpInfo {
  readonly apiUrl: string;
  readonly writeKey: string;
  readonly adminKey: string;
  readonly dataDir: string;
  /** The console, and its first admin's sign-in (more users: `npm run cdp -- users add`). */
  readonly consoleUrl: string;
  readonly consoleAdmin: { readonly username: string; readonly password: string };
}

export interface LocalCdp extends LocalCdpInfo {
  readonly sourceId: string;
  readonly endpoints: { dynamodb: string; kinesis: string; s3: string };
  readonly env: Readonly<Record<string, string>>;
  /** Emits `batch` (BatchInfo) after every stream handler invocation. */
  readonly events: EventEmitter;
  /** The local Step Functions (segment runs): `start()` an execution, `idle()` waits for all. */
  readonly stepFunctions: LocalStepFunctions;
  /** Resolves when every stream consumer has handled everything written so far. */
  drain(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

interface SavedKeys {
  sourceId: string;
  writeKey: string;
  adminKey: string;
}

/**
 * Starts the whole CDP on this machine: emulators, resources from the shared definitions, the HTTP
 * API and one poller per stream consumer, all invoking the same handler modules Lambda runs.
 */
export async function startLocalCdp(options: LocalCdpOptions): Promise<LocalCdp> {
  const dataDir = resolve(options.dataDir);
  if (options.reset) rmSync(dataDir, { recursive: true, force: true });
  const logDir = join(dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const persist = options.persist ?? true;

  const emulators: Emulator[] = [];
  const stopAll: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const fn of stopAll.reverse()) await fn().catch(() => undefined);
    await Promise.allSettled(emulators.map((e) => e.stop()));
  };

  try {
    const [dynalite, kinesis, s3rver] = await Promise.all([
      startDynalite(persist ? join(dataDir, 'dynamodb') : undefined, logDir),
      startKinesis(persist ? join(dataDir, 'kinesis') : undefined, logDir),
      startS3rver(join(dataDir, 's3'), logDir),
    ]);
    emulators.push(dynalite, kinesis, s3rver);
    const endpoints = { dynamodb: dynalite.endpoint, kinesis: kinesis.endpoint, s3: s3rver.endpoint };
    const env = localEnvironment(endpoints, dataDir);
    // Handlers read their configuration from process.env at import time, exactly as in Lambda.
    Object.assign(process.env, env);

    const credentials = { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! };
    const clients = {
      dynamodb: new DynamoDBClient({ region: 'us-east-1', endpoint: endpoints.dynamodb, credentials }),
      kinesis: new KinesisClient({
        region: 'us-east-1',
        endpoint: endpoints.kinesis,
        credentials,
        requestHandler: new NodeHttpHandler(),
      }),
      s3: new S3Client({ region: 'us-east-1', endpoint: endpoints.s3, credentials, forcePathStyle: true }),
    };
    await bootstrapResources(clients);
    const keys = await ensureKeys(
      dataDir,
      new SourceStore(dynamoDbDocumentClient(clients.dynamodb), CONTROL_TABLE.localName),
    );

    // Acknowledged means durable: a journal of every record the API acknowledged, replayed into the
    // stream here if the emulator lost it in a kill (it saves about once a second).
    const journals = new Map<string, StreamJournal>();
    if (persist) {
      for (const stream of STREAMS) {
        const journal = new StreamJournal(
          join(dataDir, 'journal', `${stream.localName}.jsonl`),
          stream.localName,
        );
        const files = STREAM_CONSUMERS.filter((c) => c.streamId === stream.id).map((c) =>
          join(dataDir, 'checkpoints', `${c.functionId}.json`),
        );
        const checkpoints = files.map(readCheckpoints);
        const { replayed, movedCheckpoints } = await journal.recover(clients.kinesis, checkpoints);
        files.forEach((file, i) => {
          if (Object.keys(checkpoints[i]!).length || existsSync(file))
            writeCheckpoints(file, checkpoints[i]!);
        });
        if (replayed || movedCheckpoints)
          console.error(
            `[local] ${stream.localName}: ${replayed} acknowledged records the stream had lost were written again from the journal; ${movedCheckpoints} consumer checkpoints moved to what the stream still has`,
          );
        const plugin = journal.plugin();
        kinesisClientPlugins.push(plugin);
        journals.set(stream.id, journal);
        stopAll.push(async () => {
          kinesisClientPlugins.splice(kinesisClientPlugins.indexOf(plugin), 1);
          journal.close();
        });
      }
    }

    const modules = new Map<string, Promise<Record<string, unknown>>>();
    const load = (functionId: string) => {
      const fn = FUNCTIONS.find((f) => f.id === functionId);
      if (!fn) throw new Error(`No function ${functionId}`);
      if (!modules.has(functionId))
        modules.set(functionId, import(pathToFileURL(join(REPO_ROOT, fn.entry)).href));
      const hook = options.invocationHook;
      return modules.get(functionId)!.then((m) => {
        const handler = m.handler as (event: unknown, context: unknown) => Promise<unknown>;
        // Calls made during the invocation are attributed to this function (IAM checks under test).
        const recorded = (event: unknown, context: unknown) =>
          invokedAs(functionId, () => handler(event, context));
        return hook
          ? (event: unknown, context: unknown) => hook(functionId, event, () => recorded(event, context))
          : recorded;
      });
    };

    // Step Functions: the deployed definition, run locally; handlers reach it through the normal SDK.
    const stepFunctions = new LocalStepFunctions(
      [
        {
          arn: SEGMENT_RUN_STATE_MACHINE.localArn,
          definition: segmentRunDefinition(localFunctionArn(SEGMENT_RUNNER_FUNCTION.id)),
        },
        {
          arn: REGULATION_RUN_STATE_MACHINE.localArn,
          definition: regulationRunDefinition(localFunctionArn(REGULATION_RUNNER_FUNCTION.id)),
        },
        {
          arn: IMPORT_RUN_STATE_MACHINE.localArn,
          definition: importRunDefinition(localFunctionArn(IMPORT_RUNNER_FUNCTION.id)),
        },
        {
          arn: REPLAY_RUN_STATE_MACHINE.localArn,
          definition: replayRunDefinition(localFunctionArn(REPLAY_RUNNER_FUNCTION_ID)),
        },
      ],
      async (functionName, input) =>
        (await load(functionName))(
          input,
          // The function's own timeout, as on AWS: long steps pace themselves by it.
          lambdaContext(
            functionName,
            (FUNCTIONS.find((f) => f.id === functionName)?.timeoutSeconds ?? 60) * 1000,
          ),
        ),
      (message) => console.error(`[local] ${message}`),
    );
    const sfnEndpoint = await stepFunctions.listen();
    stopAll.push(() => stepFunctions.stop());
    Object.assign(env, {
      AWS_ENDPOINT_URL_SFN: sfnEndpoint,
      CDP_SEGMENT_RUN_STATE_MACHINE_ARN: SEGMENT_RUN_STATE_MACHINE.localArn,
      CDP_REGULATION_RUN_STATE_MACHINE_ARN: REGULATION_RUN_STATE_MACHINE.localArn,
      CDP_IMPORT_RUN_STATE_MACHINE_ARN: IMPORT_RUN_STATE_MACHINE.localArn,
      CDP_REPLAY_RUN_STATE_MACHINE_ARN: REPLAY_RUN_STATE_MACHINE.localArn,
    });
    Object.assign(process.env, env);
    const scheduleMinutes = Number(
      process.env.CDP_SEGMENT_SCHEDULE_MINUTES ?? SEGMENT_RUN_STATE_MACHINE.defaultScheduleMinutes,
    );
    // As on AWS, one scheduled run a day also checks the identity graph.
    const runsPerDay = Math.max(1, Math.round(1440 / scheduleMinutes));
    let scheduled = 0;
    const schedule = setInterval(() => {
      const input = scheduled++ % runsPerDay === 0 ? { checkIdentities: true } : { incremental: true };
      stepFunctions.start(SEGMENT_RUN_STATE_MACHINE.localArn, input, `scheduled-${Date.now()}`);
    }, scheduleMinutes * 60_000);
    schedule.unref();
    stopAll.push(async () => clearInterval(schedule));
    // Lake compaction, hourly like the deployed rule (CDP_COMPACTION_MINUTES to change it locally).
    const compaction = setInterval(
      () => {
        load(LAKE_COMPACTOR_FUNCTION.id)
          .then((h) =>
            h({}, lambdaContext(LAKE_COMPACTOR_FUNCTION.id, LAKE_COMPACTOR_FUNCTION.timeoutSeconds * 1000)),
          )
          .catch((err: Error) => console.error(`[local] lake compaction failed: ${err.message}`));
      },
      Number(process.env.CDP_COMPACTION_MINUTES ?? LAKE_COMPACTION_SCHEDULE_MINUTES) * 60_000,
    );
    compaction.unref();
    stopAll.push(async () => clearInterval(compaction));

    // CloudWatch's part: the handlers' counts and the consumers' iterator age, for the console's overview.
    const metrics = new LocalMetricsStore();
    const unregisterMetrics = metrics.register();
    stopAll.push(async () => unregisterMetrics());

    const corsOrigins = JSON.parse(env.CDP_CORS_ORIGINS ?? '["*"]') as string[];
    const consoleAdmin = ensureFirstAdmin(dataDir);
    const consoleServer = createConsoleServer(dataDir, join(REPO_ROOT, CONSOLE_DIST_DIR));
    const server = createServer(
      createHttpAdapter({
        routes: ROUTES,
        adminKey: keys.adminKey,
        corsOrigins,
        sessionClaims: consoleServer.claimsFor,
        fallback: consoleServer.handle,
        handlerFor: (id) => load(id) as Promise<HttpHandler>,
      }),
    );
    const port = await listen(server, options.port);
    stopAll.push(
      () =>
        new Promise<void>((r) => {
          server.close(() => r());
          server.closeAllConnections();
        }),
    );

    const events = new EventEmitter();
    const pollers: KinesisPoller[] = [];
    for (const consumer of options.streamConsumers === false ? [] : STREAM_CONSUMERS) {
      const stream = STREAMS.find((s) => s.id === consumer.streamId);
      if (!stream) throw new Error(`Unknown stream ${consumer.streamId}`);
      const poller = new KinesisPoller({
        consumerId: consumer.functionId,
        kinesis: clients.kinesis,
        streamName: stream.localName,
        handler: (await load(consumer.functionId)) as StreamHandler,
        batchSize: consumer.batchSize,
        retryAttempts: consumer.retryAttempts,
        checkpointFile: join(dataDir, 'checkpoints', `${consumer.functionId}.json`),
        dlqFile: join(dataDir, 'dlq', `${consumer.functionId}.jsonl`),
        onBatch: (info: BatchInfo) => {
          metrics.record('AWS/Lambda', 'IteratorAge', { FunctionName: info.consumerId }, info.iteratorAgeMs);
          events.emit('batch', info);
        },
      });
      await poller.start();
      pollers.push(poller);
      stopAll.push(() => poller.stop());
    }

    // The journal keeps what some consumer has not handled yet; the rest is dropped every few seconds.
    for (const [streamId, journal] of journals) {
      const consumers = pollers.filter((_, i) => STREAM_CONSUMERS[i]?.streamId === streamId);
      if (!consumers.length) continue;
      const compaction = setInterval(() => journal.compact(consumers.map((p) => p.checkpointsNow())), 5_000);
      compaction.unref();
      stopAll.push(async () => clearInterval(compaction));
    }

    // Activation reads each destination type's deltas as SQS would deliver them: a queue and poller per type.
    const activation = options.activationHandler ?? (await load(ACTIVATION_FUNCTION.id));
    const deltaQueues = DELTA_QUEUES.map((queue) => {
      const type = queue.destinationType;
      const poller = new LocalDeltaQueue({
        file: join(dataDir, queue.localFile),
        queueArn: queue.localArn,
        checkpointFile: join(dataDir, 'checkpoints', `deltas-${type}.offset`),
        dlqFile: join(dataDir, 'dlq', `deltas-${type}.jsonl`),
        handler: activation as never,
        batchSize: queue.batchSize,
        maxReceiveCount: queue.maxReceiveCount,
        concurrency: options.deltaQueueConcurrency,
      });
      poller.start();
      stopAll.push(() => poller.stop());
      return poller;
    });

    // Files dropped into the local imports bucket start imports, as S3 notifications do on AWS.
    const importWatcher = new ImportWatcher({
      s3: clients.s3,
      bucket: IMPORTS_BUCKET.localName,
      handler: (await load(IMPORT_TRIGGER_FUNCTION.id)) as never,
      checkpointFile: join(dataDir, 'checkpoints', 'imports.json'),
      onError: (message) => console.error(`[local] ${message}`),
    });
    importWatcher.start();
    stopAll.push(() => importWatcher.stop());

    const info: LocalCdpInfo = {
      apiUrl: `http://127.0.0.1:${port}`,
      writeKey: keys.writeKey,
      adminKey: keys.adminKey,
      dataDir,
      consoleUrl: `http://127.0.0.1:${port}/`,
      consoleAdmin,
    };
    // Emulator endpoints too, so `npm run cdp` and `npm run query` can reach the running servers.
    writeFileSync(join(dataDir, 'local.json'), `${JSON.stringify({ ...info, endpoints }, null, 2)}\n`);

    return {
      ...info,
      sourceId: keys.sourceId,
      endpoints,
      env,
      events,
      stepFunctions,
      drain: async (timeoutMs?: number) => {
        // Imports first: what they put on the stream is then drained like any event.
        await importWatcher.poll();
        await stepFunctions.idle();
        await Promise.all(pollers.map((p) => p.drain(timeoutMs)));
        await stepFunctions.idle();
        await Promise.all(deltaQueues.map((q) => q.drain(timeoutMs)));
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The local source's write key and the admin key survive restarts, like the data they guard. */
async function ensureKeys(dataDir: string, sources: SourceStore): Promise<SavedKeys> {
  const file = join(dataDir, 'keys.json');
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as SavedKeys;
    if (await sources.authenticate(saved.writeKey)) return saved;
  }
  const { source, writeKey } = await sources.createSource('Local development');
  const saved: SavedKeys = {
    sourceId: source.sourceId,
    writeKey,
    adminKey: `ak_${randomBytes(24).toString('base64url')}`,
  };
  writeFileSync(file, JSON.stringify(saved, null, 2), { mode: 0o600 });
  return saved;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolvePort, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      resolvePort(typeof address === 'object' && address ? address.port : port);
    });
  });
}
