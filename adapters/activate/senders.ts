import { setTimeout as sleep } from 'node:timers/promises';
import {
  CustomerProfilesClient,
  DeleteProfileCommand,
  PutProfileObjectCommand,
  SearchProfilesCommand,
} from '@aws-sdk/client-customer-profiles';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { CreateDataDeletionJobCommand, PersonalizeClient } from '@aws-sdk/client-personalize';
import {
  PersonalizeEventsClient,
  PutEventsCommand as PutInteractionsCommand,
  PutUsersCommand,
} from '@aws-sdk/client-personalize-events';
import {
  DeleteUserEndpointsCommand,
  PinpointClient,
  UpdateEndpointsBatchCommand,
} from '@aws-sdk/client-pinpoint';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CreateContactCommand,
  DeleteContactCommand,
  SESv2Client,
  UpdateContactCommand,
} from '@aws-sdk/client-sesv2';
import {
  BATCH_LIMITS,
  chunk,
  type Destination,
  type DestinationType,
  pickTraits,
} from '../../core/activate/destinations.js';
import {
  IDEMPOTENCY_HEADER,
  requestIdempotencyKey,
  SIGNATURE_HEADER,
  signatureHeader,
} from '../../core/activate/signature.js';
import type { Identity } from '../../core/profiles/profile.js';
import type { MembershipDelta } from '../../core/segments/delta.js';
import { withCallRecording } from '../aws/clients.js';
import { type CommandSender, OutboxSender, outboxDir } from './outbox.js';

/** A delivery that failed; `retryable` failures (throttling, 5xx, network) are retried, others go to the DLQ. */
export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

export interface Senders {
  pinpoint: CommandSender;
  personalize: CommandSender;
  /** Personalize control plane (data deletion jobs). */
  personalizeAdmin: CommandSender;
  ses: CommandSender;
  customerProfiles: CommandSender;
  eventbridge: CommandSender;
  s3: CommandSender;
  fetch: typeof fetch;
  exportsBucket?: string;
}

/** Real clients on AWS; locally, the outbox for services without an emulator (S3 is real: s3rver). */
/**
 * A destination's client is built by its first call: a worker delivers to a few destination types, and
 * building all six clients was most of its cold start beyond the SDK (about 7 ms).
 */
function onFirstSend(build: () => CommandSender): CommandSender {
  let client: CommandSender | undefined;
  return {
    send(command) {
      client ??= build();
      return client.send(command);
    },
  };
}

export function sendersFromEnv(
  env: Record<string, string | undefined> = process.env,
  s3 = withCallRecording(new S3Client({ forcePathStyle: Boolean(env.AWS_ENDPOINT_URL_S3) })),
): Senders {
  const outbox = outboxDir(env);
  const pick = (service: string, client: () => CommandSender): CommandSender =>
    outbox ? new OutboxSender(outbox, service) : onFirstSend(() => withCallRecording(client()));
  return {
    pinpoint: pick('pinpoint', () => new PinpointClient({ maxAttempts: 5 })),
    personalize: pick('personalize', () => new PersonalizeEventsClient({ maxAttempts: 5 })),
    personalizeAdmin: pick('personalize', () => new PersonalizeClient({ maxAttempts: 5 })),
    ses: pick('ses', () => new SESv2Client({ maxAttempts: 5 })),
    customerProfiles: pick('customer-profiles', () => new CustomerProfilesClient({ maxAttempts: 5 })),
    eventbridge: pick('eventbridge', () => new EventBridgeClient({ maxAttempts: 5 })),
    s3: s3 as unknown as CommandSender,
    fetch,
    exportsBucket: env.CDP_EXPORTS_BUCKET,
  };
}

const emailOf = (d: MembershipDelta) =>
  (d.traits.email as string | undefined) ?? d.identities.find((i) => i.type === 'email')?.value;
const phoneOf = (d: MembershipDelta) =>
  (d.traits.phone as string | undefined) ?? d.identities.find((i) => i.type === 'phone')?.value;
