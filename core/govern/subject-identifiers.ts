import { createHash } from 'node:crypto';
import { normalizeEmail } from '../shared/email-address.js';

/** An identifier as regulations and suppressions see it (the shape of a profile identity). */
export interface SubjectIdentifier {
  readonly type: string;
  readonly value: string;
}

/** Identifiers are kept only as hashes in the audit log and suppression list. */
export const hashIdentity = (id: SubjectIdentifier) =>
  createHash('sha256').update(`${id.type}:${id.value}`).digest('hex');

type Fields = Record<string, unknown>;
const obj = (v: unknown): Fields =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Fields) : {};
const traitSets = (event: Fields) => [obj(event.traits), obj(obj(event.context).traits)];

/**
 * Whether a raw event carries a phone trait: only then does finding its identifiers need phone-number
 * metadata, which callers on a hot path (the collector) load on demand.
 */
export const carriesPhone = (event: Fields) => traitSets(event).some((t) => t.phone !== undefined);

/**
 * The values a raw event carries that identify its subject, with the phone normalisation passed in
 * (called only for a phone trait that is present, see `carriesPhone`).
 */
export function identifiersInEventWith(
  event: Fields,
  normalizePhone: (value: unknown) => string | undefined,
): SubjectIdentifier[] {
  const out: SubjectIdentifier[] = [];
  const push = (type: string, v: unknown) => {
    if (typeof v === 'string' || typeof v === 'number') out.push({ type, value: String(v) });
  };
  push('user_id', event.userId);
  push('user_id', event.previousId);
  push('anonymous_id', event.anonymousId);
  push('anonymous_id', event.previousId);
  for (const traits of traitSets(event)) {
    const email = normalizeEmail(traits.email);
    if (email) out.push({ type: 'email', value: email });
    const phone = traits.phone === undefined ? undefined : normalizePhone(traits.phone);
    if (phone) out.push({ type: 'phone', value: phone });
  }
  return out;
}
