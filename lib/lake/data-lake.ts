import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { EXPORTS_BUCKET, LAKE_BUCKET } from '../../resources/buckets.js';

export interface DataLakeProps {
  readonly encryptionKey: kms.IKey;
  readonly removalPolicy: RemovalPolicy;
  /** Days before raw objects move to Infrequent Access and to Glacier Instant Retrieval. */
  readonly infrequentAccessAfterDays?: number;
  readonly glacierAfterDays?: number;
}

/** Lake and exports buckets: KMS, TLS-only, versioned, no public access, server access logs. */
export class DataLake extends Construct {
  readonly lakeBucket: s3.Bucket;
  readonly exportsBucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: DataLakeProps) {
    super(scope, id);
    const autoDelete = false;
    // Access logs cannot go to a KMS-CMK bucket; SSE-S3 is what S3 log delivery supports.
    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(365) }],
      removalPolicy: props.removalPolicy,
      autoDeleteObjects: autoDelete,
    });
    const secureBucket = (bucketId: string, prefix: string, rules: s3.LifecycleRule[]) =>
      new s3.Bucket(this, bucketId, {
        encryption: s3.BucketEncryption.KMS,
        encryptionKey: props.encryptionKey,
        bucketKeyEnabled: true,
        enforceSSL: true,
        versioned: true,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        serverAccessLogsBucket: this.accessLogsBucket,
        serverAccessLogsPrefix: prefix,
        lifecycleRules: rules,
        removalPolicy: props.removalPolicy,
      });
    this.lakeBucket = secureBucket(LAKE_BUCKET.id, 'lake/', [
      {
        id: 'tier-raw-events',
        prefix: 'raw/',
        transitions: [
          {
            storageClass: s3.StorageClass.INFREQUENT_ACCESS,
            transitionAfter: Duration.days(props.infrequentAccessAfterDays ?? 30),
          },
          {
            storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
            transitionAfter: Duration.days(props.glacierAfterDays ?? 180),
          },
        ],
      },
      // Old versions exist only because of rewrites (GDPR deletes); keep them briefly, then erase.
      { id: 'expire-old-versions', noncurrentVersionExpiration: Duration.days(7) },
    ]);
    this.exportsBucket = secureBucket(EXPORTS_BUCKET.id, 'exports/', [
      { id: 'expire-old-versions', noncurrentVersionExpiration: Duration.days(7) },
    ]);
  }

  environment(): Record<string, string> {
    return {
      [LAKE_BUCKET.envVar]: this.lakeBucket.bucketName,
      [EXPORTS_BUCKET.envVar]: this.exportsBucket.bucketName,
    };
  }

  /** PutObject under one prefix only (no multipart aborts, no reads), plus encrypting with the key. */
  grantLakeWrite(grantee: iam.IGrantable, prefix: string): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:PutObject'],
      resourceArns: [this.lakeBucket.arnForObjects(`${prefix}*`)],
    });
    this.lakeBucket.encryptionKey?.grantEncrypt(grantee);
  }

  /** PutObject into the exports bucket (audience exports), nothing else. */
  grantExportsWrite(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:PutObject'],
      resourceArns: [this.exportsBucket.arnForObjects('*')],
    });
    this.exportsBucket.encryptionKey?.grantEncrypt(grantee);
  }

  /**
   * Read and rewrite raw, quarantine, change-table and compacted objects, including old versions
   * (GDPR deletes).
   */
  grantLakeRewrite(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:ListBucket', 's3:ListBucketVersions'],
      resourceArns: [this.lakeBucket.bucketArn],
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:DeleteObjectVersion'],
      resourceArns: ['raw/*', 'quarantine/*', 'changes/*', 'columnar/*'].map((p) =>
        this.lakeBucket.arnForObjects(p),
      ),
    });
    this.lakeBucket.encryptionKey?.grantEncryptDecrypt(grantee);
  }

  /** List and read quarantined records of some stages (the console's event debugger), nothing else. */
  grantQuarantineRead(grantee: iam.IGrantable, stages: readonly string[]): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:ListBucket'],
      resourceArns: [this.lakeBucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': stages.map((s) => `quarantine/stage=${s}/*`) } },
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:GetObject'],
      resourceArns: stages.map((s) => this.lakeBucket.arnForObjects(`quarantine/stage=${s}/*`)),
    });
    this.lakeBucket.encryptionKey?.grantDecrypt(grantee);
  }
}
