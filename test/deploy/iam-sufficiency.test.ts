import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECORD_ENV, withCallRecording } from '../../adapters/aws/call-recorder.js';
import {
  checkIamSufficiency,
  describeDenial,
  type SufficiencyReport,
} from '../../core/deploy/iam-sufficiency.js';
import type { CallRecord } from '../../core/deploy/required-actions.js';
import type { CfnTemplate } from '../../core/deploy/template.js';
import { IMPORTS_BUCKET } from '../../resources/buckets.js';
import { FUNCTIONS } from '../../resources/functions/index.js';
import { synthesizeCdp } from '../support/cdk.js';
import { postJson, startTestCdp } from '../support/local-cdp.js';

/**
 * IAM sufficiency: drives every function through the local runtime with call recording on, then
 * evaluates each recorded call (and what AWS does with each role on its behalf) against the
 * synthesized template's policies. Emulators do not enforce IAM; this is where AccessDenied shows up.
 */

// biome-ignore lint/suspicious/noExplicitAny: JSON of many shapes, asserted field by field
type Json = any;

const ACCOUNT = '123456789012';
const recordDir = mkdtempSync(join(tmpdir(), 'cdp-iam-calls-'));
let cdp: Awaited<ReturnType<typeof startTestCdp>>;
let template: CfnTemplate;
let calls: CallRecord[];
let report: SufficiencyReport;

const admin = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${cdp.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${cdp.adminKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Json };
};

const readCalls = () =>
  readdirSync(recordDir)
    .flatMap((f) => readFileSync(join(recordDir, f), 'utf8').split('\n'))
    .filter(Boolean)
    .map((l) => JSON.parse(l) as CallRecord);

beforeAll(async () => {
  process.env[RECORD_ENV] = recordDir;
  template = synthesizeCdp().template.toJSON() as CfnTemplate;
  // The lake compactor runs on a timer (hourly on AWS): every couple of seconds here, so it is driven.
  const compactionMinutes = process.env.CDP_COMPACTION_MINUTES;
  process.env.CDP_COMPACTION_MINUTES = '0.03';
  cdp = await startTestCdp();
  if (compactionMinutes === undefined) delete process.env.CDP_COMPACTION_MINUTES;
  else process.env.CDP_COMPACTION_MINUTES = compactionMinutes;

  // Every destination type AWS would be called for, in the symbolic account the evaluator uses.
  const seg = await admin('POST', '/v1/segments', {
    name: 'Has a plan',
    condition: { trait: 'plan', op: 'exists' },
  });
  const segmentId = seg.body.segmentId as string;
  const destinations = [
    { type: 'eventbridge', settings: { eventBusName: 'audiences', source: 'cdp.test' } },
    {
      type: 'pinpoint',
      settings: {
        applicationId: 'app1',
        importSegment: true,
        importRoleArn: `arn:aws:iam::${ACCOUNT}:role/pinpoint-import`,
      },
    },
    {
      type: 'personalize',
      settings: {
        datasetArn: `arn:aws:personalize:us-east-1:${ACCOUNT}:dataset/shop/USERS`,
        trackingId: 'tracker-1',
        datasetGroupArn: `arn:aws:personalize:us-east-1:${ACCOUNT}:dataset-group/shop`,
        deletionRoleArn: `arn:aws:iam::${ACCOUNT}:role/personalize-deletion`,
      },
    },
    { type: 'ses', settings: { contactListName: 'news' } },
    { type: 'customer-profiles', settings: { domainName: 'shop' } },
    { type: 's3-export', settings: { prefix: 'audiences/' } },
  ];
  for (const d of destinations) {
    const res = await admin('POST', `/v1/segments/${segmentId}/destinations`, {
      ...d,
      consentCategory: null,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }

  const batch = [
    { type: 'identify', userId: 'iam-1', traits: { email: 'iam.one@example.com', plan: 'pro' } },
    { type: 'track', userId: 'iam-1', event: 'Order Completed', properties: { total: 5 } },
    { type: 'identify', userId: 'iam-2', traits: { email: 'iam.two@example.com', plan: 'free' } },
  ];
  expect((await postJson(cdp, '/v1/batch', { batch })).status).toBe(200);
  // A refused batch is quarantined by the collector.
  expect((await postJson(cdp, '/v1/batch', { batch: [{ type: 'track', userId: 'x' }] })).status).toBe(400);
  await cdp.drain(60_000);

  expect((await admin('GET', '/v1/profiles/user_id:iam-1')).status).toBe(200);
  expect((await admin('GET', '/v1/profiles/user_id:iam-1/events')).status).toBe(200);
  expect((await admin('GET', '/v1/profiles/user_id:iam-1/segments')).status).toBe(200);
  expect(
    (await admin('POST', '/v1/segments/preview', { name: 'p', condition: { trait: 'plan', op: 'exists' } }))
      .status,
  ).toBe(200);
  const run = await admin('POST', `/v1/segments/${segmentId}/run`);
  expect(run.status).toBe(202);
  await cdp.drain(60_000);
  expect((await admin('GET', `/v1/segments/runs/${run.body.runId}`)).body.status).toBe('succeeded');
  expect((await admin('GET', `/v1/segments/${segmentId}/destinations`)).status).toBe(200);

  const reg = await admin('POST', '/v1/regulations', {
    type: 'delete_and_suppress',
    identifiers: ['user_id:iam-1'],
  });
  expect(reg.status).toBe(202);
  await cdp.drain(60_000);
  expect((await admin('GET', `/v1/regulations/${reg.body.regulationId}`)).body.status).toBe('completed');

  // The console's own API, and a file import through the API (runner) and through the bucket (trigger).
  const source = await admin('POST', '/v1/sources', { name: 'IAM imports' });
  expect(source.status).toBe(201);
  const sourceId = source.body.sourceId as string;
  expect(
    (
      await admin('PUT', `/v1/sources/${sourceId}/import-mapping`, {
        type: 'identify',
        userId: 'id',
        traits: { plan: 'plan' },
      })
    ).status,
  ).toBe(200);
  const upload = await fetch(`${cdp.apiUrl}/v1/imports?sourceId=${sourceId}&filename=c.csv`, {
    method: 'POST',
    headers: { authorization: `Bearer ${cdp.adminKey}`, 'content-type': 'text/csv' },
    body: 'id,plan\niam-import-1,pro\n',
  });
  expect(upload.status).toBe(202);
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: cdp.endpoints.s3,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    forcePathStyle: true,
  });
  await s3.send(
    new PutObjectCommand({
      Bucket: IMPORTS_BUCKET.localName,
      Key: `imports/${sourceId}/dropped.csv`,
      Body: 'id,plan\niam-import-2,team\n',
    }),
  );
  s3.destroy();
  for (let i = 0; i < 30 && (await admin('GET', '/v1/profiles/user_id:iam-import-2')).status !== 200; i++)
    await cdp.drain(30_000);
  expect((await admin('GET', '/v1/profiles/user_id:iam-import-1')).status).toBe(200);
  // Long enough for a compaction run on its short local timer.
  await new Promise((r) => setTimeout(r, 4_000));

  calls = readCalls();
  report = checkIamSufficiency({
    template,
    calls,
    localEnv: cdp.env,
    functionIds: FUNCTIONS.map((f) => f.id),
  });
  // The grants no test exercised, for a person to judge (least privilege).
  const path = process.env.CDP_IAM_REPORT ?? join(tmpdir(), 'cdp-iam-report.md');
  writeFileSync(
    path,
    [
      `# IAM sufficiency: ${report.checked} authorizations checked, ${report.denied.length} denied`,
      '',
      '## Denied',
      ...report.denied.map((d) => `- ${describeDenial(d)}`),
      '',
      '## Grants no test exercised',
      ...report.unexercised.map((u) => `- ${u}`),
      '',
    ].join('\n'),
  );
}, 240_000);

