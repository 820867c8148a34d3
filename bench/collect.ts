/**
 * Collector throughput against the local runtime, compared with raw PutRecords to kinesis-local.
 *   npm run bench:collect -- [seconds=10] [concurrency=8]
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { kinesisClient } from '../adapters/aws/clients.js';
import { partitionKeyOf, withServerFields } from '../core/collect/ingest.js';
import type { Message } from '../core/events/schema.js';
import { EVENTS_STREAM } from '../resources/streams.js';
import { fmt, percentile, withLocalCdp } from './support.js';

const seconds = Number(process.argv[2] ?? 10);
const concurrency = Number(process.argv[3] ?? 8);
const BATCH = 100;
// kinesis-local's cost per record grows with the records already in the shard (it hashes the shard's
// whole record list on every put), so a path that writes to a younger stream looks faster. Phases of
// equal size in ABBA order give both paths the same stream sizes: with time-boxed phases the raw
// phase that opened the run on an empty stream made raw against raw read as a ratio of about 0.9.
const PHASE_BATCHES = concurrency * 2;
const ORDER = ['raw', 'api', 'api', 'raw'] as const;

let seq = 0;
function batch(): Message[] {
  return Array.from({ length: BATCH }, () => {
    const n = seq++;
    return {
      type: 'track',
      messageId: `bench-${n}`,
      userId: `user-${n % 10_000}`,
      event: 'Product Viewed',
      timestamp: new Date().toISOString(),
      properties: { sku: `sku-${n % 500}`, price: 19.99, currency: 'EUR' },
      context: {
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0',
        ip: '203.0.113.9',
        page: { path: '/p' },
      },
    } as Message;
  });
}

/** `batches` calls of `worker` from `concurrency` loops sharing one queue; per-call latencies. */
async function runBatches(batches: number, worker: () => Promise<void>) {
  const latencies: number[] = [];
  let taken = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (taken++ < batches) {
        const t = performance.now();
        await worker();
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { latencies, elapsedMs: performance.now() - start };
}

/**
 * CPU time (ms) of the kinesis-local process this run started, read from /proc: on 2 cores it shows
 * whether the emulator or the runtime bounds the figures. Undefined where there is no /proc.
 */
function kinesisLocalCpu(): (() => number) | undefined {
  try {
    const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('kinesis-local')) continue;
        // Fields after the parenthesised command name: state, ppid, ..., utime (12th), stime (13th).
        const stat = () => {
          const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
          return text.slice(text.lastIndexOf(')') + 2).split(' ');
        };
        if (Number(stat()[1]) !== process.pid) continue;
        return () => {
          const fields = stat();
          return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
        };
      } catch {
        // The process ended while we looked; not ours.
      }
    }
  } catch {
    // No /proc or getconf: the CPU split is left out.
  }
  return undefined;
}

