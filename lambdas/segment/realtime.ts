import { createLogger } from '../../adapters/observability/logger.js';
import { deltaSinkFromEnv } from '../../adapters/segments/delta-sink.js';
import type { Profile, ProfileChangeListener } from '../../core/profiles/profile.js';
import { type CompiledSegment, compileSegment, evaluateProfiles } from '../../core/segments/engine.js';
import { segmentationDeps } from './deps.js';

/** How long the processor keeps segment definitions before re-reading them. */
const DEFINITIONS_TTL_MS = 30_000;

/**
 * Real-time membership: after the stream processor commits a batch, the changed profiles are evaluated
 * against the active segments the stream can decide (traits, computed traits, counts, consent). Time
 * windows and timeline conditions are left to the batch run, which uses the same evaluator.
 */
export function createRealtimeSegmentListener(): ProfileChangeListener {
  const { segments } = segmentationDeps();
  const sink = deltaSinkFromEnv();
  const logger = createLogger('segments-realtime');
  let cache: { at: number; compiled: CompiledSegment[] } | undefined;
  return {
    async profilesChanged(profiles: readonly Profile[], now: Date) {
      if (!cache || Date.now() - cache.at > DEFINITIONS_TTL_MS) {
        const all = await segments.list();
        cache = { at: Date.now(), compiled: all.filter((s) => s.active && s.realtime).map(compileSegment) };
      }
      if (cache.compiled.length === 0) return;
      const counts = await evaluateProfiles(
        profiles,
        cache.compiled,
        { store: segments, sink },
        now,
        'realtime',
      );
      if (counts.entered || counts.exited) logger.info('realtime membership', { ...counts });
    },
  };
}
