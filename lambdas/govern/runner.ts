import { gunzipSync, gzipSync } from 'node:zlib';
import { ListShardsCommand, PutRecordCommand } from '@aws-sdk/client-kinesis';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { deleteAtDestination, sendersFromEnv } from '../../adapters/activate/senders.js';
import { dynamoDbDocumentClient, kinesisClient } from '../../adapters/aws/clients.js';
import { s3Client } from '../../adapters/aws/s3-client.js';
import { batchWrite, type Item, queryAll } from '../../adapters/dynamodb/batch.js';
import { DestinationStore } from '../../adapters/dynamodb/destination-store.js';
import { stateFromItem } from '../../adapters/dynamodb/profile-item.js';
import { keys } from '../../adapters/dynamodb/profile-keys.js';
import { ProfileReader } from '../../adapters/dynamodb/profile-reader.js';
import { RegulationStore } from '../../adapters/dynamodb/regulation-store.js';
import { ReplayStore } from '../../adapters/dynamodb/replay-store.js';
import { SegmentChangeLog } from '../../adapters/dynamodb/segment-changes.js';
import { SuppressionStore } from '../../adapters/dynamodb/suppression-store.js';
import { timelineMessageIds } from '../../adapters/dynamodb/timeline-item.js';
import { TombstoneStore } from '../../adapters/dynamodb/tombstone-store.js';
import { createLogger } from '../../adapters/observability/logger.js';
import { ChangeCompactor } from '../../adapters/s3/change-compactor.js';
import { EventCompactor } from '../../adapters/s3/event-compactor.js';
import { quarantinedBelongsToSubject } from '../../core/govern/regulation.js';
import {
  barrierRecord,
  consumersBehind,
  subjectOfEvent,
  TombstoneSet,
} from '../../core/govern/tombstones.js';
import { identityKey } from '../../core/identity/identifiers.js';
import {
  changeColumnarKey,
  changeManifestKey,
  partitionOfChangeKey,
} from '../../core/lake/change-columnar.js';
import { columnarObjectKey, manifestKey, messageIdsKey } from '../../core/lake/columnar.js';
import { partitionOfKey } from '../../core/lake/layout.js';
import { type ChangeRecord, changeBelongsToSubject } from '../../core/lake/profile-changes.js';
import type { Identity } from '../../core/profiles/profile.js';
import { loadPhoneNumbers, normalizeLoadedPhone } from '../../core/shared/phone-numbers.js';
import { ENV, loadConfig, nonEmptyString, optional } from '../../resources/env.js';
import { STREAM_CONSUMERS } from '../../resources/functions/index.js';
import { scrubLocalFiles } from './local-scrub.js';
import { resolveSubject, tombstonesOf } from './subject.js';
import { type WorkItem, WorkItems } from './work-item.js';

const config = loadConfig({
  [ENV.profilesTable]: nonEmptyString,
  [ENV.controlTable]: nonEmptyString,
  [ENV.lakeBucket]: nonEmptyString,
  [ENV.timelineTable]: optional(nonEmptyString),
  [ENV.eventsStream]: nonEmptyString,
});
const timelineTable = config[ENV.timelineTable] ?? config[ENV.profilesTable];
const ddb = dynamoDbDocumentClient();
const s3 = s3Client();
const reader = new ProfileReader(ddb, config[ENV.profilesTable], timelineTable);
const regulations = new RegulationStore(ddb, config[ENV.controlTable]);
const work = new WorkItems(ddb, config[ENV.controlTable]);
const suppressions = new SuppressionStore(ddb, config[ENV.controlTable]);
const destinations = new DestinationStore(ddb, config[ENV.controlTable]);
const replays = new ReplayStore(ddb, config[ENV.controlTable]);
const segmentChanges = new SegmentChangeLog(ddb, config[ENV.controlTable], config[ENV.profilesTable]);
const logger = createLogger('regulation-runner');
const compactor = new EventCompactor(s3, config[ENV.lakeBucket]);
const changeCompactor = new ChangeCompactor(s3, config[ENV.lakeBucket]);
const tombstones = new TombstoneStore(ddb, config[ENV.controlTable]);
const kinesis = kinesisClient();

/**
 * How long the job waits for every stream consumer to pass the deletion's barrier before it fails with
 * the consumers still behind: the stream's worst normal lag (batching windows, retries of a failing
 * batch with backoff) is minutes; beyond this, something is broken and a person must look.
 */
export const CATCH_UP_LIMIT_MS = 15 * 60_000;

const uniq = (ids: readonly Identity[]) => [...new Map(ids.map((i) => [identityKey(i), i])).values()];

