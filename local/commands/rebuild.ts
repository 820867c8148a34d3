import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { type DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoDbDocumentClient } from '../../adapters/aws/clients.js';
import { batchWrite } from '../../adapters/dynamodb/batch.js';
import { type ReplayRecord, ReplayStore } from '../../adapters/dynamodb/replay-store.js';
import { MAX_REPLAY_RATE, parseReplayRequest } from '../../core/replay/request.js';
import { startReplay } from '../../lambdas/replay/api.js';
import { PROFILES_TABLE, TIMELINE_TABLE } from '../../resources/tables.js';
import { localDynamoDb } from './local-dynamodb.js';

export interface RebuildArgs {
  readonly aws: boolean;
  readonly dataDir: string;
  readonly yes: boolean;
  readonly since?: string;
  readonly rate?: string;
  /** On AWS: the stack's tables and replay state machine. */
  readonly table?: string;
  readonly timelineTable?: string;
  readonly controlTable?: string;
  readonly stateMachine?: string;
}

/** The whole history: the lake's partitions start in 2000 (the collector refuses earlier times). */
export const REBUILD_SINCE = '2000-01-01T00:00:00.000Z';

/** Deletes every item of a table, a scan page at a time (keys only). */
async function empty(ddb: DynamoDBDocumentClient, table: string): Promise<number> {
  let deleted = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await ddb.send(
      new ScanCommand({ TableName: table, ProjectionExpression: 'pk, sk', ExclusiveStartKey: start }),
    );
    const keys = (page.Items ?? []) as Array<{ pk: string; sk: string }>;
    await batchWrite(
      ddb,
      table,
      keys.map((k) => ({ delete: { pk: k.pk, sk: k.sk } })),
    );
    deleted += keys.length;
    start = page.LastEvaluatedKey;
  } while (start);
  return deleted;
}

const summary = (r: ReplayRecord) =>
  `${r.status}: read ${r.counts.read}, applied ${r.counts.applied}, duplicates ${r.counts.duplicates}, quarantined ${r.counts.quarantined}, erased ${r.counts.erased}${r.cursor.hour ? ` (at ${r.cursor.hour})` : ''}`;

/**
 * `npm run cdp -- rebuild --yes`: empties the profiles and timeline tables and replays the whole
 * lake into them through the processor, under the identity settings the processor has now. Locally it
 * works on the running `npm start` (its API starts the replay); with `--aws`, on the stack's tables
 * and replay state machine (normal credential chain). Exit code 0 when the replay succeeded.
 */
export async function rebuild(args: RebuildArgs, out: (line: string) => void): Promise<number> {
  const request = parseReplayRequest(
    {
      from: 'lake',
      since: args.since ?? REBUILD_SINCE,
      until: new Date(Date.now() + 60_000).toISOString(),
      // Locally nothing else needs the tables' throughput; on AWS live traffic does (default rate).
      ...(args.rate
        ? { ratePerSecond: Number(args.rate) }
        : args.aws
          ? {}
          : { ratePerSecond: MAX_REPLAY_RATE }),
    },
    new Date(),
  );
  if (!request.ok) {
    for (const i of request.issues) out(`--${i.field === 'ratePerSecond' ? 'rate' : i.field}: ${i.rule}`);
    return 2;
  }
  let ddb: DynamoDBDocumentClient;
  let tables: string[];
  let start: () => Promise<{ ok: true; replayId: string } | { ok: false; holder: string }>;
  let get: (id: string) => Promise<ReplayRecord | undefined>;
  if (args.aws) {
    if (!args.table || !args.timelineTable || !args.controlTable || !args.stateMachine) {
      out(
        '--aws needs --table <profiles>, --timeline-table, --control-table and --state-machine <ReplayStateMachineArn>',
      );
      return 2;
    }
    ddb = dynamoDbDocumentClient(new DynamoDBClient({}));
    tables = [args.table, args.timelineTable];
    const deps = {
      store: new ReplayStore(ddb, args.controlTable),
      sfn: new SFNClient({}),
      stateMachineArn: args.stateMachine,
    };
    start = () => startReplay(deps, request.request, new Date());
    get = (id) => deps.store.get(id);
  } else {
    const local = localDynamoDb(args.dataDir);
    if ('problem' in local) {
      out(local.problem);
      return 1;
    }
    const { apiUrl, adminKey } = JSON.parse(readFileSync(join(args.dataDir, 'local.json'), 'utf8')) as {
      apiUrl: string;
      adminKey: string;
    };
    if (!(await fetch(apiUrl).catch(() => undefined))) {
      out(`The local CDP is not running at ${apiUrl}: start it with \`npm start\` first.`);
      return 1;
    }
    ddb = dynamoDbDocumentClient(local.client);
    tables = [PROFILES_TABLE.localName, TIMELINE_TABLE.localName];
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${apiUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    start = async () => {
      const res = await call('POST', '/v1/replays', request.request);
      if (res.status === 202) return { ok: true, replayId: String(res.body.replayId) };
      if (res.status === 409) return { ok: false, holder: JSON.stringify(res.body.error) };
      throw new Error(`POST /v1/replays answered ${res.status}: ${JSON.stringify(res.body)}`);
    };
    get = async (id) => {
      const res = await call('GET', `/v1/replays/${id}`);
      return res.status === 200 ? (res.body as unknown as ReplayRecord) : undefined;
    };
  }
  if (!args.yes) {
    out(
      `This deletes every item of ${tables.join(' and ')} (profiles, identities, merges, timelines, dedupe markers,`,
    );
    out('segment memberships) and replays the lake into them. Run again with --yes to go ahead.');
    return 2;
  }
  for (const table of tables) out(`${table}: ${await empty(ddb, table)} items deleted`);
  const started = await start();
  if (!started.ok) {
    out(`Another replay is running (${started.holder}); wait for it, then run the rebuild again.`);
    return 1;
  }
  out(`replay ${started.replayId} started`);
  let last = '';
  for (;;) {
    await sleep(1_000);
    const record = await get(started.replayId);
    if (!record) continue;
    const line = summary(record);
    if (line !== last) out(line);
    last = line;
    if (record.status === 'succeeded') return 0;
    if (record.status === 'failed') {
      out(record.error ?? 'the replay failed');
      return 1;
    }
  }
}
