import { CreateImportJobCommand } from '@aws-sdk/client-pinpoint';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { type Destination, pickTraits } from '../../core/activate/destinations.js';
import type { Profile } from '../../core/profiles/profile.js';
import type { DestinationStore } from '../dynamodb/destination-store.js';
import type { ProfileReader } from '../dynamodb/profile-reader.js';
import type { SegmentStore } from '../dynamodb/segment-store.js';
import type { Senders } from './senders.js';

const cell = (v: unknown) => {
  const text = v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};
const csv = (header: readonly string[], rows: ReadonlyArray<readonly unknown[]>) =>
  `${[header.join(','), ...rows.map((r) => r.map(cell).join(','))].join('\n')}\n`;
const userIdOf = (p: Profile) => p.identities.find((i) => i.type === 'user_id')?.value ?? p.profileId;
const emailOf = (p: Profile) =>
  (p.traits.email as string | undefined) ?? p.identities.find((i) => i.type === 'email')?.value;

export interface ExportDeps {
  readonly destinations: DestinationStore;
  readonly segments: SegmentStore;
  readonly reader: ProfileReader;
  readonly senders: Senders;
}

/**
 * Full-audience exports after a batch run, for destinations that take whole audiences: an S3 snapshot
 * (JSON Lines, CSV and a manifest), a Pinpoint endpoint file imported as a segment, and Personalize
 * users and interactions CSVs in the dataset schemas for bulk import.
 */
export async function exportAudiences(
  runId: string,
  segmentIds: readonly string[],
  deps: ExportDeps,
  now = new Date(),
  /** A catch-up run exports only for the destination it catches up. */
  onlyDestinationId?: string,
): Promise<number> {
  let files = 0;
  const bucket = deps.senders.exportsBucket;
  if (!bucket) return 0;
  const put = async (key: string, body: string, type: string) => {
    await deps.senders.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: type }),
    );
    files++;
  };
  for (const segmentId of segmentIds) {
    const wanted = (await deps.destinations.forSegment(segmentId)).filter(
      (d) =>
        (onlyDestinationId === undefined || d.destinationId === onlyDestinationId) &&
        (d.type === 's3-export' ||
          d.type === 'personalize' ||
          (d.type === 'pinpoint' && d.settings.importSegment)),
    );
    if (wanted.length === 0) continue;
    const members: Array<{ profile: Profile; enteredAt: string }> = [];
    // A listing can name a member twice while memberships are being migrated (see `listMembers`).
    const listed = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await deps.segments.listMembers(segmentId, { limit: 500, cursor });
      for (const m of page.members) {
        if (listed.has(m.profileId)) continue;
        listed.add(m.profileId);
        const profile = await deps.reader.getProfile(m.profileId);
        if (profile) members.push({ profile, enteredAt: m.enteredAt });
      }
      cursor = page.cursor;
    } while (cursor);

    for (const d of wanted) {
      const allowed = members.filter(
        (m) => !d.consentCategory || m.profile.consent[d.consentCategory] === true,
      );
      const traitsOf = (p: Profile) => pickTraits(p.traits, (d.settings as { traits?: string[] }).traits);
      if (d.type === 's3-export') await exportSnapshot(d, segmentId, runId, allowed, traitsOf, put, now);
      else if (d.type === 'pinpoint') {
        const settings = d.settings as {
          applicationId: string;
          importRoleArn?: string;
          importSegmentId?: string;
          channelType: string;
        };
        const key = `pinpoint/${segmentId}/${runId}/endpoints.json`;
        const endpoints = allowed
          .map(({ profile }) => ({ profile, address: emailOf(profile) }))
          .filter((e) => e.address)
          .map(({ profile, address }) => ({
            Id: `${profile.profileId}-email`.slice(0, 64),
            ChannelType: 'EMAIL',
            Address: address,
            User: {
              UserId: userIdOf(profile),
              UserAttributes: Object.fromEntries(
                Object.entries(traitsOf(profile)).map(([k, v]) => [k, [String(v)]]),
              ),
            },
          }));
        await put(key, `${endpoints.map((e) => JSON.stringify(e)).join('\n')}\n`, 'application/json');
        await deps.senders.pinpoint.send(
          new CreateImportJobCommand({
            ApplicationId: settings.applicationId,
            ImportJobRequest: {
              Format: 'JSON',
              S3Url: `s3://${bucket}/${key}`,
              RoleArn: settings.importRoleArn,
              DefineSegment: true,
              RegisterEndpoints: true,
              ...(settings.importSegmentId
                ? { SegmentId: settings.importSegmentId }
                : { SegmentName: `cdp-${segmentId}` }),
            },
          }),
        );
      } else {
        const keys = [...new Set(allowed.flatMap(({ profile }) => Object.keys(traitsOf(profile))))].sort();
        await put(
          `personalize/${segmentId}/${runId}/users.csv`,
          csv(
            ['USER_ID', ...keys.map((k) => k.toUpperCase())],
            allowed.map(({ profile }) => [userIdOf(profile), ...keys.map((k) => traitsOf(profile)[k])]),
          ),
          'text/csv',
        );
        await put(
          `personalize/${segmentId}/${runId}/interactions.csv`,
          csv(
            ['USER_ID', 'ITEM_ID', 'EVENT_TYPE', 'TIMESTAMP'],
            allowed.map(({ profile, enteredAt }) => [
              userIdOf(profile),
              segmentId,
              'segment_entered',
              Math.floor(Date.parse(enteredAt) / 1000),
            ]),
          ),
          'text/csv',
        );
      }
    }
  }
  return files;
}

async function exportSnapshot(
  d: Destination,
  segmentId: string,
  runId: string,
  members: ReadonlyArray<{ profile: Profile; enteredAt: string }>,
  traitsOf: (p: Profile) => Record<string, unknown>,
  put: (key: string, body: string, type: string) => Promise<void>,
  now: Date,
) {
  const base = `${(d.settings as { prefix: string }).prefix}${segmentId}/${runId}/`;
  const rows = members.map(({ profile, enteredAt }) => ({
    profileId: profile.profileId,
    enteredAt,
    identities: profile.identities,
    traits: traitsOf(profile),
  }));
  await put(
    `${base}members.jsonl`,
    rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''),
    'application/x-ndjson',
  );
  await put(
    `${base}members.csv`,
    csv(
      ['profileId', 'enteredAt', 'identities', 'traits'],
      rows.map((r) => [r.profileId, r.enteredAt, r.identities, r.traits]),
    ),
    'text/csv',
  );
  await put(
    `${base}manifest.json`,
    JSON.stringify({
      segmentId,
      runId,
      generatedAt: now.toISOString(),
      count: rows.length,
      files: [`${base}members.jsonl`, `${base}members.csv`],
    }),
    'application/json',
  );
}
