import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
  type PutRecordsCommandOutput,
  type PutRecordsRequestEntry,
} from '@aws-sdk/client-kinesis';
import type { KinesisClientPlugin } from '../adapters/aws/clients.js';

/** One acknowledged record: where the stream put it, and its bytes. */
export interface JournalEntry {
  /** Shard id and sequence number the stream answered with. */
  readonly s: string;
  readonly n: string;
  /** Partition key and data (base64). */
  readonly k: string;
  readonly d: string;
}

/**
 * The local runtime's write-ahead journal of acknowledged stream records. kinesis-local keeps its
 * data in memory and saves it about once a second, so a killed runtime would lose the last second of
 * records the API had answered 200 to. Every successful PutRecords of the collector is appended here
 * before the collector answers (a plugin on its Kinesis client); on start, records the restarted
 * emulator no longer has are written to the stream again, and checkpoints that point at records it
 * no longer has are moved to what it does have. Re-delivery is harmless: downstream dedupes by
 * messageId. Appends go to the OS without fsync: this survives a killed process, not a power cut.
 */
export class StreamJournal {
  private fd: number | undefined;

  constructor(
    private readonly file: string,
    private readonly streamName: string,
  ) {}

  /** SDK plugin: journals the records of every successful PutRecords before the call returns. */
  plugin(): KinesisClientPlugin {
    return {
      applyToStack: (stack) => {
        stack.add(
          (next, context) => async (args) => {
            const result = await next(args);
            if (context.commandName === 'PutRecordsCommand') {
              const input = args.input as { StreamName?: string; Records?: PutRecordsRequestEntry[] };
              if (input.StreamName === this.streamName)
                this.append(input.Records ?? [], result.output as PutRecordsCommandOutput);
            }
            return result;
          },
          { step: 'initialize', name: 'localStreamJournal' },
        );
      },
    };
  }

  private append(records: readonly PutRecordsRequestEntry[], output: PutRecordsCommandOutput): void {
    const lines: string[] = [];
    (output.Records ?? []).forEach((r, i) => {
      const record = records[i];
      if (!r.SequenceNumber || !r.ShardId || !record) return;
      const entry: JournalEntry = {
        s: r.ShardId,
        n: r.SequenceNumber,
        k: record.PartitionKey ?? '',
        d: Buffer.from(record.Data ?? new Uint8Array()).toString('base64'),
      };
      lines.push(JSON.stringify(entry));
    });
    if (!lines.length) return;
    if (this.fd === undefined) {
      mkdirSync(dirname(this.file), { recursive: true });
      this.fd = openSync(this.file, 'a');
    }
    writeSync(this.fd, `${lines.join('\n')}\n`);
  }