afterAll(async () => {
  delete process.env[RECORD_ENV];
  await cdp?.cleanup();
  rmSync(recordDir, { recursive: true, force: true });
});

describe('IAM sufficiency of the synthesized stack', () => {
  it('recorded calls from every function the flows drive, without payloads', () => {
    const functions = new Set(calls.map((c) => c.functionId));
    for (const fn of FUNCTIONS) expect([...functions], fn.id).toContain(fn.id);
    expect(report.functionsWithoutCalls).toEqual([]);
    const text = JSON.stringify(calls);
    expect(text).not.toContain('iam.one@example.com');
    expect(text).not.toContain('Order Completed');
    // Services without an emulator are recorded through the outbox.
    const services = new Set(calls.map((c) => `${c.service}:${c.command}`));
    for (const s of [
      'PersonalizeEvents:PutEvents',
      'Personalize:CreateDataDeletionJob',
      'SQS:SendMessageBatch',
    ])
      expect([...services]).toContain(s);
  });

  it('allows every call each function makes, and what AWS does with each role', () => {
    expect(report.denied.map(describeDenial)).toEqual([]);
    expect(report.checked).toBeGreaterThan(50);
  });

  it('lists the grants no test exercised', () => {
    expect(report.unexercised.length).toBeGreaterThan(0);
    // X-Ray tracing grants are used by the Lambda service, never by a handler call.
    expect(report.unexercised.some((u) => u.includes('xray:PutTraceSegments'))).toBe(true);
  });

  it('fails, naming function, action and resource, when a grant is removed from the template', () => {
    const copy = JSON.parse(JSON.stringify(template)) as CfnTemplate & { Resources: Record<string, Json> };
    const policyId = Object.keys(copy.Resources).find((id) =>
      id.startsWith('CollectorFunctionServiceRoleDefaultPolicy'),
    )!;
    const doc = copy.Resources[policyId].Properties.PolicyDocument;
    doc.Statement = doc.Statement.filter(
      (s: Json) => !(Array.isArray(s.Action) ? s.Action : [s.Action]).includes('kinesis:PutRecords'),
    );
    const broken = checkIamSufficiency({
      template: copy,
      calls,
      localEnv: cdp.env,
      functionIds: FUNCTIONS.map((f) => f.id),
    });
    const lines = broken.denied.map(describeDenial);
    expect(
      lines.some((l) =>
        /^Collector .* may not kinesis:PutRecords on arn:aws:kinesis:us-east-1:\d+:stream\/EventsStream/.test(
          l,
        ),
      ),
    ).toBe(true);
    // Only the removed grant changes the outcome.
    expect(broken.denied.length).toBeGreaterThan(report.denied.length);
    const before = new Set(report.denied.map(describeDenial));
    const added = broken.denied.filter((d) => !before.has(describeDenial(d)));
    expect(added.map((d) => d.principal)).toEqual(added.map(() => 'Collector'));
    expect(added.length).toBeGreaterThan(0);
  });

  it('records nothing unless the variable is set', () => {
    const saved = process.env[RECORD_ENV];
    delete process.env[RECORD_ENV];
    try {
      const client = withCallRecording(new DynamoDBClient({ region: 'us-east-1' }));
      expect(client.middlewareStack.identify().some((m) => m.includes('cdpCallRecorder'))).toBe(false);
    } finally {
      process.env[RECORD_ENV] = saved;
    }
    const recording = withCallRecording(new DynamoDBClient({ region: 'us-east-1' }));
    expect(recording.middlewareStack.identify().some((m) => m.includes('cdpCallRecorder'))).toBe(true);
  });
});