/**
 * Identifiers → profiles (following merges) → every identifier and profile id of those people, added to
 * what the API found at acceptance; anything new gets its tombstone (same acceptance time).
 */
async function resolve(regulationId: string) {
  const item = await work.get(regulationId);
  const found = await resolveSubject(reader, item.requested);
  const known = new Set([...item.subject.map(identityKey), ...item.profileIds.map((p) => `P\0${p}`)]);
  const newIds = found.subject.filter((i) => !known.has(identityKey(i)));
  const newProfiles = found.profileIds.filter((p) => !known.has(`P\0${p}`));
  await tombstones.record(tombstonesOf(regulationOf(item), newIds, newProfiles));
  item.subject = uniq([...item.subject, ...found.subject]);
  item.profileIds = [...new Set([...item.profileIds, ...found.profileIds])];
  item.rootIds = [...new Set([...(item.rootIds ?? []), ...found.rootIds])];
  await work.put(item);
  await regulations.recordStore(regulationId, 'profiles', {
    status: 'pending',
    count: item.profileIds.length,
  });
  return { profiles: item.profileIds.length };
}

const regulationOf = (item: WorkItem) => ({
  regulationId: item.regulationId,
  // Work items written before tombstones existed: the job's own start is the (later, safe) cut-off.
  acceptedAt: item.acceptedAt ?? new Date().toISOString(),
  suppress: item.type === 'delete_and_suppress',
});

/**
 * Puts a barrier record on every open shard of the events stream, behind everything written before
 * the deletion was accepted. Each stream consumer records when it passed it (`caughtUp` waits for that).
 */
async function barrier(regulationId: string) {
  const item = await work.get(regulationId);
  const shards: Array<{ id: string; start: string }> = [];
  let NextToken: string | undefined;
  do {
    const page = await kinesis.send(
      new ListShardsCommand(NextToken ? { NextToken } : { StreamName: config[ENV.eventsStream] }),
    );
    for (const shard of page.Shards ?? [])
      if (
        !shard.SequenceNumberRange?.EndingSequenceNumber &&
        shard.ShardId &&
        shard.HashKeyRange?.StartingHashKey
      )
        shards.push({ id: shard.ShardId, start: shard.HashKeyRange.StartingHashKey });
    NextToken = page.NextToken;
  } while (NextToken);
  for (const shard of shards)
    await kinesis.send(
      new PutRecordCommand({
        StreamName: config[ENV.eventsStream],
        PartitionKey: regulationId,
        ExplicitHashKey: shard.start,
        Data: Buffer.from(JSON.stringify(barrierRecord(regulationId))),
      }),
    );
  item.barrier = { shards: shards.map((s) => s.id), at: new Date().toISOString() };
  await work.put(item);
  return { shards: shards.length };
}

/**
 * Whether every stream consumer has passed the barrier on every shard: then everything that was in
 * the stream before the deletion has been stored (and is erased next) or dropped. Fails, naming the
 * consumers and shards behind, after CATCH_UP_LIMIT_MS.
 */
async function caughtUp(regulationId: string) {
  const item = await work.get(regulationId);
  const shards = item.barrier?.shards ?? [];
  const behind = consumersBehind(
    STREAM_CONSUMERS.map((c) => c.functionId),
    shards,
    await tombstones.passes(regulationId),
  );
  // A running replay writes people's data too: it has caught up once a batch screened after the
  // barrier (so after acceptance) has committed; everything it commits from then on knows the deletion.
  const replay = await replays.active();
  if (replay && !(replay.screenedAt && item.barrier?.at && replay.screenedAt >= item.barrier.at))
    behind.push(`replay ${replay.replayId}`);
  if (behind.length === 0) {
    await regulations.recordStore(regulationId, 'in_flight', {
      status: 'done',
      count: shards.length,
      detail: `every stream consumer passed the deletion's point in the stream on ${shards.length} shards`,
    });
    return { caughtUp: true };
  }
  const waited = Date.now() - Date.parse(item.barrier?.at ?? new Date().toISOString());
  if (waited > CATCH_UP_LIMIT_MS) {
    const detail = `stream consumers did not pass the deletion's point in the stream within ${CATCH_UP_LIMIT_MS / 60_000} minutes: ${behind.join(', ')}`;
    await regulations.recordStore(regulationId, 'in_flight', {
      status: 'failed',
      count: behind.length,
      detail,
    });
    throw Object.assign(new Error(detail), { name: 'ConsumersBehind' });
  }
  return { caughtUp: false, behind: behind.length };
}

