import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../local/emulators/ports.js';
import { REPO_ROOT } from '../../local/runtime.js';
import { BUCKETS } from '../../resources/buckets.js';
import { basicAuth } from '../support/local-cdp.js';

interface Running {
  readonly child: ChildProcess;
  readonly output: string[];
  readonly info: { apiUrl: string; writeKey: string; adminKey: string; endpoints: { s3: string } };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `npm start` as a user runs it: its own process group, so a kill takes its emulators with it. */
async function start(dataDir: string, port: number): Promise<Running> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'local/main.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, CDP_DATA_DIR: dataDir, CDP_PORT: String(port) },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout!.on('data', (d) => output.push(String(d)));
  child.stderr!.on('data', (d) => output.push(String(d)));
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`npm start exited: ${output.join('')}`);
    if (output.join('').includes('running locally') && existsSync(join(dataDir, 'local.json'))) {
      return { child, output, info: JSON.parse(readFileSync(join(dataDir, 'local.json'), 'utf8')) };
    }
    await sleep(200);
  }
  throw new Error(`npm start did not come up: ${output.join('')}`);
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));

describe('crash durability of the local runtime', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cdp-crash-'));
  let running: Running | undefined;
  afterAll(async () => {
    const kill = (signal: NodeJS.Signals) => {
      try {
        process.kill(-running!.child.pid!, signal);
      } catch {
        // the group is gone already
      }
    };
    if (running?.child.exitCode === null) {
      kill('SIGTERM');
      await Promise.race([exited(running.child), sleep(10_000)]);
      kill('SIGKILL');
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('loses no acknowledged event when the whole runtime is killed mid-stream, and restarts over a stale pid file', async () => {
    const port = await freePort();
    running = await start(dataDir, port);
    const { apiUrl, writeKey } = running.info;
    const users = Array.from({ length: 12 }, (_, i) => `crash-${i}`);
    const acked = new Map<string, string>(); // messageId -> userId
    const sent = new Set<string>();
    let stopSending = false;
    let n = 0;
    const sender = async (worker: number) => {
      while (!stopSending) {
        const batch = Array.from({ length: 5 }, () => {
          const i = n++;
          return {
            type: 'track',
            event: 'Crash Test',
            userId: users[i % users.length],
            messageId: `w${worker}-${i}`,
          };
        });
        for (const m of batch) sent.add(m.messageId);
        try {
          const res = await fetch(`${apiUrl}/v1/batch`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: basicAuth(writeKey) },
            body: JSON.stringify({ batch }),
          });
          if (res.status === 200) for (const m of batch) acked.set(m.messageId, m.userId!);
          await res.arrayBuffer();
        } catch {
          // the runtime is gone: this request was never acknowledged
          await sleep(20);
        }
      }
    };
    const senders = [0, 1, 2, 3].map(sender);
    for (const t = Date.now(); acked.size < 100 && Date.now() - t < 15_000; ) await sleep(100);
    const before = acked.size;
    // SIGKILL the whole process group while events are arriving.
    process.kill(-running.child.pid!, 'SIGKILL');
    await exited(running.child);
    await sleep(300);
    stopSending = true;
    await Promise.all(senders);
    expect(before).toBeGreaterThan(20);

    // The killed runtime's pid file remains; make it name a live process that is not a CDP.
    writeFileSync(join(dataDir, 'runtime.pid'), JSON.stringify({ pid: process.pid, apiUrl }));
    running = await start(dataDir, port);

    // Every acknowledged event reaches its profile exactly once. (An event the stream took but whose
    // 200 died with the runtime may be there too: it was sent, never acknowledged.)
    const admin = { authorization: `Bearer ${running.info.adminKey}` };
    // The timeline first, then the profile: the processor writes a profile before its events' timeline
    // items, so a profile read after the timeline holds at least what that timeline showed. The two
    // agree once processing has settled (a batch committed between the reads shows in one only).
    const profileOf = async (user: string) => {
      const ids: string[] = [];
      let cursor: string | undefined;
      do {
        const page = (await (
          await fetch(
            `${apiUrl}/v1/profiles/user_id:${user}/events?limit=100${cursor ? `&cursor=${cursor}` : ''}`,
            { headers: admin },
          )
        ).json()) as { events: Array<{ messageId: string }>; cursor?: string };
        ids.push(...(page.events ?? []).map((e) => e.messageId));
        cursor = page.cursor;
      } while (cursor);
      const res = await fetch(`${apiUrl}/v1/profiles/user_id:${user}`, { headers: admin });
      if (res.status !== 200) return { count: 0, ids: [] as string[] };
      const body = (await res.json()) as { computed: { event_counts: Record<string, number> } };
      return { count: body.computed.event_counts['Crash Test'] ?? 0, ids };
    };
    const ackedOf = (user: string) => [...acked].filter(([, u]) => u === user).map(([id]) => id);
    for (const user of users) {
      let profile = await profileOf(user);
      for (let t = Date.now(); Date.now() - t < 90_000; profile = await profileOf(user)) {
        const have = new Set(profile.ids);
        // Settled: every acknowledged event on the timeline, and the count caught up with it (events
        // sent but never acknowledged may still be arriving).
        if (ackedOf(user).every((id) => have.has(id)) && profile.count === have.size) break;
        await sleep(1_000);
      }
      const have = new Set(profile.ids);
      expect(
        ackedOf(user).filter((id) => !have.has(id)),
        user,
      ).toEqual([]);
      expect(profile.ids.length, `${user}: no event twice in the timeline`).toBe(have.size);
      expect(profile.count, `${user}: each event counted once`).toBe(have.size);
      expect(profile.ids.filter((id) => !sent.has(id))).toEqual([]);
    }

    // ... and the lake: every acknowledged messageId, none it did not send (copies of a re-delivered
    // batch are removed by the events view, which dedupes by source and messageId).
    const s3 = new S3Client({
      region: 'us-east-1',
      endpoint: running.info.endpoints.s3,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const bucket = BUCKETS.find((b) => b.id === 'LakeBucket')?.localName ?? BUCKETS[0]!.localName;
    const lakeIds = async () => {
      const ids: string[] = [];
      let token: string | undefined;
      do {
        const page = await s3.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: 'raw/', ContinuationToken: token }),
        );
        for (const o of page.Contents ?? []) {
          const obj = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key! }));
          const text = gunzipSync(Buffer.from(await obj.Body!.transformToByteArray())).toString();
          for (const line of text.split('\n')) if (line) ids.push(JSON.parse(line).messageId as string);
        }
        token = page.NextContinuationToken;
      } while (token);
      return ids;
    };
    // s3rver (unlike S3) can fail a read that races the lake writer's write of the same object: such a
    // round is polled again; what counts is the last complete read.
    const readLake = () => lakeIds().catch(() => undefined);
    let ids: string[] = [];
    for (let t = Date.now(); Date.now() - t < 60_000; await sleep(1_000)) {
      const read = await readLake();
      if (!read) continue;
      ids = read;
      const have = new Set(ids);
      if ([...acked.keys()].every((id) => have.has(id))) break;
    }
    const distinct = new Set(ids);
    expect([...acked.keys()].filter((id) => !distinct.has(id))).toEqual([]);
    expect([...distinct].filter((id) => !sent.has(id))).toEqual([]);
  }, 300_000);
});
