import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js';
import { normalizeEmail } from './email-address.js';

export { normalizeEmail };

/**
 * Email and phone normalisation, on their own so code that only needs them does not carry event
 * normalisation and the identity rules with it. Phone numbers need libphonenumber-js's metadata
 * (118 KB of the bundle, built at import): the collector loads this module only for a message with a
 * phone trait (`lambdas/collect/suppression-filter.ts`).
 */
export function normalizePhone(value: unknown, defaultCountry?: string): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const parsed = parsePhoneNumberFromString(String(value), defaultCountry as CountryCode | undefined);
  return parsed?.isValid() ? parsed.number : undefined;
}
