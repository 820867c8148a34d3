import { gunzipSync } from 'node:zlib';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { KinesisStreamEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ENV } from '../../resources/env.js';

const record = (sequenceNumber: string, data: string) => ({
  eventID: `shardId-000000000000:${sequenceNumber}`,
  eventSourceARN: 'arn:aws:kinesis:us-east-1:123456789012:stream/events',
  kinesis: { sequenceNumber, data: Buffer.from(data).toString('base64'), partitionKey: 'p' },
});

describe('lake writer handler', () => {
  const s3 = mockClient(S3Client);
  // The erasure gate's tombstone counter: no deletion was ever accepted.
  const ddb = mockClient(DynamoDBDocumentClient);
  beforeEach(() => {
    s3.reset();
    ddb.reset();
    ddb.on(GetCommand).resolves({});
    vi.resetModules();
    vi.stubEnv(ENV.lakeBucket, 'lake');
    vi.stubEnv(ENV.controlTable, 'control');
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    vi.stubEnv('POWERTOOLS_SERVICE_NAME', 'LakeWriter');
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('writes one object per partition, quarantines what is not a collected event, and counts both', async () => {
    s3.on(PutObjectCommand).resolves({});
    const stdout: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout.push(String(chunk));
      return true;
    });
    const { handler } = await import('../../lambdas/lake/handler.js');
    const event = (receivedAt: string, id: string) =>
      JSON.stringify({ type: 'track', event: 'X', userId: 'u', messageId: id, sourceId: 'src', receivedAt });
    const result = await handler({
      Records: [
        record('1', event('2026-01-01T10:00:00Z', 'a')),
        record('2', event('2026-01-01T10:59:00Z', 'b')),
        record('3', event('2026-01-01T11:00:00Z', 'c')),
        record('4', 'not json'),
      ],
    } as KinesisStreamEvent);

    expect(result.batchItemFailures).toEqual([]);
    const puts = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    const raw = puts.filter((p) => p.Key!.startsWith('raw/')).sort((a, b) => (a.Key! < b.Key! ? -1 : 1));
    expect(raw.map((p) => p.Key)).toEqual([
      'raw/source_id=src/dt=2026-01-01/hr=10/shardId-000000000000-1-2.json.gz',
      'raw/source_id=src/dt=2026-01-01/hr=11/shardId-000000000000-3-3.json.gz',
    ]);
    expect(
      gunzipSync(raw[0]!.Body as Buffer)
        .toString()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).messageId),
    ).toEqual(['a', 'b']);
    expect(puts.filter((p) => p.Key!.startsWith('quarantine/stage=lake/'))).toHaveLength(1);

    const emf = stdout.map((l) => JSON.parse(l)).find((l) => l._aws);
    expect(emf).toMatchObject({
      service: 'LakeWriter',
      LakeEventsWritten: 3,
      LakeObjectsWritten: 2,
      RecordsQuarantined: 1,
    });
  });

  it('asks Lambda to retry the whole batch when S3 fails, and counts nothing as written', async () => {
    s3.on(PutObjectCommand).rejects(Object.assign(new Error('slow down'), { name: 'SlowDown' }));
    const stdout: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout.push(String(chunk));
      return true;
    });
    const { handler } = await import('../../lambdas/lake/handler.js');
    const result = await handler({
      Records: [
        record(
          '7',
          JSON.stringify({
            type: 'track',
            messageId: 'z',
            sourceId: 's',
            receivedAt: '2026-01-01T00:00:00Z',
          }),
        ),
      ],
    } as KinesisStreamEvent);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: '7' }]);
    expect(stdout.some((l) => l.includes('LakeEventsWritten'))).toBe(false);
  });

  it('sets aside a record whose partition cannot be a key, with its bytes and reason, and commits its neighbours', async () => {
    s3.on(PutObjectCommand).resolves({});
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const { handler } = await import('../../lambdas/lake/handler.js');
    const event = (sourceId: string, receivedAt: string, id: string) =>
      JSON.stringify({ type: 'track', event: 'X', userId: 'u', messageId: id, sourceId, receivedAt });
    const poison = [
      event('x'.repeat(300), '2026-01-01T10:00:00Z', 'long-source'),
      event('bad\ud800', '2026-01-01T10:00:00Z', 'lone-surrogate'),
      event('src', '+100000-01-01T00:00:00Z', 'far-future'),
    ];
    const result = await handler({
      Records: [
        record('1', event('src', '2026-01-01T10:00:00Z', 'before')),
        ...poison.map((p, i) => record(String(i + 2), p)),
        record('9', event('src', '2026-01-01T10:05:00Z', 'after')),
      ],
    } as KinesisStreamEvent);
    expect(result.batchItemFailures).toEqual([]);
    const puts = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    const raw = puts.filter((p) => p.Key!.startsWith('raw/'));
    expect(raw.map((p) => p.Key)).toEqual([
      'raw/source_id=src/dt=2026-01-01/hr=10/shardId-000000000000-1-9.json.gz',
    ]);
    const lines = gunzipSync(raw[0]!.Body as Buffer)
      .toString()
      .trim()
      .split('\n');
    expect(lines.map((l) => JSON.parse(l).messageId)).toEqual(['before', 'after']);
    const [set] = puts.filter((p) => p.Key!.startsWith('quarantine/stage=lake/'));
    const kept = gunzipSync(set!.Body as Buffer)
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(kept.map((r) => r.reason)).toEqual(['unpartitionable', 'unpartitionable', 'unpartitionable']);
    expect(kept.map((r) => Buffer.from(r.raw, 'base64').toString())).toEqual(poison);
    expect(kept.map((r) => r.details)).toEqual([
      'sourceId is longer than 256 characters URL-encoded',
      'sourceId is not well-formed Unicode',
      'receivedAt must lie between the years 2000 and 9999',
    ]);
  });
});