const userIdOf = (identities: readonly Identity[], profileId: string) =>
  identities.find((i) => i.type === 'user_id')?.value ?? profileId;
const attr = (segmentId: string) => `segment_${segmentId}`.slice(0, 50);

/** AWS SDK errors: throttling and 5xx are worth retrying (after the SDK's own retries). */
function classify(err: unknown): never {
  if (err instanceof DeliveryError) throw err;
  const e = err as {
    name?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
    $retryable?: unknown;
  };
  const status = e.$metadata?.httpStatusCode ?? 0;
  const retryable =
    Boolean(e.$retryable) ||
    status === 429 ||
    status >= 500 ||
    /Throttl|TooManyRequests|ServiceUnavailable|Timeout/i.test(e.name ?? '');
  throw new DeliveryError(`${e.name ?? 'Error'}: ${e.message ?? 'failed'}`, retryable);
}

const buckets = new Map<string, { tokens: number; at: number }>();
/** A token bucket per destination, so one busy segment cannot flood a receiver. */
async function rateLimit(key: string, perSecond: number): Promise<void> {
  for (;;) {
    const now = Date.now();
    const b = buckets.get(key) ?? { tokens: perSecond, at: now };
    b.tokens = Math.min(perSecond, b.tokens + ((now - b.at) / 1000) * perSecond);
    b.at = now;
    buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return;
    }
    await sleep(((1 - b.tokens) / perSecond) * 1000);
  }
}

async function webhook(dest: Destination, deltas: readonly MembershipDelta[], s: Senders): Promise<void> {
  const settings = dest.settings as {
    url: string;
    secret: string;
    batchSize: number;
    rateLimitPerSecond: number;
    traits?: string[];
  };
  for (const part of chunk(deltas, settings.batchSize)) {
    const body = JSON.stringify({
      type: 'audience.batch',
      destinationId: dest.destinationId,
      events: part.map((d) => ({
        type: `audience.${d.kind}`,
        deltaId: d.deltaId,
        segmentId: d.segmentId,
        profileId: d.profileId,
        ...(d.generation === undefined ? {} : { generation: d.generation }),
        at: d.at,
        traits: pickTraits(d.traits, settings.traits),
        identities: d.identities,
      })),
    });
    const idempotencyKey = requestIdempotencyKey(part.map((d) => d.deltaId));
    for (let attempt = 1; ; attempt++) {
      await rateLimit(dest.destinationId, settings.rateLimitPerSecond);
      let status = 0;
      try {
        const res = await s.fetch(settings.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            [SIGNATURE_HEADER]: signatureHeader(settings.secret, Math.floor(Date.now() / 1000), body),
            [IDEMPOTENCY_HEADER]: idempotencyKey,
          },
          body,
          signal: AbortSignal.timeout(10_000),
        });
        status = res.status;
        await res.arrayBuffer();
        if (res.ok) break;
      } catch {
        status = 0; // network error: retryable
      }
      const retryable = status === 0 || status === 429 || status >= 500;
      if (!retryable || attempt >= 4)
        throw new DeliveryError(`webhook answered ${status || 'no response'}`, retryable);
      await sleep(Math.random() * 200 * 2 ** attempt);
    }
  }
}

