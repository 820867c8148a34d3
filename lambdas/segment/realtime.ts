import { cachedByCounter } from '../../adapters/dynamodb/change-counter.js';
import { createLogger } from '../../adapters/observability/logger.js';
import { deltaSinkFromEnv } from '../../adapters/segments/delta-sink.js';
import type { Profile, ProfileChangeListener } from '../../core/profiles/profile.js';
import { type CompiledSegment, compileSegment, evaluateProfiles } from '../../core/segments/engine.js';
import { segmentationDeps } from './deps.js';

/**
 * Real-time membership: after the stream processor commits a batch, the changed profiles are evaluated
 * against the active segments the stream can decide (traits, computed traits, counts, consent). Time
 * windows and timeline conditions are left to the batch run, which uses the same evaluator.
 */
export function createRealtimeSegmentListener(): ProfileChangeListener {
  const { segments } = segmentationDeps();
  const sink = deltaSinkFromEnv();
  const logger = createLogger('segments-realtime');
  // Definitions are compiled once and re-read only when a segment changed.
  const definitions = cachedByCounter(
    segments.changes,
    async (): Promise<CompiledSegment[]> =>
      (await segments.list()).filter((s) => s.active && s.realtime).map(compileSegment),
  );
  return {
    async profilesChanged(profiles: readonly Profile[], now: Date) {
      const compiled = await definitions();
      if (compiled.length === 0) return;
      const counts = await evaluateProfiles(profiles, compiled, { store: segments, sink }, now, 'realtime');
      if (counts.entered || counts.exited) logger.info('realtime membership', { ...counts });
    },
  };
}
