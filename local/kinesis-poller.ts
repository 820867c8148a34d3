import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  type _Record,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  type ShardIteratorType,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { lambdaContext } from './lambda-context.js';

export type StreamHandler = (
  event: KinesisStreamEvent,
  context: unknown,
) => Promise<KinesisStreamBatchResponse | undefined>;

export interface PollerOptions {
  readonly consumerId: string;
  readonly kinesis: KinesisClient;
  readonly streamName: string;
  readonly handler: StreamHandler;
  readonly batchSize: number;
  /** Retries of a failing batch before it goes to the DLQ file (Lambda's MaximumRetryAttempts). */
  readonly retryAttempts: number;
  readonly checkpointFile: string;
  readonly dlqFile: string;
  readonly idleDelayMs?: number;
  readonly onBatch?: (info: BatchInfo) => void;
}

export interface BatchInfo {
  readonly consumerId: string;
  readonly shardId: string;
  readonly records: number;
  readonly failures: number;
  readonly error?: string;
  /** As Lambda's `IteratorAge`: how old the batch's last record was when the batch was read. */
  readonly iteratorAgeMs: number;
}

/**
 * Polls every shard of a stream and invokes a stream handler with events shaped exactly as Lambda's
 * Kinesis event source builds them. Honours `batchItemFailures` the way Lambda does with
 * ReportBatchItemFailures: the checkpoint advances to just before the lowest failed record, and the
 * batch is retried from there; after `retryAttempts` the batch is written to a DLQ file and skipped.
 */
export class KinesisPoller {
  private running = false;
  private readonly loops: Promise<void>[] = [];
  private readonly checkpoints: Record<string, string>;
  private readonly caughtUpAt = new Map<string, number>();
  private readonly streamArn: string;

  /** Why a shard cannot progress (repeated poll errors), for logs and `drain`. */
  private readonly stalled = new Map<string, string>();

  constructor(private readonly options: PollerOptions) {
    this.checkpoints = readCheckpoints(options.checkpointFile);
    this.streamArn = `arn:aws:kinesis:us-east-1:000000000000:stream/${options.streamName}`;
  }

  async start(): Promise<void> {
    this.running = true;
    const { Shards = [] } = await this.options.kinesis.send(
      new ListShardsCommand({ StreamName: this.options.streamName }),
    );
    for (const shard of Shards) {
      if (shard.ShardId) this.loops.push(this.pollShard(shard.ShardId));
    }
  }

  /** The committed position per shard (the last record handled). */
  checkpointsNow(): Readonly<Record<string, string>> {
    return { ...this.checkpoints };
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.allSettled(this.loops);
  }

  /** Resolves once every shard has been read to its tip after this call (all events so far handled). */
  async drain(timeoutMs = 30_000): Promise<void> {
    const since = Date.now();
    const deadline = since + timeoutMs;
    while (Date.now() < deadline) {
      const shards = [...this.caughtUpAt.values()];
      if (shards.length === this.loops.length && shards.every((t) => t > since)) return;
      await sleep(50);
    }
    const why = [...this.stalled].map(([shard, reason]) => `${shard}: ${reason}`).join('; ');
    throw new Error(
      `${this.options.consumerId} did not catch up within ${timeoutMs} ms${why ? ` (${why})` : ''}`,
    );
  }

  private async iterator(shardId: string): Promise<string> {
    const after = this.checkpoints[shardId];
    const type: ShardIteratorType = after ? 'AFTER_SEQUENCE_NUMBER' : 'TRIM_HORIZON';
    const { ShardIterator } = await this.options.kinesis.send(
      new GetShardIteratorCommand({
        StreamName: this.options.streamName,
        ShardId: shardId,
        ShardIteratorType: type,
        StartingSequenceNumber: after,
      }),
    );
    if (!ShardIterator) throw new Error(`no iterator for ${shardId}`);
    return ShardIterator;
  }

  private async pollShard(shardId: string): Promise<void> {
    const idle = this.options.idleDelayMs ?? 100;
    let iterator: string | undefined;
    let attempts = 0;
    let errors = 0;
    while (this.running) {
      try {
        iterator ??= await this.iterator(shardId);
        const page = await this.options.kinesis.send(
          new GetRecordsCommand({ ShardIterator: iterator, Limit: this.options.batchSize }),
        );
        errors = 0;
        this.stalled.delete(shardId);
        const records = page.Records ?? [];
        if (records.length === 0) {
          iterator = page.NextShardIterator;
          if (!page.MillisBehindLatest) this.caughtUpAt.set(shardId, Date.now());
          await sleep(idle);
          continue;
        }
        const failedAt = await this.invoke(shardId, records);
        if (failedAt === undefined) {
          this.checkpoint(shardId, records.at(-1)!.SequenceNumber!);
          iterator = page.NextShardIterator;
          attempts = 0;
          continue;
        }
        // Everything before the first failure is done; retry from the failure, as Lambda does.
        const index = records.findIndex((r) => r.SequenceNumber === failedAt.sequence);
        if (index > 0) this.checkpoint(shardId, records[index - 1]!.SequenceNumber!);
        attempts += 1;
        if (attempts > this.options.retryAttempts) {
          this.deadLetter(shardId, records.slice(Math.max(index, 0)), failedAt.reason);
          this.checkpoint(shardId, records.at(-1)!.SequenceNumber!);
          attempts = 0;
        } else {
          await sleep(Math.min(2_000, 100 * 2 ** attempts));
        }
        iterator = undefined;
      } catch (err) {
        if (!this.running) return;
        const message = (err as Error).message;
        if (iterator === undefined && this.checkpoints[shardId] && isUnknownSequence(err)) {
          // The stream no longer has the record the checkpoint names (the emulator lost its tail and
          // the start-up journal replay could not place it): read the shard again from its start.
          // Re-delivered records are harmless, downstream dedupes by messageId; skipping would lose.
          console.error(
            `[local] ${this.options.consumerId}: the stream no longer has checkpoint ${this.checkpoints[shardId]} of ${shardId}; re-reading the shard from its start`,
          );
          delete this.checkpoints[shardId];
          this.saveCheckpoints();
          continue;
        }
        errors += 1;
        iterator = undefined;
        // A consumer that cannot progress says so, loudly and again every minute, instead of
        // retrying in silence.
        if (errors === 10 || errors % 120 === 0) {
          this.stalled.set(shardId, message);
          console.error(
            `[local] ${this.options.consumerId} CANNOT PROGRESS on ${shardId} (${errors} failed polls): ${message}`,
          );
        }
        await sleep(500);
      }
    }
  }

