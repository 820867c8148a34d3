import type { ProfileChangeListener } from '../../core/profiles/profile.js';
import { createSegmentChangeListener } from '../segment/change-listener.js';
import { createRealtimeSegmentListener } from '../segment/realtime.js';
import { createLakeProfileListener } from './lake-listener.js';

/**
 * Stages that react to profile changes within the same invocation, each called after the batch's
 * profiles are committed, in this order: real-time segment membership, then the lake's change tables.
 */
export const profileChangeListeners: ProfileChangeListener[] = [
  // First: the change log that incremental segment runs read is one small write per batch.
  createSegmentChangeListener(),
  createRealtimeSegmentListener(),
  createLakeProfileListener(),
];
