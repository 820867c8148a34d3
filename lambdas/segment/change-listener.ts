import type { MergedAwayProfile, Profile, ProfileChangeListener } from '../../core/profiles/profile.js';
import { segmentationDeps } from './deps.js';

/**
 * Feeds incremental batch runs: after the stream processor commits a batch, the ids of the profiles it
 * changed (survivors and those merged away) go to the change log as one item, whatever the number of
 * events. The item is named by the clock when it is written, which is what the next run reads back to
 * (less a margin, see `CHANGE_LOG_MARGIN_MS`). A change whose item is lost (the processor stopped in
 * between) is found by the periodic full run.
 */
export function createSegmentChangeListener(): ProfileChangeListener {
  const { changeLog } = segmentationDeps();
  return {
    async profilesChanged(
      profiles: readonly Profile[],
      _now: Date,
      mergedAway: readonly MergedAwayProfile[] = [],
    ) {
      await changeLog.recordChanged(
        [...profiles.map((p) => p.profileId), ...mergedAway.map((m) => m.profile.profileId)],
        new Date(),
      );
    },
  };
}