  /** Entries in the journal; a line torn by a kill mid-append is ignored (it was never acknowledged). */
  entries(): JournalEntry[] {
    if (!existsSync(this.file)) return [];
    const out: JournalEntry[] = [];
    for (const line of readFileSync(this.file, 'utf8').split('\n')) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line) as JournalEntry);
      } catch {
        // torn tail
      }
    }
    return out;
  }

  private rewrite(entries: readonly JournalEntry[]): void {
    this.close();
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
    renameSync(tmp, this.file);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /**
   * Drops entries every consumer has checkpointed past: they are processed, so losing them from the
   * stream no longer matters.
   */
  compact(checkpoints: ReadonlyArray<Readonly<Record<string, string>>>): void {
    const entries = this.entries();
    const keep = entries.filter((e) => checkpoints.some((c) => !c[e.s] || BigInt(c[e.s]!) < BigInt(e.n)));
    if (keep.length < entries.length) this.rewrite(keep);
  }

  /**
   * Run on start, before the API and the consumers: re-writes acknowledged records the stream lost,
   * and returns the consumers' checkpoints corrected (a checkpoint the stream no longer knows becomes
   * the last record it still has, so nothing after it is skipped). Returns how many were replayed.
   */
  async recover(
    kinesis: KinesisClient,
    checkpoints: Array<Record<string, string>>,
  ): Promise<{ replayed: number; movedCheckpoints: number }> {
    const entries = this.entries();
    const { Shards = [] } = await kinesis.send(new ListShardsCommand({ StreamName: this.streamName }));
    const known = async (shardId: string, sequence: string, data?: string) => {
      try {
        const { ShardIterator } = await kinesis.send(
          new GetShardIteratorCommand({
            StreamName: this.streamName,
            ShardId: shardId,
            ShardIteratorType: 'AT_SEQUENCE_NUMBER',
            StartingSequenceNumber: sequence,
          }),
        );
        if (data === undefined) return true;
        const page = await kinesis.send(new GetRecordsCommand({ ShardIterator, Limit: 1 }));
        const r = page.Records?.[0];
        return r?.SequenceNumber === sequence && Buffer.from(r.Data ?? []).toString('base64') === data;
      } catch {
        return false;
      }
    };
    const lost: JournalEntry[] = [];
    const kept: JournalEntry[] = [];
    let movedCheckpoints = 0;
    for (const shard of Shards) {
      const shardId = shard.ShardId!;
      // Concurrent requests may journal out of order; the stream's order is the sequence numbers'.
      const mine = entries
        .filter((e) => e.s === shardId)
        .sort((a, b) => (BigInt(a.n) < BigInt(b.n) ? -1 : BigInt(a.n) > BigInt(b.n) ? 1 : 0));
      // The restored stream is a prefix of what was written: find where the journal leaves it.
      let present = mine.length;
      while (present > 0 && !(await known(shardId, mine[present - 1]!.n, mine[present - 1]!.d))) present--;
      kept.push(...mine.slice(0, present));
      lost.push(...mine.slice(present));
      for (const checkpoint of checkpoints) {
        const at = checkpoint[shardId];
        if (!at || (await known(shardId, at))) continue;
        // The consumer had read records the stream lost: continue after the last record it has.
        const end = await this.lastSequence(kinesis, shardId, checkpoints, mine[present - 1]?.n);
        if (end) checkpoint[shardId] = end;
        else delete checkpoint[shardId];
        movedCheckpoints++;
      }
    }
    for (let i = 0; i < lost.length; i += 500) {
      const chunk = lost.slice(i, i + 500);
      const out = await kinesis.send(
        new PutRecordsCommand({
          StreamName: this.streamName,
          Records: chunk.map((e) => ({ PartitionKey: e.k, Data: Buffer.from(e.d, 'base64') })),
        }),
      );
      if (out.FailedRecordCount)
        throw new Error(`replaying the stream journal: ${out.FailedRecordCount} records failed`);
      for (const [j, r] of (out.Records ?? []).entries())
        kept.push({ ...chunk[j]!, s: r.ShardId!, n: r.SequenceNumber! });
    }
    this.rewrite(kept);
    return { replayed: lost.length, movedCheckpoints };
  }

  /** The last sequence number of a shard, read from the furthest point known to be in it. */
  private async lastSequence(
    kinesis: KinesisClient,
    shardId: string,
    checkpoints: ReadonlyArray<Readonly<Record<string, string>>>,
    hint: string | undefined,
  ): Promise<string | undefined> {
    let from: string | undefined = hint;
    for (const c of checkpoints) {
      const at = c[shardId];
      if (!at) continue;
      try {
        await kinesis.send(
          new GetShardIteratorCommand({
            StreamName: this.streamName,
            ShardId: shardId,
            ShardIteratorType: 'AT_SEQUENCE_NUMBER',
            StartingSequenceNumber: at,
          }),
        );
        if (!from || BigInt(at) > BigInt(from)) from = at;
      } catch {
        // not in the stream any more
      }
    }
    let { ShardIterator: iterator } = await kinesis.send(
      new GetShardIteratorCommand({
        StreamName: this.streamName,
        ShardId: shardId,
        ShardIteratorType: from ? 'AT_SEQUENCE_NUMBER' : 'TRIM_HORIZON',
        StartingSequenceNumber: from,
      }),
    );
    let last = from;
    while (iterator) {
      const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      const records = page.Records ?? [];
      if (records.length) last = records.at(-1)!.SequenceNumber;
      if (!records.length && !page.MillisBehindLatest) break;
      iterator = page.NextShardIterator;
    }
    return last;
  }
}
