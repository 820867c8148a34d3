/**
 * Post-deploy smoke test: `npm run smoke -- --stack <name> [--region <r>]` against AWS, or
 * `npm run smoke -- --local [dataDir]` against a running local CDP (the test suite runs it that way,
 * so it cannot rot). It creates a temporary source, sends events with the Segment Node SDK, waits
 * for the profile through the admin API (SigV4 on AWS), previews a segment, finds the events in the
 * lake (Athena on AWS, DuckDB locally), and cleans up: the smoke person is deleted by a regulation
 * and the source revoked. Each step prints its time; the exit code is 0 only if every step passed.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Analytics } from '@segment/analytics-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { dynamoDbDocumentClient } from '../adapters/aws/clients.js';
import { SourceStore } from '../adapters/dynamodb/source-store.js';
import { BUCKETS } from '../resources/buckets.js';
import { CONTROL_TABLE } from '../resources/tables.js';
import { queryLake } from './query/engine.js';
import './polyfills.js';

// Run from developer machines with Node 20 (Lambda runs Node 22): no SDK warning about it in the report.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export interface SmokeTarget {
  readonly name: string;
  readonly apiUrl: string;
  /** Where the SDK sends events, when not `apiUrl`: the collector's function URL (`cdp:ingestEndpoint`). */
  readonly ingestUrl?: string;
  readonly sources: SourceStore;
  admin(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  /** Rows of a lake query, as objects of strings or numbers. */
  lake(sql: string): Promise<Array<Record<string, unknown>>>;
  /** How long the lake may take to show new events (the lake writer buffers on AWS). */
  readonly lakeWaitMs: number;
}

const json = async (res: Response) => {
  const text = await res.text();
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { text };
  }
};

/** A local CDP started with `npm start` (or by a test): its `local.json` names everything. */
export function localTarget(dataDir: string): SmokeTarget {
  const file = join(resolve(dataDir), 'local.json');
  if (!existsSync(file))
    throw new Error(`No local CDP found (${file} is missing); start one with \`npm start\``);
  const info = JSON.parse(readFileSync(file, 'utf8')) as {
    apiUrl: string;
    adminKey: string;
    endpoints: { dynamodb: string; s3: string };
  };
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  const ddb = new DynamoDBClient({ region: 'us-east-1', endpoint: info.endpoints.dynamodb, credentials });
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: info.endpoints.s3,
    credentials,
    forcePathStyle: true,
  });
  const lakeBucket = BUCKETS.find((b) => b.id === 'LakeBucket')?.localName ?? 'cdp-lake';
  return {
    name: `local ${info.apiUrl}`,
    apiUrl: info.apiUrl,
    sources: new SourceStore(dynamoDbDocumentClient(ddb), CONTROL_TABLE.localName),
    admin: async (method, path, body) => {
      const res = await fetch(`${info.apiUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${info.adminKey}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await json(res) };
    },
    lake: (sql) =>
      queryLake({ s3, bucket: lakeBucket, cacheDir: join(resolve(dataDir), 'smoke-query-cache') }, sql),
    lakeWaitMs: 60_000,
  };
}

/** A deployed stack: its outputs, IAM (SigV4) for the admin API, Athena for the lake. */
export async function awsTarget(stack: string, region?: string): Promise<SmokeTarget> {
  const cfn = new CloudFormationClient({ region });
  const described = await cfn.send(new DescribeStacksCommand({ StackName: stack }));
  const outputs = Object.fromEntries(
    (described.Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']),
  );
  for (const key of ['ApiUrl', 'ControlTableName', 'LakeDatabase', 'AthenaWorkGroup'])
    if (!outputs[key]) throw new Error(`stack ${stack} has no output ${key}`);
  const apiUrl = outputs.ApiUrl!.replace(/\/$/, '');
  const signingRegion = region ?? (await cfn.config.region());
  const signer = new SignatureV4({
    service: 'execute-api',
    region: signingRegion,
    credentials: defaultProvider(),
    sha256: Sha256,
  });
  const athena = new AthenaClient({ region });
  return {
    name: `stack ${stack} (${signingRegion})`,
    apiUrl,
    ...(outputs.IngestFunctionUrl ? { ingestUrl: outputs.IngestFunctionUrl.replace(/\/$/, '') } : {}),
    sources: new SourceStore(
      dynamoDbDocumentClient(new DynamoDBClient({ region })),
      outputs.ControlTableName!,
    ),
    admin: async (method, path, body) => {
      const url = new URL(`${apiUrl}${path}`);
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const signed = await signer.sign({
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: { host: url.hostname, 'content-type': 'application/json' },
        body: payload,
      });
      const res = await fetch(url, {
        method,
        headers: signed.headers as Record<string, string>,
        body: payload,
      });
      return { status: res.status, body: await json(res) };
    },
    lake: async (sql) => {
      const { QueryExecutionId } = await athena.send(
        new StartQueryExecutionCommand({
          QueryString: sql,
          WorkGroup: outputs.AthenaWorkGroup,
          QueryExecutionContext: { Database: outputs.LakeDatabase },
        }),
      );
      for (;;) {
        const state = (await athena.send(new GetQueryExecutionCommand({ QueryExecutionId }))).QueryExecution
          ?.Status;
        if (state?.State === 'SUCCEEDED') break;
        if (state?.State === 'FAILED' || state?.State === 'CANCELLED')
          throw new Error(`Athena query ${state.State}: ${state.StateChangeReason ?? ''}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
      const rows =
        (await athena.send(new GetQueryResultsCommand({ QueryExecutionId }))).ResultSet?.Rows ?? [];
      const header = rows[0]?.Data?.map((d) => d.VarCharValue ?? '') ?? [];
      return rows
        .slice(1)
        .map((r) => Object.fromEntries(header.map((h, i) => [h, r.Data?.[i]?.VarCharValue ?? null])));
    },
    // Lake objects appear after the writer's batching window (cdp:lakeBufferSeconds, at most 300 s).
    lakeWaitMs: 420_000,
  };
}

