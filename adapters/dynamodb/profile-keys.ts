import type { Identity } from '../../core/profiles/profile.js';

/** Key layout of the profiles table (documented in docs/ARCHITECTURE.md). */
export const keys = {
  identity: (id: Identity) => ({ pk: `ID#${id.type}#${id.value}`, sk: 'ID' }),
  profile: (profileId: string) => ({ pk: `P#${profileId}`, sk: 'PROFILE' }),
  profilePk: (profileId: string) => `P#${profileId}`,
  timeline: (profileId: string, timestamp: string, messageId: string) => ({
    pk: `P#${profileId}`,
    sk: `EV#${timestamp}#${messageId}`,
  }),
  merge: (profileId: string, at: string, other: string) => ({
    pk: `P#${profileId}`,
    sk: `MERGE#${at}#${other}`,
  }),
  dedupe: (dedupeKey: string) => ({ pk: `DEDUPE#${dedupeKey}`, sk: 'DEDUPE' }),
};
