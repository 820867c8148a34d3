import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js';
import { normalizeEmail } from './email-address.js';

export { normalizeEmail };

/**
 * Email and phone normalisation, on their own so code that only needs them does not carry event
 * normalisation and the identity rules with it. Phone numbers need libphonenumber-js's metadata
 * (118 KB of the bundle, built at import): code that screens events loads this module only for an
 * event with a phone trait (`phoneNormalizerFor` in `core/govern/subject-identifiers.ts`).
 */
export function normalizePhone(value: unknown, defaultCountry?: string): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const parsed = parsePhoneNumberFromString(String(value), defaultCountry as CountryCode | undefined);
  return parsed?.isValid() ? parsed.number : undefined;
}
