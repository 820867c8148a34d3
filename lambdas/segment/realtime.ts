import { cachedByCounter } from '../../adapters/dynamodb/change-counter.js';
import { createLogger } from '../../adapters/observability/logger.js';
import {
  deltaSinkLoadedOnFirstDelta,
  deltaSinkSettings,
} from '../../adapters/segments/delta-sink-settings.js';
import type {
  BatchGraphChanges,
  MergedAwayProfile,
  Profile,
  ProfileChangeListener,
} from '../../core/profiles/profile.js';
import {
  type CompiledSegment,
  compileSegment,
  evaluateProfiles,
  exitMergedAway,
} from '../../core/segments/engine.js';
import { needsRealtimeEvaluation, realtimeInputs } from '../../core/segments/realtime-change.js';
import { segmentationDeps } from './deps.js';

/**
 * Real-time membership: after the stream processor commits a batch, the changed profiles are evaluated
 * against the active segments the stream can decide (traits, computed traits, counts, consent). Time
 * windows and timeline conditions are left to the batch run, which uses the same evaluator. Profiles
 * the batch merged away leave every segment they were in, real-time or not.
 */
export function createRealtimeSegmentListener(): ProfileChangeListener {
  const { segments } = segmentationDeps();
  // Settings checked now; the sink itself is loaded by the first membership change to publish.
  const sink = deltaSinkLoadedOnFirstDelta(deltaSinkSettings());
  const logger = createLogger('segments-realtime');
  // Definitions are compiled once and re-read only when a segment changed.
  const definitions = cachedByCounter(
    segments.changes,
    async (): Promise<CompiledSegment[]> =>
      (await segments.list()).filter((s) => s.active && s.realtime).map(compileSegment),
  );
  return {
    async profilesChanged(
      profiles: readonly Profile[],
      now: Date,
      mergedAway: readonly MergedAwayProfile[] = [],
      _graph?: BatchGraphChanges,
      previous?: ReadonlyMap<string, Profile>,
    ) {
      // Losers exit first, so a destination keyed by a shared identifier (an email both profiles had)
      // sees the loser leave before the survivor enters or is updated.
      if (mergedAway.length) {
        const exits = await exitMergedAway(
          mergedAway.map((m) => m.profile),
          { store: segments, sink },
          now,
          'realtime',
        );
        if (exits.exited)
          logger.info('merged-away memberships exited', {
            profiles: mergedAway.length,
            exited: exits.exited,
          });
      }
      const compiled = await definitions();
      if (compiled.length === 0) return;
      // Only profiles whose answers or member content can have changed: the others' memberships are
      // neither read nor written (see `needsRealtimeEvaluation`).
      const inputs = realtimeInputs(compiled);
      const changed = profiles.filter((p) => needsRealtimeEvaluation(previous?.get(p.profileId), p, inputs));
      if (changed.length === 0) return;
      const counts = await evaluateProfiles(changed, compiled, { store: segments, sink }, now, 'realtime');
      if (counts.entered || counts.exited) logger.info('realtime membership', { ...counts });
    },
  };
}
