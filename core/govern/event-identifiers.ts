import { normalizeLoadedPhone } from '../shared/phone-numbers.js';
import { identifiersInEventWith } from './subject-identifiers.js';

export { hashIdentity, type SubjectIdentifier } from './subject-identifiers.js';

/**
 * The values a raw event carries that identify its subject. An event with a phone trait needs
 * `loadPhoneNumbers()` (`core/shared/phone-numbers.ts`) to have finished.
 */
export const identifiersInEvent = (event: Record<string, unknown>) =>
  identifiersInEventWith(event, (v) => normalizeLoadedPhone(v));
