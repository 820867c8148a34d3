import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { Analytics } from '@segment/analytics-node';
import { dynamoDbDocumentClient } from '../../adapters/aws/clients.js';
import type { LocalCdp } from '../../local/runtime.js';
import { LAKE_BUCKET } from '../../resources/buckets.js';
import { TABLES } from '../../resources/tables.js';

export interface Person {
  readonly userId: string;
  readonly anonymousId: string;
  readonly email: string;
}

/**
 * Keeps a person sending through the Segment Node SDK (an identify, then a track every `everyMs`) until
 * `stop()`, which flushes and returns the messageIds the SDK had accepted with the time each was sent.
 * Replay tests reuse it to keep traffic flowing while a replay and a deletion run.
 */
export function keepSending(cdp: Pick<LocalCdp, 'writeKey' | 'apiUrl'>, person: Person, everyMs = 400) {
  const analytics = new Analytics({
    writeKey: cdp.writeKey,
    host: cdp.apiUrl,
    flushInterval: 50,
    maxEventsInBatch: 5,
  });
  const sent: Array<{ messageId: string; at: number }> = [];
  let failures = 0;
  const done = (at: number) => (err: unknown, ctx?: { event: { messageId?: string } }) => {
    if (err) failures++;
    else if (ctx?.event.messageId) sent.push({ messageId: ctx.event.messageId, at });
  };
  let n = 0;
  const tick = () => {
    const at = Date.now();
    if (n++ % 10 === 0)
      analytics.identify(
        {
          userId: person.userId,
          anonymousId: person.anonymousId,
          traits: { email: person.email, plan: 'pro', n },
        },
        done(at),
      );
    else analytics.track({ userId: person.userId, event: 'Tick', properties: { n } }, done(at));
  };
  tick();
  const timer = setInterval(tick, everyMs);
  return {
    async stop(): Promise<{ sent: typeof sent; failures: number }> {
      clearInterval(timer);
      await analytics.closeAndFlush({ timeout: 20_000 });
      return { sent, failures };
    },
  };
}

/** The messageId of every event in the lake's raw zone. */
export async function rawMessageIds(cdp: Pick<LocalCdp, 'endpoints'>): Promise<Set<string>> {
  const { s3, destroy } = localClients(cdp);
  const ids = new Set<string>();
  try {
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: LAKE_BUCKET.localName, Prefix: 'raw/', ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) {
        const obj = await s3.send(new GetObjectCommand({ Bucket: LAKE_BUCKET.localName, Key: o.Key! }));
        const text = gunzipSync(Buffer.from(await obj.Body!.transformToByteArray())).toString('utf8');
        for (const line of text.split('\n'))
          if (line.trim()) ids.add((JSON.parse(line) as { messageId: string }).messageId);
      }
      token = page.NextContinuationToken;
    } while (token);
  } finally {
    destroy();
  }
  return ids;
}

/** Clients for the local emulators, for reading stores directly in tests. */
export function localClients(cdp: Pick<LocalCdp, 'endpoints'>) {
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: cdp.endpoints.s3,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  const ddb = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: cdp.endpoints.dynamodb,
    credentials: { accessKeyId: 'l', secretAccessKey: 'l' },
  });
  const destroy = () => {
    s3.destroy();
    ddb.destroy();
  };
  return { s3, ddb, destroy };
}

function localFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? localFiles(path) : [path];
  });
}

/**
 * Every place any of `needles` (identifier values, profile ids) is still found: each DynamoDB table
 * item, each lake object (raw, change tables, quarantine, columnar; gzip undone), each local queue,
 * dead-letter and outbox line (except recorded deletion calls to destinations). Empty means gone.
 */
export async function tracesOf(
  cdp: Pick<LocalCdp, 'endpoints' | 'dataDir'>,
  needles: readonly string[],
): Promise<string[]> {
  const found: string[] = [];
  const { s3, ddb, destroy } = localClients(cdp);
  const hit = (text: string) => needles.find((n) => text.includes(n));
  try {
    const doc = dynamoDbDocumentClient(ddb);
    for (const table of TABLES) {
      let ExclusiveStartKey: Record<string, unknown> | undefined;
      do {
        const page = await doc.send(new ScanCommand({ TableName: table.localName, ExclusiveStartKey }));
        for (const item of page.Items ?? []) {
          // Dedupe markers hold a source id and a message id only, and expire (README, Regulations).
          if (String(item.pk).startsWith('DEDUPE#')) continue;
          const n = hit(JSON.stringify(item));
          if (n) found.push(`${table.localName} ${item.pk} ${item.sk} (${n})`);
        }
        ExclusiveStartKey = page.LastEvaluatedKey;
      } while (ExclusiveStartKey);
    }
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: LAKE_BUCKET.localName, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) {
        const obj = await s3.send(new GetObjectCommand({ Bucket: LAKE_BUCKET.localName, Key: o.Key! }));
        let bytes = Buffer.from(await obj.Body!.transformToByteArray());
        if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
        // Quarantine keeps raw bytes base64-encoded.
        const text = bytes.toString('utf8');
        const decoded = [...text.matchAll(/"raw":"([A-Za-z0-9+/=]+)"/g)]
          .map((m) => Buffer.from(m[1]!, 'base64').toString('utf8'))
          .join('\n');
        const n = hit(text) ?? hit(decoded);
        if (n) found.push(`s3 ${o.Key} (${n})`);
      }
      token = page.NextContinuationToken;
    } while (token);
  } finally {
    destroy();
  }
  for (const dir of ['queues', 'dlq', 'outbox'])
    for (const file of localFiles(join(cdp.dataDir, dir)))
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        const n = hit(line);
        if (n && !/"command":"(Delete|Remove)[A-Za-z]*Command"/.test(line))
          found.push(`${file.slice(cdp.dataDir.length)} (${n})`);
      }
  return found;
}
