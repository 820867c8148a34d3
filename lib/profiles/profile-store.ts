import type { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import {
  CONTROL_TABLE,
  type KeyAttribute,
  PROFILES_TABLE,
  type TableDefinition,
  TIMELINE_TABLE,
} from '../../resources/tables.js';
import type { CapacityRange } from '../config.js';
import { NagSuppressions } from '../shared/nag.js';

/** Provisioned capacity with target-tracking auto scaling (`cdp:timelineCapacity=provisioned`). */
export interface ProvisionedCapacity {
  readonly writes: CapacityRange;
  readonly reads: CapacityRange;
  /** Percent of the provisioned capacity auto scaling aims to use. */
  readonly targetUtilizationPercent: number;
}

export interface ProfileStoreProps {
  readonly encryptionKey: kms.IKey;
  readonly removalPolicy: RemovalPolicy;
  /** The timeline table provisioned and auto scaled; on demand when absent. */
  readonly timelineCapacity?: ProvisionedCapacity;
  /** Point-in-time recovery on the timeline table (`cdp:timelineBackups`); on when absent. */
  readonly timelineBackups?: boolean;
}

const attribute = (k: KeyAttribute): dynamodb.Attribute => ({
  name: k.name,
  type: k.type === 'S' ? dynamodb.AttributeType.STRING : dynamodb.AttributeType.NUMBER,
});

/**
 * Builds a table from its shared definition: CMK-encrypted, PITR on (unless `backups` is false), TTL on; on demand, or provisioned
 * at the range's minimum with auto scaling (indexes are not scaled: only tables without any are).
 */
function tableFrom(
  scope: Construct,
  def: TableDefinition,
  props: ProfileStoreProps,
  capacity?: ProvisionedCapacity,
  backups = true,
): dynamodb.Table {
  if (capacity && def.globalSecondaryIndexes.length)
    throw new Error(`${def.id}: provisioned capacity is only set up for tables without indexes`);
  const table = new dynamodb.Table(scope, def.id, {
    partitionKey: attribute(def.partitionKey),
    sortKey: attribute(def.sortKey),
    ...(capacity
      ? {
          billingMode: dynamodb.BillingMode.PROVISIONED,
          writeCapacity: capacity.writes.min,
          readCapacity: capacity.reads.min,
        }
      : { billingMode: dynamodb.BillingMode.PAY_PER_REQUEST }),
    encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
    encryptionKey: props.encryptionKey,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: backups },
    timeToLiveAttribute: def.ttlAttribute,
    deletionProtection: true,
    removalPolicy: props.removalPolicy,
  });
  for (const index of def.globalSecondaryIndexes) {
    table.addGlobalSecondaryIndex({
      indexName: index.indexName,
      partitionKey: attribute(index.partitionKey),
      sortKey: index.sortKey ? attribute(index.sortKey) : undefined,
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }
  if (capacity) {
    const target = { targetUtilizationPercent: capacity.targetUtilizationPercent };
    table
      .autoScaleWriteCapacity({ minCapacity: capacity.writes.min, maxCapacity: capacity.writes.max })
      .scaleOnUtilization(target);
    table
      .autoScaleReadCapacity({ minCapacity: capacity.reads.min, maxCapacity: capacity.reads.max })
      .scaleOnUtilization(target);
  }
  return table;
}

/** The profiles table (everything about a person) and the control table (the platform's own state). */
export class ProfileStore extends Construct {
  readonly profiles: dynamodb.Table;
  readonly control: dynamodb.Table;
  /** Part of the profiles: every grant on the profiles covers it. */
  readonly timeline: dynamodb.Table;

  constructor(scope: Construct, id: string, props: ProfileStoreProps) {
    super(scope, id);
    this.profiles = tableFrom(this, PROFILES_TABLE, props);
    this.control = tableFrom(this, CONTROL_TABLE, props);
    this.timeline = tableFrom(
      this,
      TIMELINE_TABLE,
      props,
      props.timelineCapacity,
      props.timelineBackups ?? true,
    );
    if (props.timelineBackups === false)
      NagSuppressions.addResourceSuppressions(this.timeline, [
        {
          id: 'AwsSolutions-DDB3',
          reason:
            'cdp:timelineBackups=false, chosen by the deployer: the timeline is derived data, every event of it is in the lake (the system of record), and it is recovered by rebuilding from the lake (npm run cdp -- rebuild)',
        },
      ]);
  }

  environment(): Record<string, string> {
    return {
      [PROFILES_TABLE.envVar]: this.profiles.tableName,
      [CONTROL_TABLE.envVar]: this.control.tableName,
      [TIMELINE_TABLE.envVar]: this.timeline.tableName,
    };
  }

  grantProfilesReadWrite(grantee: iam.IGrantable): void {
    this.profiles.grantReadWriteData(grantee);
    this.timeline.grantReadWriteData(grantee);
  }

  grantProfilesRead(grantee: iam.IGrantable): void {
    this.profiles.grantReadData(grantee);
    this.timeline.grantReadData(grantee);
  }

  grantControlRead(grantee: iam.IGrantable): void {
    this.control.grantReadData(grantee);
  }

  grantControlReadWrite(grantee: iam.IGrantable): void {
    this.control.grantReadWriteData(grantee);
  }

  /**
   * Puts of segmentation's change log items (`CHANGES#<n>` keys) in the control table, nothing else:
   * the stream processor records the profiles each batch changed for incremental segment runs.
   */
  grantSegmentChangeLog(grantee: iam.IGrantable): void {
    this.grantControlPuts(grantee, ['CHANGES#*']);
  }

  /**
   * Reads of the control table (tombstones) and puts of barrier passes (`REGBARRIER#<id>` keys) only:
   * a stream consumer records that it passed a deletion's barrier, and can write nothing else there.
   */
  grantErasureBarrierPasses(grantee: iam.IGrantable): void {
    this.control.grantReadData(grantee);
    this.grantControlPuts(grantee, ['REGBARRIER#*']);
  }

  private grantControlPuts(grantee: iam.IGrantable, leadingKeys: string[]): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:PutItem'],
      resourceArns: [this.control.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': leadingKeys } },
    });
    // Writes to a table under a customer managed key need the key for its data keys.
    this.control.encryptionKey?.grantEncryptDecrypt(grantee);
  }
}
