import { GlueClient, UpdateTableCommand } from '@aws-sdk/client-glue';
import type { Context } from 'aws-lambda';
import { s3Client } from '../../adapters/aws/s3-client.js';
import { createLogger } from '../../adapters/observability/logger.js';
import { ChangeCompactor } from '../../adapters/s3/change-compactor.js';
import { EventCompactor } from '../../adapters/s3/event-compactor.js';
import { EVENTS_VIEW_COMMENT, eventsViewSql } from '../../core/lake/columnar.js';
import { DERIVED_VIEW_TYPES } from '../../core/lake/derived-columns.js';
import { type GlueViewInput, glueViewInput } from '../../core/lake/glue-view.js';
import { profileViews } from '../../core/lake/profile-tables.js';
import { EVENTS_VIEW_COLUMNS } from '../../core/lake/tables.js';
import { ENV, loadConfig, nonEmptyString, optional } from '../../resources/env.js';

const config = loadConfig({ [ENV.lakeBucket]: nonEmptyString, [ENV.lakeDatabase]: optional(nonEmptyString) });
const logger = createLogger('lake-compactor');
const s3 = s3Client();
const database = config[ENV.lakeDatabase];
const glue = database ? new GlueClient({}) : undefined;

async function updateView(view: GlueViewInput) {
  await glue!.send(
    new UpdateTableCommand({
      DatabaseName: database,
      TableInput: {
        Name: view.name,
        TableType: view.tableType,
        Parameters: view.parameters,
        ViewOriginalText: view.viewOriginalText,
        ViewExpandedText: view.viewExpandedText,
        StorageDescriptor: {
          Columns: view.storageDescriptor.columns.map((c) => ({ Name: c.name, Type: c.type })),
          SerdeInfo: {},
        },
      },
    }),
  );
}

/**
 * Scheduled (hourly): compacts closed hours of raw JSON and closed days of the change tables into
 * Parquet and moves their frontiers. On AWS the views in Glue are rewritten with the new frontiers
 * (`events`; `profiles`, `identities`, `merges`, `segment_memberships`), so Athena reads Parquet below
 * them and prunes JSON partitions there; locally the query engine reads the frontier objects itself.
 */
export async function handler(_event: unknown, context?: Context) {
  const remaining = context?.getRemainingTimeInMillis() ?? 14 * 60_000;
  // Leave two minutes for the last partition in flight and the view updates.
  const deadline = Date.now() + Math.max(10_000, remaining - 120_000);
  const now = new Date();
  // A compactor per run: its message-id cache must not outlive the run (deletions rewrite partitions).
  const summary = await new EventCompactor(s3, config[ENV.lakeBucket]).run(now, deadline);
  if (glue && database && summary.frontier && summary.frontier !== summary.frontierBefore)
    await updateView(
      glueViewInput(database, {
        name: 'events',
        comment: EVENTS_VIEW_COMMENT,
        columns: EVENTS_VIEW_COLUMNS,
        types: DERIVED_VIEW_TYPES,
        sql: eventsViewSql(summary.frontier),
      }),
    );
  // Change tables after events: a day of changes is small next to an hour of events.
  const changes = await new ChangeCompactor(s3, config[ENV.lakeBucket]).run(
    now,
    Math.max(deadline, Date.now() + 10_000),
  );
  if (glue && database && changes.frontier && changes.frontier !== changes.frontierBefore)
    for (const v of profileViews(changes.frontier)) await updateView(glueViewInput(database, v));
  logger.info('compaction run', { ...summary, changes: { ...changes } });
  return { ...summary, changes };
}
