import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { decodeRecord } from '../../core/events/record-codec.js';
import type { LocalCdp } from '../../local/runtime.js';
import { EVENTS_STREAM } from '../../resources/streams.js';

export interface ReadRecord {
  readonly shardId: string;
  readonly partitionKey: string;
  readonly data: Record<string, unknown>;
}

/** Every record on the local events stream, from the start of each shard, independent of consumers. */
export async function readEventsStream(cdp: Pick<LocalCdp, 'endpoints'>): Promise<ReadRecord[]> {
  const kinesis = new KinesisClient({
    region: 'us-east-1',
    endpoint: cdp.endpoints.kinesis,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    requestHandler: new NodeHttpHandler(),
  });
  const out: ReadRecord[] = [];
  try {
    const { Shards = [] } = await kinesis.send(
      new ListShardsCommand({ StreamName: EVENTS_STREAM.localName }),
    );
    for (const shard of Shards) {
      let { ShardIterator } = await kinesis.send(
        new GetShardIteratorCommand({
          StreamName: EVENTS_STREAM.localName,
          ShardId: shard.ShardId!,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      while (ShardIterator) {
        const page = await kinesis.send(new GetRecordsCommand({ ShardIterator, Limit: 1000 }));
        for (const r of page.Records ?? []) {
          out.push({
            shardId: shard.ShardId!,
            partitionKey: r.PartitionKey!,
            data: JSON.parse(decodeRecord(r.Data!)) as Record<string, unknown>,
          });
        }
        if (!page.Records?.length || page.MillisBehindLatest === 0) break;
        ShardIterator = page.NextShardIterator;
      }
    }
  } finally {
    kinesis.destroy();
  }
  return out;
}
