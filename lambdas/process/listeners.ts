import type { ProfileChangeListener } from '../../core/profiles/profile.js';

/**
 * Stages that react to profile changes within the same invocation (e.g. real-time segment
 * membership). Each is called after the batch's profiles are committed.
 */
export const profileChangeListeners: ProfileChangeListener[] = [];
