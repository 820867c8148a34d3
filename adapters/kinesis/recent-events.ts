import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';

export interface RecentRecord {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly arrivedAt: string;
  readonly data: Uint8Array;
}

/**
 * Reads what the stream received since `since`, from every open shard (AT_TIMESTAMP iterators). It is
 * for the event debugger: a short window, bounded reads (`maxPerShard`, a few GetRecords calls), never
 * a consumer's checkpoint, so it cannot disturb the real consumers beyond the shared read rate.
 */
export async function readRecentRecords(
  kinesis: KinesisClient,
  streamName: string,
  since: Date,
  maxPerShard = 500,
): Promise<RecentRecord[]> {
  const { Shards = [] } = await kinesis.send(new ListShardsCommand({ StreamName: streamName }));
  const open = Shards.filter((s) => !s.SequenceNumberRange?.EndingSequenceNumber);
  const perShard = await Promise.all(
    open.map(async (shard) => {
      const out: RecentRecord[] = [];
      let { ShardIterator: iterator } = await kinesis.send(
        new GetShardIteratorCommand({
          StreamName: streamName,
          ShardId: shard.ShardId,
          ShardIteratorType: 'AT_TIMESTAMP',
          Timestamp: since,
        }),
      );
      for (let calls = 0; iterator && calls < 5 && out.length < maxPerShard; calls++) {
        const page = await kinesis.send(
          new GetRecordsCommand({ ShardIterator: iterator, Limit: maxPerShard - out.length }),
        );
        for (const r of page.Records ?? [])
          out.push({
            shardId: shard.ShardId!,
            sequenceNumber: r.SequenceNumber!,
            arrivedAt: (r.ApproximateArrivalTimestamp ?? new Date()).toISOString(),
            data: r.Data!,
          });
        if (!page.Records?.length || page.MillisBehindLatest === 0) break;
        iterator = page.NextShardIterator;
      }
      return out;
    }),
  );
  return perShard.flat();
}
