/**
 * File imports: rows per second and peak memory.
 *   npm run bench:import -- [rows=1000000] [streamRows=5000]
 * 1. A generated CSV of `rows` rows through the whole import path (read, map, validate with the
 *    collector's rules, build stream records) with the stream write counted but not sent: the pipeline's
 *    own speed, and its memory sampled as the file goes by (it should stay flat).
 * 2. The first `streamRows` rows of it into kinesis-local through the collector's stream writer, against
 *    raw PutRecords of the very same records (same chunks of 500, same writes in flight) in the same run,
 *    in raw/import/import/raw phases so both see the same stream sizes (kinesis-local slows as its shard
 *    grows). kinesis-local takes a few hundred records per second, so a million rows into it would take
 *    most of an hour; the ratio is what this phase measures.
 */

import { once } from 'node:events';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { chunkRecords, EventStreamWriter } from '../adapters/kinesis/event-stream.js';
import { fileSource, readRows } from '../core/imports/formats.js';
import { MappingSchema, mappedColumns } from '../core/imports/mapping.js';
import { importSlice } from '../core/imports/run.js';
import { EVENTS_STREAM } from '../resources/streams.js';
import { fmt, withLocalCdp } from './support.js';

const rows = Number(process.argv[2] ?? 1_000_000);
const streamRows = Number(process.argv[3] ?? 5_000);
const IN_FLIGHT = 4;

const mapping = MappingSchema.parse({
  type: 'track',
  userId: 'customer_id',
  event: 'Order Completed',
  timestamp: { column: 'purchased_at', format: 'yyyy-MM-dd HH:mm:ss' },
  properties: {
    order_id: 'receipt',
    total: { column: 'total', type: 'number' },
    store: 'store',
    items: { column: 'items', type: 'integer' },
  },
  traits: { email: 'email' },
});

async function generate(path: string, n: number): Promise<void> {
  const out = createWriteStream(path);
  out.write('receipt,customer_id,email,total,store,items,purchased_at\n');
  for (let i = 1; i <= n; i++) {
    const line = `R-${i},C-${i % 50_000},"c${i % 50_000}@example.com",${(i % 997) / 10},"Store, ${i % 40}",${1 + (i % 5)},2026-01-${String(1 + (i % 28)).padStart(2, '0')} 10:${String(i % 60).padStart(2, '0')}:00\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

const mb = (bytes: number) => fmt(bytes / 1024 / 1024, 1);

async function pipeline(path: string) {
  const samples: Array<{ row: number; rss: number; heap: number }> = [];
  let peakRss = 0;
  let lastRow = 0;
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    samples.push({ row: lastRow, rss: m.rss, heap: m.heapUsed });
  }, 100);
  let written = 0;
  const start = performance.now();
  const result = await importSlice(
    readRows(path, await fileSource(path), { requiredColumns: mappedColumns(mapping) }),
    {
      sourceId: 'bench',
      fileId: 'bench-file',
      mapping,
      startRow: 0,
      now: () => new Date(),
      deadline: () => false,
    },
    {
      write: async (records) => {
        written += records.length;
        lastRow = written;
      },
    },
  );
  const seconds = (performance.now() - start) / 1000;
  clearInterval(timer);
  return { result, seconds, samples, peakRss, written };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'cdp-bench-import-'));
  try {
    const path = join(dir, 'purchases.csv');
    await generate(path, rows);
    const small = join(dir, 'purchases-small.csv');
    await generate(small, streamRows);

    const p = await pipeline(path);
    console.log(
      `Pipeline (stream write counted, not sent): ${fmt(rows)} rows in ${fmt(p.seconds, 1)} s = ${fmt(rows / p.seconds)} rows/s; accepted ${fmt(p.result.counts.accepted)}, refused ${fmt(p.result.counts.refused)}`,
    );
    const at = (fraction: number) => p.samples.find((s) => s.row >= rows * fraction) ?? p.samples.at(-1)!;
    console.log(
      `Memory: peak RSS ${mb(p.peakRss)} MB; heap used at 10% / 50% / 90% of the file: ${[0.1, 0.5, 0.9].map((f) => mb(at(f).heap)).join(' / ')} MB; RSS ${[0.1, 0.5, 0.9].map((f) => mb(at(f).rss)).join(' / ')} MB`,
    );

    await withLocalCdp(
      async (cdp) => {
        const kinesis = new KinesisClient({
          region: 'us-east-1',
          endpoint: cdp.endpoints.kinesis,
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
          requestHandler: new NodeHttpHandler(),
        });
        // The exact records the import writes, captured once, for the raw phases.
        const captured: Array<{ partitionKey: string; data: Uint8Array }> = [];
        await importSlice(
          readRows(small, await fileSource(small), {}),
          {
            sourceId: 'bench',
            fileId: 'bench-small',
            mapping,
            startRow: 0,
            now: () => new Date(),
            deadline: () => false,
          },
          { write: async (records) => void captured.push(...records) },
        );
        const writer = new EventStreamWriter(kinesis, EVENTS_STREAM.localName, {
          attempts: 8,
          baseDelayMs: 100,
          maxDelayMs: 5_000,
        });
        const raw = async () => {
          const chunks = chunkRecords(captured);
          let next = 0;
          await Promise.all(
            Array.from({ length: IN_FLIGHT }, async () => {
              while (next < chunks.length) {
                const chunk = chunks[next++]!;
                await kinesis.send(
                  new PutRecordsCommand({
                    StreamName: EVENTS_STREAM.localName,
                    Records: chunk.map((r) => ({ PartitionKey: r.partitionKey, Data: r.data })),
                  }),
                );
              }
            }),
          );
        };
        const viaImport = async () => {
          await importSlice(
            readRows(small, await fileSource(small), {}),
            {
              sourceId: 'bench',
              fileId: 'bench-small',
              mapping,
              startRow: 0,
              now: () => new Date(),
              deadline: () => false,
              maxInFlight: IN_FLIGHT,
            },
            { write: (records) => writer.put(records) },
          );
        };
        const time = { raw: 0, import: 0 };
        for (const phase of ['raw', 'import', 'import', 'raw'] as const) {
          const t = performance.now();
          await (phase === 'raw' ? raw() : viaImport());
          const s = (performance.now() - t) / 1000;
          time[phase] += s;
          console.log(
            `  ${phase.padEnd(6)} ${fmt(streamRows)} rows in ${fmt(s, 1)} s (${fmt(streamRows / s)} rows/s)`,
          );
        }
        const importRate = (2 * streamRows) / time.import;
        const rawRate = (2 * streamRows) / time.raw;
        console.log(
          `Into kinesis-local: import ${fmt(importRate)} rows/s vs raw PutRecords ${fmt(rawRate)} rows/s of the same records: ratio ${fmt(importRate / rawRate, 2)} (goal 0.8)`,
        );
      },
      { streamConsumers: false },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
