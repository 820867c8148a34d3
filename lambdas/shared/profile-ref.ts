import { parseIdentity } from '../../core/identity/identifiers.js';
import { normalizeEmail, normalizePhone } from '../../core/process/normalize.js';
import type { Identity } from '../../core/profiles/profile.js';

/** `email:Ada@Example.com` finds the profile stored under the normalised email. */
export function profileRef(id: string): string | Identity | undefined {
  if (/^p_[0-9a-f]{24}$/.test(id)) return id;
  const identity = parseIdentity(id);
  if (!identity) return undefined;
  if (identity.type === 'email')
    return { type: 'email', value: normalizeEmail(identity.value) ?? identity.value };
  if (identity.type === 'phone')
    return { type: 'phone', value: normalizePhone(identity.value) ?? identity.value };
  return identity;
}