  /** Invokes the handler; returns the first failed record and why, or undefined on full success. */
  private async invoke(
    shardId: string,
    records: _Record[],
  ): Promise<{ sequence: string; reason: string } | undefined> {
    const event: KinesisStreamEvent = { Records: records.map((r) => this.toLambdaRecord(shardId, r)) };
    const lastArrival = records.at(-1)?.ApproximateArrivalTimestamp?.getTime();
    const iteratorAgeMs = lastArrival === undefined ? 0 : Math.max(0, Date.now() - lastArrival);
    let failures: string[] = [];
    let error: string | undefined;
    try {
      const response = await this.options.handler(event, lambdaContext(this.options.consumerId));
      failures = (response?.batchItemFailures ?? []).map((f) => f.itemIdentifier);
    } catch (err) {
      error = (err as Error).message;
      failures = [records[0]!.SequenceNumber!];
    }
    this.options.onBatch?.({
      consumerId: this.options.consumerId,
      shardId,
      records: records.length,
      failures: failures.length,
      error,
      iteratorAgeMs,
    });
    if (failures.length === 0) return undefined;
    const positions = failures.map((id) => records.findIndex((r) => r.SequenceNumber === id));
    // An identifier that is not in the batch makes Lambda retry the whole batch.
    const first = positions.some((p) => p < 0) ? 0 : Math.min(...positions);
    return {
      sequence: records[first]!.SequenceNumber!,
      reason: error ?? 'handler reported batchItemFailures',
    };
  }

  private toLambdaRecord(shardId: string, r: _Record): KinesisStreamRecord {
    return {
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: r.PartitionKey!,
        sequenceNumber: r.SequenceNumber!,
        data: Buffer.from(r.Data ?? new Uint8Array()).toString('base64'),
        approximateArrivalTimestamp: (r.ApproximateArrivalTimestamp?.getTime() ?? Date.now()) / 1000,
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `${shardId}:${r.SequenceNumber}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: 'arn:aws:iam::000000000000:role/local',
      awsRegion: 'us-east-1',
      eventSourceARN: this.streamArn,
    };
  }

  private checkpoint(shardId: string, sequence: string): void {
    this.checkpoints[shardId] = sequence;
    this.saveCheckpoints();
  }

  /** Written to a temporary file and renamed, so a kill mid-write leaves the old or the new, whole. */
  private saveCheckpoints(): void {
    writeCheckpoints(this.options.checkpointFile, this.checkpoints);
  }

  /** Lambda's on-failure destination receives batch metadata; locally we keep the records too. */
  private deadLetter(shardId: string, records: _Record[], reason: string): void {
    mkdirSync(dirname(this.options.dlqFile), { recursive: true });
    const entry = {
      consumer: this.options.consumerId,
      shardId,
      reason,
      failedAt: new Date().toISOString(),
      startSequenceNumber: records[0]?.SequenceNumber,
      endSequenceNumber: records.at(-1)?.SequenceNumber,
      records: records.map((r) => ({
        sequenceNumber: r.SequenceNumber,
        data: Buffer.from(r.Data ?? []).toString('base64'),
      })),
    };
    appendFileSync(this.options.dlqFile, `${JSON.stringify(entry)}\n`);
    console.error(
      `[local] ${this.options.consumerId}: ${records.length} records sent to ${this.options.dlqFile}: ${reason}`,
    );
  }
}

/** A consumer's checkpoints; a missing or unreadable file means none (the shard is read from its start). */
export function readCheckpoints(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, string>) : {};
  } catch {
    return {};
  }
}

export function writeCheckpoints(file: string, checkpoints: Readonly<Record<string, string>>): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(checkpoints));
  renameSync(tmp, file);
}

/** kinesis-local's answer for a sequence number it does not have (AWS answers InvalidArgumentException). */
const isUnknownSequence = (err: unknown) =>
  /Unable to find record with provided SequenceNumber/i.test((err as Error).message ?? '') ||
  (err as Error).name === 'InvalidArgumentException';

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