async function eventbridge(dest: Destination, deltas: readonly MembershipDelta[], s: Senders): Promise<void> {
  const settings = dest.settings as { eventBusName: string; source: string; traits?: string[] };
  for (const part of chunk(deltas, BATCH_LIMITS.eventbridge)) {
    let entries = part.map((d) => ({
      EventBusName: settings.eventBusName,
      Source: settings.source,
      DetailType: `audience.${d.kind}`,
      // EventBridge gives each entry its own event id, even a resent one: detail.deltaId is the key.
      Detail: JSON.stringify({
        deltaId: d.deltaId,
        segmentId: d.segmentId,
        profileId: d.profileId,
        ...(d.generation === undefined ? {} : { generation: d.generation }),
        at: d.at,
        traits: pickTraits(d.traits, settings.traits),
        identities: d.identities,
      }),
    }));
    for (let attempt = 1; entries.length; attempt++) {
      const res = (await s.eventbridge.send(new PutEventsCommand({ Entries: entries })).catch(classify)) as {
        FailedEntryCount?: number;
        Entries?: Array<{ ErrorCode?: string }>;
      };
      if (!res.FailedEntryCount) break;
      entries = entries.filter((_, i) => res.Entries?.[i]?.ErrorCode);
      if (attempt >= 4) throw new DeliveryError(`${entries.length} EventBridge entries failed`, true);
      await sleep(Math.random() * 100 * 2 ** attempt);
    }
  }
}

async function pinpoint(dest: Destination, deltas: readonly MembershipDelta[], s: Senders): Promise<void> {
  const settings = dest.settings as {
    applicationId: string;
    channelType: 'EMAIL' | 'SMS';
    onExit: string;
    traits?: string[];
  };
  const items = deltas.flatMap((d) => {
    const address = settings.channelType === 'EMAIL' ? emailOf(d) : phoneOf(d);
    if (!address) return [];
    const member = d.kind !== 'exited';
    return [
      {
        Id: `${d.profileId}-${settings.channelType.toLowerCase()}`.slice(0, 64),
        ChannelType: settings.channelType,
        Address: address,
        Attributes: { [attr(d.segmentId)]: [member ? 'true' : 'false'] },
        User: {
          UserId: userIdOf(d.identities, d.profileId),
          UserAttributes: Object.fromEntries(
            Object.entries(pickTraits(d.traits, settings.traits)).map(([k, v]) => [k, [String(v)]]),
          ),
        },
        ...(!member && settings.onExit === 'opt-out' ? { OptOut: 'ALL' } : {}),
      },
    ];
  });
  for (const part of chunk(items, BATCH_LIMITS.pinpoint)) {
    await s.pinpoint
      .send(
        new UpdateEndpointsBatchCommand({
          ApplicationId: settings.applicationId,
          EndpointBatchRequest: { Item: part as never },
        }),
      )
      .catch(classify);
  }
}

async function personalize(dest: Destination, deltas: readonly MembershipDelta[], s: Senders): Promise<void> {
  const settings = dest.settings as { datasetArn: string; trackingId?: string; traits?: string[] };
  // Interactions: one PutEvents per person (the API takes one user and session per call).
  if (settings.trackingId) {
    for (const d of deltas) {
      await s.personalize
        .send(
          new PutInteractionsCommand({
            trackingId: settings.trackingId,
            userId: userIdOf(d.identities, d.profileId),
            sessionId: d.profileId,
            eventList: [
              {
                eventId: d.deltaId,
                eventType: `segment_${d.kind}`,
                itemId: d.segmentId,
                sentAt: new Date(d.at),
              },
            ],
          }),
        )
        .catch(classify);
    }
  }
  for (const part of chunk(deltas, BATCH_LIMITS.personalize)) {
    const users = part.map((d) => ({
      userId: userIdOf(d.identities, d.profileId),
      properties: JSON.stringify({
        ...pickTraits(d.traits, settings.traits ?? []),
        [`segment_${d.segmentId}`]: d.kind !== 'exited',
      }),
    }));
    await s.personalize.send(new PutUsersCommand({ datasetArn: settings.datasetArn, users })).catch(classify);
  }
}

