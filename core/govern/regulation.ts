import { gunzipSync } from 'node:zlib';
import * as z from 'zod/mini';
import { plainRecordBytes } from '../events/record-codec.js';
import { parseIdentity } from '../identity/identifiers.js';
import type { Identity } from '../profiles/profile.js';
import { normalizeEmail } from '../shared/email-address.js';
import { lazySchema } from '../shared/lazy-schema.js';
import { normalizeLoadedPhone } from '../shared/phone-numbers.js';
import { transformIssue } from '../shared/zod.js';
import { identifiersInEvent } from './event-identifiers.js';

/** Regulations, modelled on Segment's: delete, suppress, both, or lift a suppression. */
export const REGULATION_TYPES = ['delete', 'suppress', 'delete_and_suppress', 'unsuppress'] as const;
export const KNOWN_IDENTIFIER_TYPES = ['user_id', 'anonymous_id', 'email', 'phone'] as const;

/**
 * One identifier of a person, `type:value`, normalised the way events are (emails, phones). Parsing a
 * `phone:` identifier needs `loadPhoneNumbers()` to have finished: callers check `namesAPhone` first.
 */
export const IdentifierSchema = lazySchema(() =>
  z.pipe(
    z.string().check(z.maxLength(512)),
    z.transform((text: string, ctx) => {
      const id = parseIdentity(text);
      if (!id) {
        transformIssue(ctx, 'must be type:value, e.g. email:ada@example.com');
        return z.NEVER;
      }
      if (!(KNOWN_IDENTIFIER_TYPES as readonly string[]).includes(id.type)) {
        transformIssue(ctx, `type must be one of ${KNOWN_IDENTIFIER_TYPES.join(', ')}`);
        return z.NEVER;
      }
      const value =
        id.type === 'email'
          ? normalizeEmail(id.value)
          : id.type === 'phone'
            ? normalizeLoadedPhone(id.value)
            : id.value.trim();
      if (!value) {
        transformIssue(ctx, `is not a valid ${id.type}`);
        return z.NEVER;
      }
      return { type: id.type, value } as Identity;
    }),
  ),
);

export const RegulationRequestSchema = lazySchema(() =>
  z.object({
    type: z.enum(REGULATION_TYPES, { error: `must be one of ${REGULATION_TYPES.join(', ')}` }),
    identifiers: z
      .array(IdentifierSchema)
      .check(
        z.minLength(1, 'must list at least one identifier'),
        z.maxLength(100, 'must list at most 100 identifiers'),
      ),
  }),
);

/** `GET /v1/regulations` query: newest first, optionally only those naming one identifier. */
export const RegulationListQuerySchema = lazySchema(() =>
  z.object({
    identifier: z.optional(IdentifierSchema),
    limit: z._default(
      z.coerce.number().check(z.int(), z.gte(1, 'must be at least 1'), z.lte(100, 'must be at most 100')),
      25,
    ),
    cursor: z.optional(z.string().check(z.maxLength(2048))),
  }),
);
export type RegulationRequest = z.infer<typeof RegulationRequestSchema>;

/**
 * Whether a request body or query names a `phone:` identifier, i.e. whether parsing it with the
 * schemas above normalises a phone number (and so needs `loadPhoneNumbers()` first).
 */
export function namesAPhone(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.startsWith('phone:');
  if (depth > 2 || typeof value !== 'object' || value === null) return false;
  return Object.values(value).some((v) => namesAPhone(v, depth + 1));
}

// Shared with the collector, which must not carry the rest of this module.
export { identifiersInEvent } from './event-identifiers.js';
export { hashIdentity } from './subject-identifiers.js';

export type StoreName =
  | 'profiles'
  | 'identities'
  | 'timeline'
  | 'memberships'
  /** Incremental segment runs' lists of changed and due profiles. */
  | 'segment_changes'
  | 'lake'
  /** The lake's profile, identity, merge and membership change tables. */
  | 'lake_profiles'
  | 'quarantine'
  | 'destinations'
  | 'suppression'
  /** Everything in the stream before acceptance handled by every consumer (barrier passed). */
  | 'in_flight'
  /** Queued membership deltas and dead letters (local files; on AWS dropped on delivery). */
  | 'queues'
  /** The local outbox standing in for destinations without an emulator. */
  | 'outbox'
  /** Plain delete: events received after acceptance, kept. */
  | 'after_deletion';

export interface StoreOutcome {
  readonly status: 'pending' | 'done' | 'skipped' | 'failed';
  readonly count: number;
  readonly detail?: string;
}

/** Whether a raw event belongs to the subject (any of its identifiers). */
export function belongsToSubject(event: Record<string, unknown>, subject: ReadonlySet<string>): boolean {
  return identifiersInEvent(event).some((id) => subject.has(`${id.type}:${id.value}`));
}

/**
 * Whether quarantined bytes hold anything of the subject. Quarantine keeps what could not be read as
 * an event: a whole rejected batch, a gzip body, text that is not JSON. So: undo gzip, look at every
 * message of a batch, and when nothing parses, look for the subject's values as JSON strings, since a
 * malformed body still names its person. Erring towards erasure is the safe side for a deletion.
 */
export function quarantinedBelongsToSubject(raw: Buffer, subject: ReadonlySet<string>): boolean {
  // A stream record quarantined in the stream's compressed form (before quarantine kept it plain).
  let bytes = plainRecordBytes(raw);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch {
      // A broken gzip stream: search what we have.
    }
  }
  const text = bytes.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [...subject].some((id) => text.includes(JSON.stringify(id.slice(id.indexOf(':') + 1))));
  }
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
  if (!isObject(parsed)) return false;
  const batch = Array.isArray(parsed.batch) ? parsed.batch.filter(isObject) : [];
  return [parsed, ...batch].some((event) => !Array.isArray(event) && belongsToSubject(event, subject));
}
