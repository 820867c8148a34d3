import { Aws, Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as glue from 'aws-cdk-lib/aws-glue';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { columnarChangeTable } from '../../core/lake/change-columnar.js';
import { EVENTS_VIEW_COMMENT, eventsViewSql, NO_FRONTIER } from '../../core/lake/columnar.js';
import { DERIVED_VIEW_TYPES } from '../../core/lake/derived-columns.js';
import { glueViewInput } from '../../core/lake/glue-view.js';
import { NAMED_QUERIES } from '../../core/lake/named-queries.js';
import { CHANGE_TABLES } from '../../core/lake/profile-changes.js';
import {
  CHANGE_PARTITION_KEYS,
  CHANGE_TABLE_COLUMNS,
  PROFILE_EVENTS_VIEW,
  PROFILE_VIEWS,
} from '../../core/lake/profile-tables.js';
import {
  COLUMNAR_EVENTS_COLUMNS,
  EVENTS_VIEW_COLUMNS,
  type LakeColumn,
  QUARANTINE_COLUMNS,
  QUARANTINE_PARTITION_KEYS,
  RAW_EVENTS_COLUMNS,
  RAW_PARTITION_KEYS,
} from '../../core/lake/tables.js';

export interface LakeCatalogProps {
  readonly lakeBucket: s3.IBucket;
  readonly encryptionKey: kms.IKey;
  readonly accessLogsBucket: s3.IBucket;
  readonly removalPolicy: RemovalPolicy;
  /** Athena stops a query after scanning this many bytes (default 10 GB). */
  readonly bytesScannedCutoffPerQuery?: number;
  /** Days of Athena results kept (default 30). */
  readonly resultsRetentionDays?: number;
}

const OPENX = 'org.openx.data.jsonserde.JsonSerDe';
const PARQUET = {
  inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
  outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
  serdeInfo: { serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
};

/**
 * The lake's catalog and query engine: a Glue database with `raw_events` and `quarantine_events`
 * (partition projection, so no crawler and no MSCK REPAIR), the `events` view that keeps one row per
 * source and messageId, an Athena workgroup with its own encrypted results and a scan cutoff, and the
 * named queries (the same SQL the local DuckDB engine runs).
 */
export class LakeCatalog extends Construct {
  readonly database: glue.CfnDatabase;
  readonly databaseName: string;
  readonly workGroup: athena.CfnWorkGroup;
  readonly resultsBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: LakeCatalogProps) {
    super(scope, id);
    this.databaseName = `${Stack.of(this)
      .stackName.toLowerCase()
      .replace(/[^a-z0-9_]/g, '_')}_lake`;
    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: Aws.ACCOUNT_ID,
      databaseInput: { name: this.databaseName, description: 'Customer Data Platform raw event lake' },
    });
    const bucket = props.lakeBucket.bucketName;
    const columns = (cols: readonly LakeColumn[]) => cols.map((c) => ({ name: c.name, type: c.type }));
    const table = (
      name: string,
      cols: readonly LakeColumn[],
      location: string,
      template: string,
      projection: Record<string, string>,
      keys: readonly string[],
      format: 'json' | 'parquet' = 'json',
    ) => {
      const t = new glue.CfnTable(this, name, {
        catalogId: Aws.ACCOUNT_ID,
        databaseName: this.databaseName,
        tableInput: {
          name,
          tableType: 'EXTERNAL_TABLE',
          partitionKeys: keys.map((k) => ({ name: k, type: 'string' })),
          parameters: {
            classification: format,
            'projection.enabled': 'true',
            'storage.location.template': template,
            ...projection,
          },
          storageDescriptor:
            format === 'parquet'
              ? { location, columns: columns(cols), ...PARQUET }
              : {
                  location,
                  columns: columns(cols),
                  inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
                  outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
                  compressed: true,
                  serdeInfo: {
                    serializationLibrary: OPENX,
                    parameters: { 'ignore.malformed.json': 'true', 'case.insensitive': 'true' },
                  },
                },
        },
      });
      t.addDependency(this.database);
      return t;
    };
    const dateProjection = {
      'projection.dt.type': 'date',
      'projection.dt.format': 'yyyy-MM-dd',
      'projection.dt.range': '2024-01-01,NOW',
      'projection.dt.interval': '1',
      'projection.dt.interval.unit': 'DAYS',
      'projection.hr.type': 'integer',
      'projection.hr.range': '0,23',
      'projection.hr.digits': '2',
    };
    const raw = table(
      'raw_events',
      RAW_EVENTS_COLUMNS,
      `s3://${bucket}/raw/`,
      `s3://${bucket}/raw/source_id=\${source_id}/dt=\${dt}/hr=\${hr}/`,
      // Source ids are created at run time, so they are injected: queries name the source (`source_id = ?`).
      { 'projection.source_id.type': 'injected', ...dateProjection },
      RAW_PARTITION_KEYS,
    );
    table(
      'quarantine_events',
      QUARANTINE_COLUMNS.filter((c) => c.name !== 'stage'),
      `s3://${bucket}/quarantine/`,
      `s3://${bucket}/quarantine/stage=\${stage}/dt=\${dt}/hr=\${hr}/`,
      {
        'projection.stage.type': 'enum',
        'projection.stage.values': 'collect,process,lake',
        ...dateProjection,
      },
      QUARANTINE_PARTITION_KEYS,
    );

    // Compacted hours of raw_events as Parquet (see core/lake/columnar.ts), same partitions.
    const columnar = table(
      'events_columnar',
      COLUMNAR_EVENTS_COLUMNS,
      `s3://${bucket}/columnar/events/`,
      `s3://${bucket}/columnar/events/source_id=\${source_id}/dt=\${dt}/hr=\${hr}/`,
      { 'projection.source_id.type': 'injected', ...dateProjection },
      RAW_PARTITION_KEYS,
      'parquet',
    );
    // Append-only profile, identity-graph, merge and membership changes, one object per batch.
    const changeTables = CHANGE_TABLES.map((name) =>
      table(
        name,
        CHANGE_TABLE_COLUMNS[name],
        `s3://${bucket}/changes/${name}/`,
        `s3://${bucket}/changes/${name}/dt=\${dt}/`,
        {
          'projection.dt.type': 'date',
          'projection.dt.format': 'yyyy-MM-dd',
          'projection.dt.range': '2024-01-01,NOW',
          'projection.dt.interval': '1',
          'projection.dt.interval.unit': 'DAYS',
        },
        CHANGE_PARTITION_KEYS,
      ),
    );

    // Closed days of the change tables as Parquet (core/lake/change-columnar.ts), same columns and `dt`.
    const columnarChangeTables = CHANGE_TABLES.map((name) =>
      table(
        columnarChangeTable(name),
        CHANGE_TABLE_COLUMNS[name],
        `s3://${bucket}/columnar/changes/${name}/`,
        `s3://${bucket}/columnar/changes/${name}/dt=\${dt}/`,
        {
          'projection.dt.type': 'date',
          'projection.dt.format': 'yyyy-MM-dd',
          'projection.dt.range': '2024-01-01,NOW',
          'projection.dt.interval': '1',
          'projection.dt.interval.unit': 'DAYS',
        },
        CHANGE_PARTITION_KEYS,
        'parquet',
      ),
    );

    // Views Athena reads: Trino's definition in the "Presto View" envelope (core/lake/glue-view.ts).
    // The compactor rewrites `events` with each new frontier; a deploy resets it to read raw JSON
    // everywhere until the next hourly run, which is correct, only costlier.
    const view = (definition: Parameters<typeof glueViewInput>[1]) => {
      const v = new glue.CfnTable(this, definition.name, {
        catalogId: Aws.ACCOUNT_ID,
        databaseName: this.databaseName,
        tableInput: glueViewInput(this.databaseName, definition),
      });
      v.addDependency(raw);
      v.addDependency(columnar);
      for (const t of [...changeTables, ...columnarChangeTables]) v.addDependency(t);
      return v;
    };
    const events = view({
      name: 'events',
      comment: EVENTS_VIEW_COMMENT,
      columns: EVENTS_VIEW_COLUMNS,
      types: DERIVED_VIEW_TYPES,
      sql: eventsViewSql(NO_FRONTIER),
    });
    const profileViews = PROFILE_VIEWS.map(view);
    const profileEvents = view(PROFILE_EVENTS_VIEW(EVENTS_VIEW_COLUMNS));
    profileEvents.addDependency(events);
    for (const v of profileViews) profileEvents.addDependency(v);

    this.resultsBucket = new s3.Bucket(this, 'Results', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: props.encryptionKey,
      bucketKeyEnabled: true,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: 'athena-results/',
      lifecycleRules: [{ expiration: Duration.days(props.resultsRetentionDays ?? 30) }],
      removalPolicy: props.removalPolicy,
    });
    this.workGroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: `${Stack.of(this).stackName}-lake`,
      description: 'Queries over the CDP lake',
      state: 'ENABLED',
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: props.bytesScannedCutoffPerQuery ?? 10 * 1024 ** 3,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: {
          outputLocation: `s3://${this.resultsBucket.bucketName}/results/`,
          encryptionConfiguration: { encryptionOption: 'SSE_KMS', kmsKey: props.encryptionKey.keyArn },
        },
      },
    });
    for (const q of NAMED_QUERIES) {
      const named = new athena.CfnNamedQuery(this, `Query-${q.name}`, {
        name: q.name,
        description: `${q.description}.${q.sql.includes('?') ? ' Parameter: source id.' : ''}`.slice(0, 1024),
        database: this.databaseName,
        workGroup: this.workGroup.name,
        queryString: q.sql,
      });
      named.addDependency(this.workGroup);
      named.addDependency(this.database);
    }
  }

  /** What an analyst role needs to query the lake through this workgroup. */
  grantQuery(grantee: iam.IGrantable, lakeBucket: s3.IBucket, key: kms.IKey): void {
    lakeBucket.grantRead(grantee);
    this.resultsBucket.grantReadWrite(grantee);
    key.grantEncryptDecrypt(grantee);
  }
}
