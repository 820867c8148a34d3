import * as z from 'zod';
import { dynamoDbDocumentClient } from '../../adapters/aws/clients.js';
import { IdentityChecker } from '../../adapters/dynamodb/identity-checker.js';
import { ProfileReader } from '../../adapters/dynamodb/profile-reader.js';
import { SegmentStore } from '../../adapters/dynamodb/segment-store.js';
import type { Profile } from '../../core/profiles/profile.js';
import type { TimelineSource } from '../../core/segments/engine.js';
import { ENV, loadConfig, requiredString } from '../../resources/env.js';

/** What every segmentation handler needs, read once at cold start. */
export function segmentationDeps() {
  const config = loadConfig(
    z.object({
      [ENV.profilesTable]: requiredString(),
      [ENV.controlTable]: requiredString(),
      [ENV.timelineTable]: z.string().min(1).optional(),
    }),
  );
  const timelineTable = config[ENV.timelineTable] ?? config[ENV.profilesTable];
  const ddb = dynamoDbDocumentClient();
  const reader = new ProfileReader(ddb, config[ENV.profilesTable], timelineTable);
  const segments = new SegmentStore(ddb, config[ENV.controlTable], config[ENV.profilesTable]);
  const timeline: TimelineSource = {
    async timeline(profile: Profile) {
      const state =
        'mergedFrom' in profile
          ? (profile as Parameters<ProfileReader['fullTimeline']>[0])
          : await reader.getState(profile.profileId);
      return state ? reader.fullTimeline(state) : [];
    },
  };
  const checker = new IdentityChecker(ddb, config[ENV.profilesTable], {
    timelineRetentionDays: Number(process.env[ENV.timelineRetentionDays] ?? 90),
    timelineTable,
  });
  return { reader, segments, timeline, checker };
}