async function* objects(prefix: string) {
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: config[ENV.lakeBucket], Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) yield o.Key!;
    token = page.NextContinuationToken;
  } while (token);
}

/** Drops earlier versions of a rewritten object, so the subject's events do not survive in history. */
async function purgeOldVersions(key: string): Promise<void> {
  try {
    const res = await s3.send(new ListObjectVersionsCommand({ Bucket: config[ENV.lakeBucket], Prefix: key }));
    for (const v of res.Versions ?? []) {
      if (v.Key === key && !v.IsLatest && v.VersionId)
        await s3.send(
          new DeleteObjectCommand({ Bucket: config[ENV.lakeBucket], Key: key, VersionId: v.VersionId }),
        );
    }
  } catch (err) {
    // Stores without versioning (s3rver) have nothing to purge; the lifecycle rule is the backstop on AWS.
    if (!['NotImplemented', 'MethodNotAllowed'].includes((err as Error).name)) throw err;
  }
}

/**
 * Rewrites every lake object holding one of the subject's events without them. People's events are
 * spread over every partition, so this reads the whole raw and quarantine zones once per job.
 */
async function lake(regulationId: string) {
  // Before any event is read: the filter below keeps what it cannot read, so a phone number met
  // without the metadata loaded would leave that event in the lake.
  await loadPhoneNumbers();
  const item = await work.get(regulationId);
  const subject = new Set(item.subject.map((i) => `${i.type}:${i.value}`));
  const profileIds = new Set(item.profileIds);
  // The same rule every stage applies: with plain `delete`, events received after acceptance stay.
  const erased = new TombstoneSet(tombstonesOf(regulationOf(item), item.subject, []));
  let keptAfter = 0;
  const counts = {
    raw: { objects: 0, events: 0, partitions: new Set<string>() },
    quarantine: { objects: 0, events: 0, partitions: new Set<string>() },
    changes: { objects: 0, events: 0, partitions: new Set<string>() },
  };
  const rewrittenRaw: string[] = [];
  const rewrittenChanges: string[] = [];
  for (const zone of ['raw', 'quarantine', 'changes'] as const) {
    for await (const key of objects(`${zone}/`)) {
      const obj = await s3.send(new GetObjectCommand({ Bucket: config[ENV.lakeBucket], Key: key }));
      const bytes = Buffer.from(await obj.Body!.transformToByteArray());
      const lines = gunzipSync(bytes)
        .toString('utf8')
        .split('\n')
        .filter((l) => l.trim());
      const kept = lines.filter((line) => {
        try {
          const record = JSON.parse(line) as Record<string, unknown>;
          if (zone === 'raw') {
            const { identifiers, receivedAt } = subjectOfEvent(record, (v) => normalizeLoadedPhone(v));
            if (erased.erasedBy(identifiers, receivedAt)) return false;
            if (identifiers.some((i) => subject.has(`${i.type}:${i.value}`))) keptAfter++;
            return true;
          }
          if (zone === 'changes') return !changeBelongsToSubject(record as ChangeRecord, profileIds, subject);
          return !quarantinedBelongsToSubject(Buffer.from(String(record.raw), 'base64'), subject);
        } catch {
          return true;
        }
      });
      if (kept.length === lines.length) continue;
      counts[zone].objects++;
      counts[zone].events += lines.length - kept.length;
      counts[zone].partitions.add(key.slice(0, key.lastIndexOf('/')));
      if (zone === 'raw') rewrittenRaw.push(key);
      if (zone === 'changes') rewrittenChanges.push(key);
      if (kept.length === 0)
        await s3.send(new DeleteObjectCommand({ Bucket: config[ENV.lakeBucket], Key: key }));
      else
        await s3.send(
          new PutObjectCommand({
            Bucket: config[ENV.lakeBucket],
            Key: key,
            Body: gzipSync(`${kept.join('\n')}\n`),
            ContentType: 'application/x-ndjson',
            ContentEncoding: 'gzip',
          }),
        );
      await purgeOldVersions(key);
    }
  }
  // Compacted Parquet holds the same events: rebuild each compacted partition whose raw objects changed.
  const partitions = new Map(
    rewrittenRaw.flatMap((key) => {
      const p = partitionOfKey(key);
      return p ? [[`${p.sourceId}/${p.dt}/${p.hr}`, p] as const] : [];
    }),
  );
  let recompacted = 0;
  for (const p of partitions.values()) {
    if (!(await compactor.manifest(p))) continue;
    await compactor.compactPartition(p, new Date());
    await purgeOldVersions(columnarObjectKey(p));
    await purgeOldVersions(manifestKey(p));
    await purgeOldVersions(messageIdsKey(p));
    recompacted++;
  }
  // And compacted change-table days: rebuilt from their rewritten JSON objects, so the person is gone
  // from the Parquet the views read too.
  const changeDays = new Map(
    rewrittenChanges.flatMap((key) => {
      const p = partitionOfChangeKey(key);
      return p ? [[`${p.table}/${p.day}`, p] as const] : [];
    }),
  );
  let changeDaysRebuilt = 0;
  for (const { table, day } of changeDays.values()) {
    if (!(await changeCompactor.manifest(table, day))) continue;
    await changeCompactor.compactDay(table, day, new Date());
    await purgeOldVersions(changeColumnarKey(table, day));
    await purgeOldVersions(changeManifestKey(table, day));
    changeDaysRebuilt++;
  }
  for (const zone of ['raw', 'quarantine'] as const) {
    const c = counts[zone];
    await regulations.recordStore(regulationId, zone === 'raw' ? 'lake' : 'quarantine', {
      status: 'done',
      count: c.events,
      detail: `${c.objects} objects rewritten in ${c.partitions.size} partitions${zone === 'raw' ? `; ${recompacted} Parquet partitions rebuilt` : ''}`,
    });
  }
  item.counts = { ...item.counts, keptAfter };
  await work.put(item);
  await regulations.recordStore(regulationId, 'lake_profiles', {
    status: 'done',
    count: counts.changes.events,
    detail: `${counts.changes.objects} change objects rewritten; ${changeDaysRebuilt} Parquet days rebuilt`,
  });
  return {
    rawEvents: counts.raw.events,
    quarantinedEvents: counts.quarantine.events,
    changeRecords: counts.changes.events,
  };
}

