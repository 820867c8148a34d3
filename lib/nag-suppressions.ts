import type { Stack } from 'aws-cdk-lib';
import { NagSuppressions } from './shared/nag.js';

/**
 * Every cdk-nag AwsSolutions finding we accept stack-wide, each with its reason, in one place so a
 * reviewer can read the whole list of exceptions at once. Findings specific to one resource are
 * suppressed next to that resource, also with a reason.
 */
export function applyNagSuppressions(stack: Stack): void {
  NagSuppressions.addStackSuppressions(stack, [
    {
      id: 'AwsSolutions-IAM4',
      reason:
        'Lambda functions use AWSLambdaBasicExecutionRole (CloudWatch Logs only) as AWS recommends; it grants no data access.',
      appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
    },
    {
      id: 'AwsSolutions-L1',
      reason:
        'Functions run Node.js 22, the runtime this CDP is built and tested for; upgrades are deliberate.',
    },
    {
      id: 'AwsSolutions-IAM5',
      reason:
        'KMS grants from CDK use the GenerateDataKey*/ReEncrypt* action families on the one data key (a single key ARN, not a wildcard resource); X-Ray PutTraceSegments/PutTelemetryRecords and CloudWatch GetMetricData (the console overview) only support Resource "*"; table grants include "<table>/index/*" so queries can use the table\'s own GSIs; lake writers may put objects only under their own prefix of the lake bucket ("<lake>/<prefix>/*": raw, quarantine, the change tables under changes/, compacted Parquet under columnar/), which S3 can only express with a trailing wildcard; the activation worker may put audience exports anywhere in the exports bucket (destinations choose their prefix at run time).',
      appliesTo: [
        'Action::kms:GenerateDataKey*',
        'Action::kms:ReEncrypt*',
        'Resource::*',
        { regex: '/^Resource::<Store(Profiles|Control)Table[0-9A-F]+\\.Arn>/index/\\*$/g' },
        { regex: '/^Resource::<LakeLakeBucket[0-9A-F]+\\.Arn>/(raw|quarantine|changes|columnar)/.*\\*$/g' },
        { regex: '/^Resource::<LakeExportsBucket[0-9A-F]+\\.Arn>/\\*$/g' },
      ],
    },
    {
      id: 'AwsSolutions-KDS3',
      reason:
        'The events stream carries personal data, so it is encrypted with the customer-managed data key on purpose.',
    },
  ]);
}