async function ses(dest: Destination, deltas: readonly MembershipDelta[], s: Senders): Promise<void> {
  const settings = dest.settings as {
    contactListName: string;
    topics: string[];
    onExit: string;
    traits?: string[];
  };
  for (const d of deltas) {
    const email = emailOf(d);
    if (!email) continue;
    const prefs = (status: 'OPT_IN' | 'OPT_OUT') =>
      settings.topics.map((TopicName) => ({ TopicName, SubscriptionStatus: status }));
    if (d.kind === 'exited') {
      if (settings.onExit === 'remove')
        await s.ses
          .send(new DeleteContactCommand({ ContactListName: settings.contactListName, EmailAddress: email }))
          .catch(ignoreNotFound);
      else
        await s.ses
          .send(
            new UpdateContactCommand({
              ContactListName: settings.contactListName,
              EmailAddress: email,
              TopicPreferences: prefs('OPT_OUT'),
              UnsubscribeAll: settings.topics.length === 0,
            }),
          )
          .catch(ignoreNotFound);
      continue;
    }
    const input = {
      ContactListName: settings.contactListName,
      EmailAddress: email,
      TopicPreferences: prefs('OPT_IN'),
      AttributesData: JSON.stringify(pickTraits(d.traits, settings.traits ?? [])),
    };
    await s.ses.send(new CreateContactCommand(input)).catch(async (err: { name?: string }) => {
      if (err.name !== 'AlreadyExistsException') classify(err);
      await s.ses.send(new UpdateContactCommand({ ...input, UnsubscribeAll: false })).catch(classify);
    });
  }
}

async function customerProfiles(
  dest: Destination,
  deltas: readonly MembershipDelta[],
  s: Senders,
): Promise<void> {
  const settings = dest.settings as { domainName: string; objectTypeName: string; traits?: string[] };
  for (const d of deltas) {
    const object = {
      deltaId: d.deltaId,
      cdpProfileId: d.profileId,
      email: emailOf(d),
      phone: phoneOf(d),
      segmentId: d.segmentId,
      member: d.kind !== 'exited',
      changedAt: d.at,
      ...pickTraits(d.traits, settings.traits ?? []),
    };
    await s.customerProfiles
      .send(
        new PutProfileObjectCommand({
          DomainName: settings.domainName,
          ObjectTypeName: settings.objectTypeName,
          Object: JSON.stringify(object),
        }),
      )
      .catch(classify);
  }
}

