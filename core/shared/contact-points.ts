import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js';

/**
 * Email and phone normalisation, on their own so code that only needs them (the collector's
 * suppression check) does not carry event normalisation and the identity rules with it.
 */
export function normalizeEmail(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const email = value.trim().toLowerCase();
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email) ? email : undefined;
}

export function normalizePhone(value: unknown, defaultCountry?: string): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const parsed = parsePhoneNumberFromString(String(value), defaultCountry as CountryCode | undefined);
  return parsed?.isValid() ? parsed.number : undefined;
}
