import { parseIdentity } from '../../core/identity/identifiers.js';
import type { Identity } from '../../core/profiles/profile.js';
import { normalizeEmail } from '../../core/shared/email-address.js';

/**
 * `email:Ada@Example.com` finds the profile stored under the normalised email. Phone numbers are
 * normalised with libphonenumber-js's metadata, loaded only for a `phone:` id (esbuild keeps the
 * dynamic import lazy inside the bundle, so the APIs' cold starts do not build it).
 */
export async function profileRef(id: string): Promise<string | Identity | undefined> {
  if (/^p_[0-9a-f]{24}$/.test(id)) return id;
  const identity = parseIdentity(id);
  if (!identity) return undefined;
  if (identity.type === 'email')
    return { type: 'email', value: normalizeEmail(identity.value) ?? identity.value };
  if (identity.type === 'phone') {
    const { normalizePhone } = await import('../../core/shared/contact-points.js');
    return { type: 'phone', value: normalizePhone(identity.value) ?? identity.value };
  }
  // Stored trimmed (`normalizeEvent`): `user_id: ada` is the person whose events said ` ada`.
  const value = identity.value.trim();
  return value ? { type: identity.type, value } : undefined;
}
