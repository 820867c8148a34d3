import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { profileViews } from '../../core/lake/profile-tables.js';
import { ENV } from '../../resources/env.js';

export interface LakeCompactionProps {
  readonly compactor: lambda.IFunction;
  readonly lakeBucket: s3.IBucket;
  readonly databaseName: string;
  readonly scheduleMinutes: number;
}

/**
 * Columnar events and change tables: an hourly rule runs the compactor, which reads closed hours of
 * `raw/` and closed days of `changes/`, writes Parquet under `columnar/` and points the Glue views at
 * the new frontiers. Cost: one read of
 * each raw object and one Parquet PUT per source and hour, against every Athena query then scanning
 * a few Parquet columns instead of whole gzip JSON objects.
 */
export class LakeCompaction extends Construct {
  constructor(scope: Construct, id: string, props: LakeCompactionProps) {
    super(scope, id);
    const { compactor, lakeBucket } = props;
    new events.Rule(this, 'Schedule', {
      description: 'Compact closed hours of raw events into Parquet',
      schedule: events.Schedule.rate(Duration.minutes(props.scheduleMinutes)),
      targets: [new targets.LambdaFunction(compactor, { retryAttempts: 2 })],
    });
    iam.Grant.addToPrincipal({
      grantee: compactor,
      actions: ['s3:ListBucket'],
      resourceArns: [lakeBucket.bucketArn],
    });
    iam.Grant.addToPrincipal({
      grantee: compactor,
      actions: ['s3:GetObject'],
      // Raw events, and the change tables it compacts by day (core/lake/change-columnar.ts).
      resourceArns: [lakeBucket.arnForObjects('raw/*'), lakeBucket.arnForObjects('changes/*')],
    });
    iam.Grant.addToPrincipal({
      grantee: compactor,
      actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
      resourceArns: [lakeBucket.arnForObjects('columnar/*')],
    });
    lakeBucket.encryptionKey?.grantEncryptDecrypt(compactor);
    const stack = Stack.of(this);
    iam.Grant.addToPrincipal({
      grantee: compactor,
      actions: ['glue:GetTable', 'glue:UpdateTable'],
      resourceArns: [
        stack.formatArn({ service: 'glue', resource: 'catalog' }),
        stack.formatArn({ service: 'glue', resource: 'database', resourceName: props.databaseName }),
        // The views it moves to new frontiers: `events`, and the current-state views over the change tables.
        ...['events', ...profileViews().map((v) => v.name)].map((name) =>
          stack.formatArn({
            service: 'glue',
            resource: 'table',
            resourceName: `${props.databaseName}/${name}`,
          }),
        ),
      ],
    });
  }

  static environment(databaseName: string): Record<string, string> {
    return { [ENV.lakeDatabase]: databaseName };
  }
}
