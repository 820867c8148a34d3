import { createHash } from 'node:crypto';
import { normalizeEmail, normalizePhone } from '../shared/contact-points.js';

/** An identifier as regulations and suppressions see it (the shape of a profile identity). */
export interface SubjectIdentifier {
  readonly type: string;
  readonly value: string;
}

/** Identifiers are kept only as hashes in the audit log and suppression list. */
export const hashIdentity = (id: SubjectIdentifier) =>
  createHash('sha256').update(`${id.type}:${id.value}`).digest('hex');

/** The values a raw event carries that identify its subject. */
export function identifiersInEvent(event: Record<string, unknown>): SubjectIdentifier[] {
  const out: SubjectIdentifier[] = [];
  const obj = (v: unknown) =>
    typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  const push = (type: string, v: unknown) => {
    if (typeof v === 'string' || typeof v === 'number') out.push({ type, value: String(v) });
  };
  push('user_id', event.userId);
  push('user_id', event.previousId);
  push('anonymous_id', event.anonymousId);
  push('anonymous_id', event.previousId);
  for (const traits of [obj(event.traits), obj(obj(event.context).traits)]) {
    const email = normalizeEmail(traits.email);
    if (email) out.push({ type: 'email', value: email });
    const phone = normalizePhone(traits.phone);
    if (phone) out.push({ type: 'phone', value: phone });
  }
  return out;
}