const { sourceId, auth } = await withLocalCdp(
  async (cdp) => {
    console.log(
      `collector bench: ~${seconds}s per path, ${concurrency} concurrent requests, batches of ${BATCH}, ` +
        `phases of ${PHASE_BATCHES} batches in ${ORDER.join('/')} order`,
    );
    const auth = `Basic ${Buffer.from(`${cdp.writeKey}:`).toString('base64')}`;
    // The collector's own client factory: same HTTP agent, timeouts and retries as the handler's.
    const kinesis = kinesisClient();
    const viaApi = async () => {
      const res = await fetch(`${cdp.apiUrl}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: auth },
        body: JSON.stringify({ batch: batch() }),
      });
      if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    };
    const direct = async () => {
      const receivedAt = new Date();
      const records = batch().map((m) => ({
        PartitionKey: partitionKeyOf(m),
        Data: Buffer.from(JSON.stringify(withServerFields(m, cdp.sourceId, receivedAt))),
      }));
      const out = await kinesis.send(
        new PutRecordsCommand({ StreamName: EVENTS_STREAM.localName, Records: records }),
      );
      if (out.FailedRecordCount) throw new Error(`${out.FailedRecordCount} raw records failed`);
    };
    // Outside the figures: the handler module's import, the first key lookup and both clients'
    // first connections are start-up costs, not throughput.
    await viaApi();
    await direct();

    const emulatorCpu = kinesisLocalCpu();
    const paths = {
      api: { worker: viaApi, latencies: [] as number[], elapsedMs: 0, runtimeCpuMs: 0, emulatorCpuMs: 0 },
      raw: { worker: direct, latencies: [] as number[], elapsedMs: 0, runtimeCpuMs: 0, emulatorCpuMs: 0 },
    };
    // Whole ABBA rounds only, so neither path ends up with more of the larger stream.
    while (paths.api.elapsedMs + paths.raw.elapsedMs < 2 * seconds * 1000) {
      for (const name of ORDER) {
        const path = paths[name];
        const cpu = process.cpuUsage();
        const emulatorBefore = emulatorCpu?.() ?? 0;
        const r = await runBatches(PHASE_BATCHES, path.worker);
        const used = process.cpuUsage(cpu);
        path.latencies.push(...r.latencies);
        path.elapsedMs += r.elapsedMs;
        path.runtimeCpuMs += (used.user + used.system) / 1000;
        path.emulatorCpuMs += (emulatorCpu?.() ?? 0) - emulatorBefore;
      }
    }
    kinesis.destroy();
    const { api, raw } = paths;
    api.latencies.sort((x, y) => x - y);
    raw.latencies.sort((x, y) => x - y);
    const apiRate = (api.latencies.length * BATCH) / (api.elapsedMs / 1000);
    const rawRate = (raw.latencies.length * BATCH) / (raw.elapsedMs / 1000);
    const share = (ms: number, p: { elapsedMs: number }) => `${fmt((100 * ms) / p.elapsedMs)}%`;

    console.log(`API accepted:        ${fmt(apiRate)} events/s (${fmt(api.latencies.length)} batches)`);
    console.log(
      `batch latency:       p50 ${fmt(percentile(api.latencies, 50), 1)} ms, p99 ${fmt(percentile(api.latencies, 99), 1)} ms` +
        ` (raw PutRecords p50 ${fmt(percentile(raw.latencies, 50), 1)} ms)`,
    );
    console.log(
      `raw PutRecords:      ${fmt(rawRate)} events/s (${fmt(raw.latencies.length)} batches, same records and client, straight to kinesis-local)`,
    );
    console.log(`ratio API/raw:       ${fmt(apiRate / rawRate, 2)} (goal >= 0.8)`);
    if (emulatorCpu)
      console.log(
        `CPU, % of one core:  kinesis-local ${share(api.emulatorCpuMs, api)} in API phases, ${share(raw.emulatorCpuMs, raw)} in raw; ` +
          `runtime + load generator ${share(api.runtimeCpuMs, api)} / ${share(raw.runtimeCpuMs, raw)}`,
      );
    return { sourceId: cdp.sourceId, auth };
    // Stream consumers off: this measures the collector against raw writes, not downstream processing.
  },
  { streamConsumers: false },
);

// After the local CDP has stopped, so the stubs below cannot reach its stream consumers.
// Handler CPU per event with the stream and key lookup stubbed: validation + serialization only.
mockClient(KinesisClient).on(PutRecordsCommand).resolves({ FailedRecordCount: 0, Records: [] });
mockClient(DynamoDBDocumentClient)
  .on(GetCommand)
  .resolves({ Item: { sourceId: sourceId } });
const { handler } = (await import('../lambdas/collect/handler.js')) as {
  handler: (e: APIGatewayProxyEventV2) => Promise<{ statusCode: number }>;
};
const events = Array.from({ length: 200 }, () => ({
  rawPath: '/v1/batch',
  headers: { 'content-type': 'application/json', authorization: auth },
  body: JSON.stringify({ batch: batch() }),
  isBase64Encoded: false,
})) as unknown as APIGatewayProxyEventV2[];
for (const e of events.slice(0, 20)) await handler(e); // warm up
const cpu = process.cpuUsage();
for (const e of events) {
  const res = await handler(e);
  if (res.statusCode !== 200) throw new Error(`handler answered ${res.statusCode}`);
}
const used = process.cpuUsage(cpu);
const cpuPerEventUs = (used.user + used.system) / (events.length * BATCH);

console.log(`handler CPU/event:   ${fmt(cpuPerEventUs, 1)} µs (stream stubbed; goal < 50 µs)`);
