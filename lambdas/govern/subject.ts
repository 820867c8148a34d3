import type { ProfileReader } from '../../adapters/dynamodb/profile-reader.js';
import { hashIdentity } from '../../core/govern/subject-identifiers.js';
import { profileIdentifier, type Tombstone } from '../../core/govern/tombstones.js';
import { identityKey } from '../../core/identity/identifiers.js';
import type { Identity } from '../../core/profiles/profile.js';

const uniq = (ids: readonly Identity[]) => [...new Map(ids.map((i) => [identityKey(i), i])).values()];

/** Identifiers → profiles (following merges) → every identifier and profile id of those people. */
export async function resolveSubject(
  reader: Pick<ProfileReader, 'resolveIdentity' | 'getState'>,
  requested: readonly Identity[],
) {
  const subject = [...requested];
  const profileIds = new Set<string>();
  const roots = new Set<string>();
  for (const id of requested) {
    const pointer = await reader.resolveIdentity(id.type, id.value);
    if (!pointer) continue;
    profileIds.add(pointer);
    const state = await reader.getState(pointer);
    if (!state) continue;
    profileIds.add(state.profileId);
    roots.add(state.profileId);
    for (const m of state.mergedFrom) profileIds.add(m);
    subject.push(...state.identities);
  }
  return { subject: uniq(subject), profileIds: [...profileIds], rootIds: [...roots] };
}

/**
 * The tombstones of a subject: every identifier and every profile id, as hashes. Profile ids only
 * screen membership deltas, which carry the whole profile (traits set before acceptance too): they
 * drop every delta of those profiles until the erase is done (`erased`), then only older ones.
 */
export function tombstonesOf(
  regulation: { regulationId: string; acceptedAt: string; suppress: boolean },
  subject: readonly Identity[],
  profileIds: readonly string[],
  erased = false,
): Tombstone[] {
  const of = (id: Identity, suppress: boolean): Tombstone => ({
    hash: hashIdentity(id),
    regulationId: regulation.regulationId,
    acceptedAt: regulation.acceptedAt,
    suppress,
  });
  return [
    ...subject.map((id) => of(id, regulation.suppress)),
    ...profileIds.map((p) => of(profileIdentifier(p), regulation.suppress || !erased)),
  ];
}