export interface SmokeStep {
  readonly step: string;
  readonly ok: boolean;
  readonly ms: number;
  readonly detail: string;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not seen within ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Runs every step, always cleaning up; returns the steps (each with its time) in order. */
export async function runSmoke(
  target: SmokeTarget,
  print: (line: string) => void = console.log,
  options: { profileWaitMs?: number } = {},
): Promise<SmokeStep[]> {
  const steps: SmokeStep[] = [];
  const runId = randomUUID().slice(0, 8);
  const userId = `smoke-${runId}`;
  const step = async (name: string, fn: () => Promise<string>) => {
    const started = Date.now();
    try {
      const detail = await fn();
      steps.push({ step: name, ok: true, ms: Date.now() - started, detail });
    } catch (err) {
      steps.push({ step: name, ok: false, ms: Date.now() - started, detail: (err as Error).message });
    }
    const s = steps.at(-1)!;
    print(`${s.ok ? 'ok  ' : 'FAIL'} ${name} (${(s.ms / 1000).toFixed(2)} s) ${s.detail}`);
    return s.ok;
  };
  print(`Smoke test of ${target.name}, run ${runId}`);

  let source: { sourceId: string; writeKey: string } | undefined;
  const passed =
    (await step('create a temporary source', async () => {
      const created = await target.sources.createSource(`smoke test ${runId}`);
      source = { sourceId: created.source.sourceId, writeKey: created.writeKey };
      return source.sourceId;
    })) &&
    (await step('send events with @segment/analytics-node', async () => {
      const host = target.ingestUrl ?? target.apiUrl;
      const analytics = new Analytics({ writeKey: source!.writeKey, host, maxRetries: 2 });
      const failures: string[] = [];
      analytics.on('error', (e) => failures.push(String((e as { reason?: unknown }).reason ?? e.code)));
      analytics.identify({ userId, traits: { smoke_run: runId, plan: 'smoke' } });
      analytics.track({ userId, event: 'Smoke Tested', properties: { run: runId } });
      await analytics.closeAndFlush({ timeout: 20_000 });
      if (failures.length) throw new Error(`the SDK reported ${failures.join(', ')}`);
      return `2 events (identify, track) to ${target.ingestUrl ? 'the function URL' : 'the API'}`;
    })) &&
    (await step('wait for the profile (admin API)', async () => {
      const profile = await until('profile', options.profileWaitMs ?? 120_000, async () => {
        const res = await target.admin('GET', `/v1/profiles/user_id:${userId}/traits`);
        if (res.status !== 200 && res.status !== 404) throw new Error(`profile API answered ${res.status}`);
        return (res.body.traits as Record<string, unknown> | undefined)?.smoke_run === runId
          ? res.body
          : undefined;
      });
      return `traits ${Object.keys(profile.traits as object).join(', ')}`;
    })) &&
    (await step('preview a segment', async () => {
      const res = await target.admin('POST', '/v1/segments/preview', {
        name: `smoke ${runId}`,
        condition: { trait: 'smoke_run', op: 'eq', value: runId },
      });
      if (res.status !== 200) throw new Error(`preview answered ${res.status}: ${JSON.stringify(res.body)}`);
      const size = Number(res.body.estimatedSize);
      // Exact on small tables; a large table is sampled (1/16), which may miss the one smoke person.
      if (res.body.exact === true && size < 1)
        throw new Error(`preview found nobody: ${JSON.stringify(res.body)}`);
      if (!Number.isFinite(size)) throw new Error(`preview answered ${JSON.stringify(res.body)}`);
      return `${res.body.exact ? 'exactly' : 'about'} ${size} profile(s), ${res.body.scanned} scanned`;
    })) &&
    (await step('query the lake', async () => {
      const sql = `SELECT count(*) AS n FROM raw_events WHERE source_id = '${source!.sourceId}' AND userid = '${userId}'`;
      const n = await until('events in the lake', target.lakeWaitMs, async () => {
        const rows = await target.lake(sql);
        const count = Number(rows[0]?.n ?? 0);
        return count >= 2 ? count : undefined;
      });
      return `${n} events in raw_events`;
    }));

  // Cleanup runs whatever failed above.
  await step('clean up: delete the smoke person and revoke the source', async () => {
    const parts: string[] = [];
    const reg = await target.admin('POST', '/v1/regulations', {
      type: 'delete',
      identifiers: [`user_id:${userId}`],
    });
    if (reg.status !== 202) throw new Error(`regulation answered ${reg.status}: ${JSON.stringify(reg.body)}`);
    const status = await until('deletion', 180_000, async () => {
      const r = await target.admin('GET', `/v1/regulations/${reg.body.regulationId}`);
      const s = String(r.body.status);
      return s === 'completed' || s === 'failed' ? s : undefined;
    });
    if (status !== 'completed') throw new Error(`deletion ${status}`);
    parts.push('person deleted');
    if (source) {
      await target.sources.revokeSource(source.sourceId);
      parts.push(`source ${source.sourceId} revoked`);
    }
    return parts.join(', ');
  });
  const failed = steps.filter((s) => !s.ok).length;
  print(failed || !passed ? `${failed} step(s) failed` : `All ${steps.length} steps passed`);
  return steps;
}

const USAGE =
  'usage: npm run smoke -- --stack <name> [--region <region>]   |   npm run smoke -- --local [dataDir]';

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { stack: { type: 'string' }, region: { type: 'string' }, local: { type: 'boolean' } },
    allowPositionals: true,
  });
  let target: SmokeTarget;
  try {
    if (values.stack) target = await awsTarget(values.stack, values.region);
    else if (values.local) target = localTarget(positionals[0] ?? process.env.CDP_DATA_DIR ?? '.cdp');
    else {
      console.log(USAGE);
      return 2;
    }
  } catch (err) {
    console.error((err as Error).message);
    return 1;
  }
  const steps = await runSmoke(target);
  return steps.every((s) => s.ok) ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname))
  main(process.argv.slice(2)).then((code) => process.exit(code));