const csvCell = (v: unknown) => {
  const text = v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

async function s3Export(dest: Destination, deltas: readonly MembershipDelta[], s: Senders): Promise<void> {
  const settings = dest.settings as { prefix: string; traits?: string[] };
  if (!s.exportsBucket) throw new DeliveryError('CDP_EXPORTS_BUCKET is not set', false);
  const first = deltas[0]!;
  const base = `${settings.prefix}${dest.segmentId}/${first.source}/${first.deltaId}`;
  const rows = deltas.map((d) => ({
    deltaId: d.deltaId,
    kind: d.kind,
    profileId: d.profileId,
    at: d.at,
    identities: d.identities,
    traits: pickTraits(d.traits, settings.traits),
  }));
  const jsonl = rows.map((r) => JSON.stringify(r)).join('\n');
  const columns = ['deltaId', 'kind', 'profileId', 'at', 'identities', 'traits'] as const;
  const csv = [columns.join(','), ...rows.map((r) => columns.map((c) => csvCell(r[c])).join(','))].join('\n');
  const put = (key: string, body: string, type: string) =>
    s.s3
      .send(new PutObjectCommand({ Bucket: s.exportsBucket, Key: key, Body: body, ContentType: type }))
      .catch(classify);
  await put(`${base}.jsonl`, `${jsonl}\n`, 'application/x-ndjson');
  await put(`${base}.csv`, `${csv}\n`, 'text/csv');
  await put(
    `${base}.manifest.json`,
    JSON.stringify({
      segmentId: dest.segmentId,
      source: first.source,
      count: rows.length,
      files: [`${base}.jsonl`, `${base}.csv`],
    }),
    'application/json',
  );
}

function ignoreNotFound(err: { name?: string }) {
  if (err.name !== 'NotFoundException') classify(err);
}

export const SENDERS: Record<
  DestinationType,
  (d: Destination, deltas: readonly MembershipDelta[], s: Senders) => Promise<void>
> = {
  webhook,
  eventbridge,
  pinpoint,
  personalize,
  ses,
  'customer-profiles': customerProfiles,
  's3-export': s3Export,
};

/**
 * GDPR deletion at a destination. Personalize has no per-user delete call: its data deletion job
 * (CreateDataDeletionJob) reads an S3 list of user ids, which is written first.
 */
export async function deleteAtDestination(
  dest: Destination,
  profileId: string,
  identities: readonly Identity[],
  s: Senders,
): Promise<void> {
  const email = identities.find((i) => i.type === 'email')?.value;
  const userId = userIdOf(identities, profileId);
  switch (dest.type) {
    case 'pinpoint':
      await s.pinpoint
        .send(
          new DeleteUserEndpointsCommand({
            ApplicationId: (dest.settings as { applicationId: string }).applicationId,
            UserId: userId,
          }),
        )
        .catch(ignoreNotFound);
      return;
    case 'ses':
      if (email)
        await s.ses
          .send(
            new DeleteContactCommand({
              ContactListName: (dest.settings as { contactListName: string }).contactListName,
              EmailAddress: email,
            }),
          )
          .catch(ignoreNotFound);
      return;
    case 'customer-profiles': {
      const domain = (dest.settings as { domainName: string }).domainName;
      const found = (await s.customerProfiles
        .send(new SearchProfilesCommand({ DomainName: domain, KeyName: '_profileId', Values: [profileId] }))
        .catch(classify)) as { Items?: Array<{ ProfileId?: string }> };
      for (const item of found.Items ?? [])
        if (item.ProfileId)
          await s.customerProfiles
            .send(new DeleteProfileCommand({ DomainName: domain, ProfileId: item.ProfileId }))
            .catch(ignoreNotFound);
      if (!found.Items)
        await s.customerProfiles
          .send(new DeleteProfileCommand({ DomainName: domain, ProfileId: profileId }))
          .catch(ignoreNotFound);
      return;
    }
    case 'webhook': {
      const settings = dest.settings as { url: string; secret: string };
      const body = JSON.stringify({ type: 'profile.deleted', destinationId: dest.destinationId, profileId });
      const res = await s.fetch(settings.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signatureHeader(settings.secret, Math.floor(Date.now() / 1000), body),
        },
        body,
      });
      if (!res.ok) throw new DeliveryError(`webhook answered ${res.status}`, res.status >= 500);
      return;
    }
    case 'eventbridge': {
      const settings = dest.settings as { eventBusName: string; source: string };
      await s.eventbridge
        .send(
          new PutEventsCommand({
            Entries: [
              {
                EventBusName: settings.eventBusName,
                Source: settings.source,
                DetailType: 'profile.deleted',
                Detail: JSON.stringify({ profileId }),
              },
            ],
          }),
        )
        .catch(classify);
      return;
    }
    case 'personalize': {
      // Personalize deletes through a data deletion job that reads a CSV of user ids from S3.
      const settings = dest.settings as { datasetGroupArn?: string; deletionRoleArn?: string };
      if (!settings.datasetGroupArn || !settings.deletionRoleArn || !s.exportsBucket)
        throw new DeliveryError('personalize deletion needs datasetGroupArn and deletionRoleArn', false);
      const key = `personalize-deletions/${dest.destinationId}/${profileId}.csv`;
      await s.s3
        .send(
          new PutObjectCommand({
            Bucket: s.exportsBucket,
            Key: key,
            Body: `USER_ID\n${userId}\n`,
            ContentType: 'text/csv',
          }),
        )
        .catch(classify);
      await s.personalizeAdmin
        .send(
          new CreateDataDeletionJobCommand({
            jobName: `cdp-delete-${profileId}`.slice(0, 63),
            datasetGroupArn: settings.datasetGroupArn,
            dataSource: { dataLocation: `s3://${s.exportsBucket}/${key}` },
            roleArn: settings.deletionRoleArn,
          }),
        )
        .catch(classify);
      return;
    }
    default:
      return;
  }
}
