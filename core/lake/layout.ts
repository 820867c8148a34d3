/**
 * Lake layout: raw events as gzip JSON Lines under
 * `raw/source_id=<id>/dt=YYYY-MM-DD/hr=HH/<shard>-<firstSeq>-<lastSeq>.json.gz`, partitioned by the
 * event's `receivedAt` (UTC). The object name comes from the stream positions of the batch, so a retried
 * batch overwrites its own objects instead of adding copies.
 */
export interface RawPartition {
  readonly sourceId: string;
  readonly dt: string;
  readonly hr: string;
}

export function rawPartition(sourceId: string, receivedAt: string): RawPartition {
  const iso = new Date(receivedAt).toISOString();
  return { sourceId, dt: iso.slice(0, 10), hr: iso.slice(11, 13) };
}

export const partitionPrefix = (p: RawPartition) =>
  `raw/source_id=${encodeURIComponent(p.sourceId)}/dt=${p.dt}/hr=${p.hr}/`;

export function rawObjectKey(p: RawPartition, shardId: string, firstSeq: string, lastSeq: string): string {
  return `${partitionPrefix(p)}${shardId}-${firstSeq}-${lastSeq}.json.gz`;
}

/** Parses `raw/source_id=.../dt=.../hr=.../x` back into its partition values. */
export function partitionOfKey(key: string): RawPartition | undefined {
  const m = /^raw\/source_id=([^/]+)\/dt=(\d{4}-\d{2}-\d{2})\/hr=(\d{2})\//.exec(key);
  return m ? { sourceId: decodeURIComponent(m[1]!), dt: m[2]!, hr: m[3]! } : undefined;
}
