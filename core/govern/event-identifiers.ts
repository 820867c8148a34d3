import { normalizePhone } from '../shared/contact-points.js';
import { identifiersInEventWith } from './subject-identifiers.js';

export { hashIdentity, type SubjectIdentifier } from './subject-identifiers.js';

/** The values a raw event carries that identify its subject. */
export const identifiersInEvent = (event: Record<string, unknown>) =>
  identifiersInEventWith(event, normalizePhone);
