import type * as ContactPoints from './contact-points.js';

/**
 * Phone normalisation for synchronous code (zod transforms, event normalisation) without carrying
 * libphonenumber-js into every cold start: its metadata (118 KB of a bundle) is built when the module
 * is evaluated. A caller awaits `loadPhoneNumbers()` before it parses anything that can hold a phone
 * number; esbuild keeps the dynamic import lazy inside the bundle (an init function run on first call).
 */
let contactPoints: typeof ContactPoints | undefined;

export async function loadPhoneNumbers(): Promise<void> {
  contactPoints ??= await import('./contact-points.js');
}

/** Whether `loadPhoneNumbers` has finished (tests and callers that must not wait). */
export const phoneNumbersLoaded = (): boolean => contactPoints !== undefined;

/**
 * `normalizePhone` of `contact-points.ts`. Values that cannot be phone numbers need nothing loaded; a
 * phone number before `loadPhoneNumbers` is a programming error and throws, rather than being treated
 * as invalid (which would drop an identifier silently).
 */
export function normalizeLoadedPhone(value: unknown, defaultCountry?: string): string | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  if (!contactPoints)
    throw new Error('Phone numbers are not loaded: await loadPhoneNumbers() before normalising one');
  return contactPoints.normalizePhone(value, defaultCountry);
}
