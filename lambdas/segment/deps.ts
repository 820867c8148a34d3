import { dynamoDbDocumentClient } from '../../adapters/aws/clients.js';
import { ProfileReader } from '../../adapters/dynamodb/profile-reader.js';
import { SegmentChangeLog } from '../../adapters/dynamodb/segment-changes.js';
import { SegmentStore } from '../../adapters/dynamodb/segment-store.js';
import { timelineSince } from '../../adapters/dynamodb/timeline-window.js';
import type { Profile } from '../../core/profiles/profile.js';
import type { TimelineSource } from '../../core/segments/engine.js';
import { ENV, loadConfig, nonEmptyString, optional } from '../../resources/env.js';

type SegmentationDeps = ReturnType<typeof buildSegmentationDeps>;
let deps: SegmentationDeps | undefined;

/**
 * What every segmentation handler needs, read once at cold start: the stream processor's two segment
 * listeners share one set instead of each reading the configuration and building stores again.
 */
export function segmentationDeps(): SegmentationDeps {
  deps ??= buildSegmentationDeps();
  return deps;
}

function buildSegmentationDeps() {
  const config = loadConfig({
    [ENV.profilesTable]: nonEmptyString,
    [ENV.controlTable]: nonEmptyString,
    [ENV.timelineTable]: optional(nonEmptyString),
  });
  const timelineTable = config[ENV.timelineTable] ?? config[ENV.profilesTable];
  const ddb = dynamoDbDocumentClient();
  const reader = new ProfileReader(ddb, config[ENV.profilesTable], timelineTable);
  const segments = new SegmentStore(ddb, config[ENV.controlTable], config[ENV.profilesTable]);
  const timeline: TimelineSource = {
    async timeline(profile: Profile, since?: Date) {
      const state =
        'mergedFrom' in profile
          ? (profile as Parameters<ProfileReader['fullTimeline']>[0])
          : await reader.getState(profile.profileId);
      if (!state) return [];
      return since ? timelineSince(ddb, timelineTable, state, since) : reader.fullTimeline(state);
    },
  };
  const changeLog = new SegmentChangeLog(ddb, config[ENV.controlTable], config[ENV.profilesTable]);
  return {
    reader,
    segments,
    timeline,
    changeLog,
    ddb,
    profilesTable: config[ENV.profilesTable],
    timelineTable,
  };
}
