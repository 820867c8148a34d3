import { describe, expect, it } from 'vitest';
import { derivedProfileId } from '../../core/identity/identifiers.js';
import { timelineLookups } from '../../core/process/pipeline.js';
import {
  emptyProfile,
  MERGED_TIMELINE_MARGIN_MS,
  mayBeOnMergedTimelines,
  mergeInto,
  type ProfileState,
} from '../../core/profiles/state.js';
import { canonical } from '../support/canonical.js';

const DAY = 86_400_000;
const WINDOW = DAY;
const mergedAt = '2026-03-01T00:00:00.000Z';
const mergedPlus = (ms: number) => new Date(Date.parse(mergedAt) + ms).toISOString();

function merged(loserIds: string[], at: string | null = mergedAt): ProfileState {
  const survivor = emptyProfile('p-survivor', mergedAt);
  for (const id of loserIds) mergeInto(survivor, emptyProfile(id, mergedAt), mergedAt, at);
  return survivor;
}

describe('which merged-away timelines dedupe reads', () => {
  it('records the latest merge, and forgets it once a merge of unknown time is folded in', () => {
    const p = merged(['p-a']);
    expect(p.lastMergeAt).toBe(mergedAt);
    mergeInto(p, emptyProfile('p-b', mergedAt), mergedPlus(DAY), mergedPlus(DAY));
    expect(p.lastMergeAt).toBe(mergedPlus(DAY));
    // Folding in a loser that itself carries merges of unknown time (written before this was kept).
    const old = emptyProfile('p-c', mergedAt);
    old.mergedFrom = ['p-d'];
    mergeInto(p, old, mergedPlus(2 * DAY));
    expect(p.mergedFrom).toEqual(['p-a', 'p-b', 'p-c', 'p-d']);
    expect(p.lastMergeAt).toBeUndefined();
    // Once unknown, it stays unknown: a later merge does not bound the old ids.
    mergeInto(p, emptyProfile('p-e', mergedAt), mergedPlus(3 * DAY));
    expect(p.lastMergeAt).toBeUndefined();
    expect(merged(['p-a'], null).lastMergeAt).toBeUndefined();
  });

  it('reads them for messages dated up to the window and the margin after the merge, not later', () => {
    const p = merged(['p-a']);
    const edge = WINDOW + MERGED_TIMELINE_MARGIN_MS;
    expect(mayBeOnMergedTimelines(p, mergedPlus(-30 * DAY), WINDOW)).toBe(true);
    expect(mayBeOnMergedTimelines(p, mergedPlus(edge), WINDOW)).toBe(true);
    expect(mayBeOnMergedTimelines(p, mergedPlus(edge + 1), WINDOW)).toBe(false);
    // No window (a store that looks at any time), no recorded merge, or nothing merged.
    expect(mayBeOnMergedTimelines(p, mergedPlus(30 * DAY), undefined)).toBe(true);
    expect(mayBeOnMergedTimelines(merged(['p-a'], null), mergedPlus(30 * DAY), WINDOW)).toBe(true);
    expect(mayBeOnMergedTimelines(emptyProfile('p-x', mergedAt), mergedPlus(-DAY), WINDOW)).toBe(false);
  });

  it("looks up each event under its person's profile, and under the merged ones only when they may hold it", () => {
    const user = { type: 'user_id', value: 'u1' };
    const root = derivedProfileId(user);
    const p = merged(['p-a', 'p-b']);
    p.profileId = root;
    // A person who let go of message hashes lately (a burst): their timelines may hold copies.
    p.forgottenUpTo = mergedPlus(40 * DAY);
    const snapshot = {
      nodes: new Map([[`user_id#u1`, root]]),
      profiles: new Map([[root, p]]),
      versions: new Map([[root, 1]]),
    };
    const near = canonical({ messageId: 'near', identities: [user], timestamp: mergedPlus(DAY) });
    const late = canonical({ messageId: 'late', identities: [user], timestamp: mergedPlus(30 * DAY) });
    const lookups = timelineLookups([near, late], snapshot, WINDOW);
    expect([...lookups.keys()].sort()).toEqual([root, 'p-a', 'p-b'].sort());
    expect(lookups.get(root)!.map((m) => m.messageId)).toEqual(['near', 'late']);
    expect(lookups.get('p-a')!.map((m) => m.messageId)).toEqual(['near']);
    // Without a window every merged timeline is read.
    expect(
      timelineLookups([late], snapshot)
        .get('p-b')!
        .map((m) => m.messageId),
    ).toEqual(['late']);
  });
});
