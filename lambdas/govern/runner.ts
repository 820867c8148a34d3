import { gunzipSync, gzipSync } from 'node:zlib';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { deleteAtDestination, sendersFromEnv } from '../../adapters/activate/senders.js';
import { dynamoDbDocumentClient, s3Client } from '../../adapters/aws/clients.js';
import { batchWrite } from '../../adapters/dynamodb/batch.js';
import { DestinationStore } from '../../adapters/dynamodb/destination-store.js';
import { keys } from '../../adapters/dynamodb/profile-keys.js';
import { ProfileReader } from '../../adapters/dynamodb/profile-reader.js';
import { RegulationStore } from '../../adapters/dynamodb/regulation-store.js';
import { SuppressionStore } from '../../adapters/dynamodb/suppression-store.js';
import { createLogger } from '../../adapters/observability/logger.js';
import { EventCompactor } from '../../adapters/s3/event-compactor.js';
import { belongsToSubject, quarantinedBelongsToSubject } from '../../core/govern/regulation.js';
import { identityKey } from '../../core/identity/identifiers.js';
import { columnarObjectKey, manifestKey, messageIdsKey } from '../../core/lake/columnar.js';
import { partitionOfKey } from '../../core/lake/layout.js';
import { type ChangeRecord, changeBelongsToSubject } from '../../core/lake/profile-changes.js';
import type { Identity } from '../../core/profiles/profile.js';
import { ENV, loadConfig, requiredString } from '../../resources/env.js';
import { WorkItems } from './work-item.js';

const config = loadConfig(
  z.object({
    [ENV.profilesTable]: requiredString(),
    [ENV.controlTable]: requiredString(),
    [ENV.lakeBucket]: requiredString(),
    [ENV.timelineTable]: z.string().min(1).optional(),
  }),
);
const timelineTable = config[ENV.timelineTable] ?? config[ENV.profilesTable];
const ddb = dynamoDbDocumentClient();
const s3 = s3Client();
const reader = new ProfileReader(ddb, config[ENV.profilesTable], timelineTable);
const regulations = new RegulationStore(ddb, config[ENV.controlTable]);
const work = new WorkItems(ddb, config[ENV.controlTable]);
const suppressions = new SuppressionStore(ddb, config[ENV.controlTable]);
const destinations = new DestinationStore(ddb, config[ENV.controlTable]);
const logger = createLogger('regulation-runner');
const compactor = new EventCompactor(s3, config[ENV.lakeBucket]);

const uniq = (ids: readonly Identity[]) => [...new Map(ids.map((i) => [identityKey(i), i])).values()];

/** Identifiers → profiles (following merges) → every identifier and profile id of those people. */
async function resolve(regulationId: string) {
  const item = await work.get(regulationId);
  const subject = [...item.requested];
  const profileIds = new Set<string>();
  const roots = new Set<string>();
  for (const id of item.requested) {
    const pointer = await reader.resolveIdentity(id.type, id.value);
    if (!pointer) continue;
    profileIds.add(pointer);
    const state = await reader.getState(pointer);
    if (!state) continue;
    profileIds.add(state.profileId);
    roots.add(state.profileId);
    for (const m of state.mergedFrom) profileIds.add(m);
    subject.push(...state.identities);
  }
  item.subject = uniq(subject);
  item.profileIds = [...profileIds];
  item.rootIds = [...roots];
  await work.put(item);
  await regulations.recordStore(regulationId, 'profiles', {
    status: 'pending',
    count: item.profileIds.length,
  });
  return { profiles: item.profileIds.length };
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
  const item = await work.get(regulationId);
  const subject = new Set(item.subject.map((i) => `${i.type}:${i.value}`));
  const profileIds = new Set(item.profileIds);
  const counts = {
    raw: { objects: 0, events: 0, partitions: new Set<string>() },
    quarantine: { objects: 0, events: 0, partitions: new Set<string>() },
    changes: { objects: 0, events: 0, partitions: new Set<string>() },
  };
  const rewrittenRaw: string[] = [];
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
          if (zone === 'raw') return !belongsToSubject(record, subject);
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
  for (const zone of ['raw', 'quarantine'] as const) {
    const c = counts[zone];
    await regulations.recordStore(regulationId, zone === 'raw' ? 'lake' : 'quarantine', {
      status: 'done',
      count: c.events,
      detail: `${c.objects} objects rewritten in ${c.partitions.size} partitions${zone === 'raw' ? `; ${recompacted} Parquet partitions rebuilt` : ''}`,
    });
  }
  await regulations.recordStore(regulationId, 'lake_profiles', {
    status: 'done',
    count: counts.changes.events,
    detail: `${counts.changes.objects} change objects rewritten`,
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
  for (const profileId of item.profileIds) {
    for (const query of [
      { KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': keys.profilePk(profileId) } },
      {
        IndexName: 'byProfile',
        KeyConditionExpression: 'gsi1pk = :p',
        ExpressionAttributeValues: { ':p': keys.profilePk(profileId) },
      },
    ]) {
      let ExclusiveStartKey: Record<string, unknown> | undefined;
      do {
        const page = await ddb.send(
          new QueryCommand({ TableName: table, ...query, ProjectionExpression: 'pk, sk', ExclusiveStartKey }),
        );
        for (const i of page.Items ?? []) add({ pk: i.pk as string, sk: i.sk as string });
        ExclusiveStartKey = page.LastEvaluatedKey;
      } while (ExclusiveStartKey);
    }
  }
  for (const id of item.subject) add(keys.identity(id));
  // Timeline events live in their own table (under the same keys).
  const events: Array<{ pk: string; sk: string }> = [];
  if (timelineTable !== table)
    for (const profileId of item.profileIds) {
      let ExclusiveStartKey: Record<string, unknown> | undefined;
      do {
        const page = await ddb.send(
          new QueryCommand({
            TableName: timelineTable,
            KeyConditionExpression: 'pk = :p',
            ExpressionAttributeValues: { ':p': keys.profilePk(profileId) },
            ProjectionExpression: 'pk, sk',
            ExclusiveStartKey,
          }),
        );
        for (const i of page.Items ?? []) events.push({ pk: i.pk as string, sk: i.sk as string });
        ExclusiveStartKey = page.LastEvaluatedKey;
      } while (ExclusiveStartKey);
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
  await regulations.recordStore(regulationId, 'profiles', { status: 'done', count: count('PROFILE') });
  await regulations.recordStore(regulationId, 'timeline', { status: 'done', count: count('EV#') });
  await regulations.recordStore(regulationId, 'identities', { status: 'done', count: count('ID#') });
  await regulations.recordStore(regulationId, 'memberships', { status: 'done', count: count('SEG#') });
  return { items: doomed.size };
}

async function finalize(regulationId: string) {
  const item = await work.get(regulationId);
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

const STEPS = { resolve, lake, destinations: destinationsStep, erase, finalize, failed } as const;

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
