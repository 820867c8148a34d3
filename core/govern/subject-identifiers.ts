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

export type PhoneNormalizer = (value: unknown) => string | undefined;
const noPhone: PhoneNormalizer = () => undefined;
let phones: Promise<PhoneNormalizer> | undefined;

/**
 * The phone normalisation that finding these events' identifiers needs: libphonenumber-js (its
 * metadata is 118 KB of a bundle, built at import) is loaded on the first event with a phone trait.
 * esbuild keeps the dynamic import lazy inside a bundle, so the cold starts of functions that screen
 * events (suppressions, erasures) do not pay for it.
 */
export async function phoneNormalizerFor(events: readonly Fields[]): Promise<PhoneNormalizer> {
  if (!events.some(carriesPhone)) return noPhone;
  phones ??= import('../shared/contact-points.js').then((m) => (v: unknown) => m.normalizePhone(v));
  return phones;
}

/**
 * The values a raw event carries that identify its subject, with the phone normalisation passed in
 * (called only for a phone trait that is present, see `carriesPhone`).
 */
export function identifiersInEventWith(event: Fields, normalizePhone: PhoneNormalizer): SubjectIdentifier[] {
  const out: SubjectIdentifier[] = [];
  // Trimmed, as the processor stores identifiers (`normalizeEvent`) and regulations name them: an
  // event whose user id is ` ada` belongs to the person erased as `user_id:ada`.
  const push = (type: string, v: unknown) => {
    const value = typeof v === 'string' || typeof v === 'number' ? String(v).trim() : '';
    if (value) out.push({ type, value });
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
