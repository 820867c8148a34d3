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

export interface ProfileStoreProps {
  readonly encryptionKey: kms.IKey;
  readonly removalPolicy: RemovalPolicy;
}

const attribute = (k: KeyAttribute): dynamodb.Attribute => ({
  name: k.name,
  type: k.type === 'S' ? dynamodb.AttributeType.STRING : dynamodb.AttributeType.NUMBER,
});

/** Builds a table from its shared definition: on-demand, CMK-encrypted, PITR on, TTL on. */
function tableFrom(scope: Construct, def: TableDefinition, props: ProfileStoreProps): dynamodb.Table {
  const table = new dynamodb.Table(scope, def.id, {
    partitionKey: attribute(def.partitionKey),
    sortKey: attribute(def.sortKey),
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
    encryptionKey: props.encryptionKey,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
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
    this.timeline = tableFrom(this, TIMELINE_TABLE, props);
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
   * Puts in the control table, for segmentation's change log items (`CHANGES#<n>` keys): the stream
   * processor records the profiles each batch changed for incremental segment runs.
   */
  grantSegmentChangeLog(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:PutItem'],
      // Table-wide: a `dynamodb:LeadingKeys` condition (CHANGES#*) would narrow it further, but the
      // IAM sufficiency check (test/deploy) does not evaluate conditions yet.
      resourceArns: [this.control.tableArn],
    });
  }
}