async function destinationsStep(regulationId: string) {
  const item = await work.get(regulationId);
  const senders = sendersFromEnv(process.env, s3);
  let calls = 0;
  const skipped: string[] = [];
  for (const destination of await destinations.all()) {
    // Activation's position markers are keyed by profile id: they go whatever the destination type.
    await destinations.forget(destination.destinationId, [
      ...new Set([...item.profileIds, ...(item.rootIds ?? [])]),
    ]);
    if (destination.type === 's3-export') {
      skipped.push(destination.type);
      continue;
    }
    for (const profileId of item.rootIds ?? []) {
      await deleteAtDestination(destination, profileId, item.subject, senders);
      calls++;
    }
  }
  await regulations.recordStore(regulationId, 'destinations', {
    status: 'done',
    count: calls,
    ...(skipped.length ? { detail: `not automated: ${[...new Set(skipped)].join(', ')} (see README)` } : {}),
  });
  return { calls };
}

/** Every profiles-table item of the subject: profile, timeline, merges, identity nodes, memberships. */
async function erase(regulationId: string) {
  const item = await work.get(regulationId);
  const table = config[ENV.profilesTable];
  const doomed = new Map<string, { pk: string; sk: string }>();
  const add = (k: { pk: string; sk: string }) => doomed.set(`${k.pk}\0${k.sk}`, k);
  // Events the subject's live profiles keep with them are part of their timeline (`latest-events.ts`).
  const eventIds = new Set<string>();
  for (const profileId of item.profileIds) {
    for (const query of [
      {
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': keys.profilePk(profileId) },
        ProjectionExpression: 'pk, sk, profileId, packed, mergedInto',
      },
      {
        IndexName: 'byProfile',
        KeyConditionExpression: 'gsi1pk = :p',
        ExpressionAttributeValues: { ':p': keys.profilePk(profileId) },
        ProjectionExpression: 'pk, sk',
      },
    ]) {
      for (const i of await queryAll(ddb, { TableName: table, ...query })) {
        add({ pk: i.pk as string, sk: i.sk as string });
        if (i.sk === 'PROFILE' && i.packed !== undefined && !i.mergedInto)
          for (const p of stateFromItem(i as Item, { withoutTraits: true }).pending ?? [])
            eventIds.add(p.event.messageId);
      }
    }
  }
  for (const id of item.subject) add(keys.identity(id));
  // Timeline events live in their own table (under the same keys).
  const events: Array<{ pk: string; sk: string }> = [];
  if (timelineTable !== table)
    for (const profileId of item.profileIds)
      for (const i of await queryAll(ddb, {
        TableName: timelineTable,
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': keys.profilePk(profileId) },
        // `ev` to count the events an item holds (a batch's events of a person share one).
        ProjectionExpression: 'pk, sk, ev',
      })) {
        events.push({ pk: i.pk as string, sk: i.sk as string });
        for (const id of timelineMessageIds(i)) eventIds.add(id);
      }
  await batchWrite(
    ddb,
    table,
    [...doomed.values()].map((k) => ({ delete: k })),
  );
  await batchWrite(
    ddb,
    timelineTable,
    events.map((k) => ({ delete: k })),
  );
  const count = (prefix: string) =>
    [...doomed.values(), ...events].filter((k) => k.sk.startsWith(prefix) || k.pk.startsWith(prefix)).length;
  // Profile items only: a profile's trait values item (`PROFILE#TRAITS`) is part of it.
  const profiles = [...doomed.values()].filter((k) => k.sk === 'PROFILE').length;
  await regulations.recordStore(regulationId, 'profiles', { status: 'done', count: profiles });
  await regulations.recordStore(regulationId, 'timeline', {
    status: 'done',
    count: timelineTable !== table ? eventIds.size : count('EV#') + eventIds.size,
  });
  await regulations.recordStore(regulationId, 'identities', { status: 'done', count: count('ID#') });
  await regulations.recordStore(regulationId, 'memberships', { status: 'done', count: count('SEG#') });
  // Incremental segment runs list changed and due profile ids; none of them may outlive the person.
  const listings = await segmentChanges.forget(item.profileIds, new Date());
  await regulations.recordStore(regulationId, 'segment_changes', { status: 'done', count: listings });
  return { items: doomed.size };
}

