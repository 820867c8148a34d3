import type { ChangeWriter } from '../../adapters/s3/change-writer.js';
import { type IdentityGraphChanges, profileChangeRecords } from '../../core/lake/profile-changes.js';
import type { MergedAwayProfile, Profile, ProfileChangeListener } from '../../core/profiles/profile.js';
import { ENV, loadConfig, nonEmptyString } from '../../resources/env.js';
import { loadLakeWriters } from './lake-writers-loader.js';

/** The listener interface with the identity graph of the batch, which the processor may pass as a 4th argument. */
export interface GraphAwareProfileChangeListener extends ProfileChangeListener {
  profilesChanged(
    profiles: readonly Profile[],
    now: Date,
    mergedAway?: readonly MergedAwayProfile[],
    graph?: IdentityGraphChanges,
  ): Promise<void>;
}

/**
 * Profiles to the lake: after each committed batch, its profile, identity and merge changes go to the
 * change tables as one object per table (a few S3 PUTs per batch, no DynamoDB writes on the hot path).
 * A failed write fails the batch, which the processor retries (replays reach listeners again).
 */
export function createLakeProfileListener(
  writer?: Pick<ChangeWriter, 'write'>,
): GraphAwareProfileChangeListener {
  const bucket = writer ? '' : loadConfig({ [ENV.lakeBucket]: nonEmptyString })[ENV.lakeBucket];
  return {
    async profilesChanged(profiles, now, mergedAway = [], graph) {
      const to = writer ?? (await loadLakeWriters(bucket)).changes;
      await to.write(profileChangeRecords(profiles, now, mergedAway, graph), now);
    },
  };
}
