import { GlueClient, UpdateTableCommand } from '@aws-sdk/client-glue';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { s3Client } from '../../adapters/aws/clients.js';
import { createLogger } from '../../adapters/observability/logger.js';
import { EventCompactor } from '../../adapters/s3/event-compactor.js';
import { EVENTS_VIEW_COMMENT, eventsViewSql } from '../../core/lake/columnar.js';
import { DERIVED_VIEW_TYPES } from '../../core/lake/derived-columns.js';
import { glueViewInput } from '../../core/lake/glue-view.js';
import { EVENTS_VIEW_COLUMNS } from '../../core/lake/tables.js';
import { ENV, loadConfig, requiredString } from '../../resources/env.js';

const config = loadConfig(
  z.object({ [ENV.lakeBucket]: requiredString(), [ENV.lakeDatabase]: z.string().min(1).optional() }),
);
const logger = createLogger('lake-compactor');
const s3 = s3Client();
const database = config[ENV.lakeDatabase];
const glue = database ? new GlueClient({}) : undefined;

/**
 * Scheduled (hourly): compacts closed hours of raw JSON into Parquet and moves the frontier. On AWS the
 * `events` view in Glue is rewritten with the new frontier, so Athena reads Parquet below it and prunes
 * raw partitions there; locally the query engine reads the frontier object itself.
 */
export async function handler(_event: unknown, context?: Context) {
  const remaining = context?.getRemainingTimeInMillis() ?? 14 * 60_000;
  // Leave two minutes for the last partition in flight and the view update.
  const deadline = Date.now() + Math.max(10_000, remaining - 120_000);
  // A compactor per run: its message-id cache must not outlive the run (deletions rewrite partitions).
  const summary = await new EventCompactor(s3, config[ENV.lakeBucket]).run(new Date(), deadline);
  if (glue && database && summary.frontier && summary.frontier !== summary.frontierBefore) {
    const view = glueViewInput(database, {
      name: 'events',
      comment: EVENTS_VIEW_COMMENT,
      columns: EVENTS_VIEW_COLUMNS,
      types: DERIVED_VIEW_TYPES,
      sql: eventsViewSql(summary.frontier),
    });
    await glue.send(
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
  logger.info('compaction run', { ...summary });
  return summary;
}