/** Local runtime only: the queue, dead-letter and outbox files stand in for SQS and the destinations. */
async function scrub(regulationId: string) {
  const item = await work.get(regulationId);
  const dataDir = process.env.CDP_LOCAL_DATA_DIR;
  if (!dataDir) {
    await regulations.recordStore(regulationId, 'queues', {
      status: 'done',
      count: 0,
      detail: 'SQS messages cannot be deleted one by one: activation drops them on delivery (tombstones)',
    });
    return { lines: 0 };
  }
  const counts = scrubLocalFiles(dataDir, item.subject, item.profileIds);
  await regulations.recordStore(regulationId, 'queues', { status: 'done', count: counts.queues });
  await regulations.recordStore(regulationId, 'outbox', {
    status: 'done',
    count: counts.outbox,
    detail: 'deletion calls to destinations are kept as the record that they were made',
  });
  return { lines: counts.queues + counts.outbox };
}

async function finalize(regulationId: string) {
  const item = await work.get(regulationId);
  // Plain delete: what arrived after acceptance was kept, and (once erased) may start a new profile.
  if (item.type === 'delete') {
    // Profile ids derive from identifiers, so a new profile of the person has the old one's id: from
    // now on only deltas older than the erase are dropped (they carry what was erased).
    await tombstones.record(
      tombstonesOf(
        { ...regulationOf(item), acceptedAt: new Date().toISOString() },
        [],
        item.profileIds,
        true,
      ),
    );
    const keptAfter = item.counts?.keptAfter ?? 0;
    const again = await resolveSubject(reader, item.requested);
    await regulations.recordStore(regulationId, 'after_deletion', {
      status: 'done',
      count: keptAfter,
      detail:
        again.profileIds.length > 0
          ? `${keptAfter} events received after the deletion was accepted were kept; they started a new profile`
          : `${keptAfter} events received after the deletion was accepted were kept; no new profile exists`,
    });
  }
  if (item.type === 'delete_and_suppress') {
    await suppressions.suppress(item.subject, regulationId);
    await regulations.recordStore(regulationId, 'suppression', {
      status: 'done',
      count: item.subject.length,
    });
  }
  await regulations.finish(regulationId, 'completed');
  // A crash before this point leaves the work item, which expires within a day (TTL).
  await work.delete(regulationId);

  logger.info('regulation completed', { regulationId, profiles: item.profileIds.length });
  return { status: 'completed' };
}

async function failed(regulationId: string) {
  await regulations.finish(regulationId, 'failed');
  return { status: 'failed' };
}

const STEPS = {
  resolve,
  barrier,
  caughtUp,
  lake,
  destinations: destinationsStep,
  erase,
  scrub,
  finalize,
  failed,
} as const;

export async function handler(input: { step: keyof typeof STEPS; regulationId: string }) {
  try {
    return await STEPS[input.step](input.regulationId);
  } catch (err) {
    logger.error('regulation step failed', {
      regulationId: input.regulationId,
      step: input.step,
      errorName: (err as Error).name,
    });
    throw err;
  }
}
