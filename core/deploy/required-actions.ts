import { SYMBOLIC_ACCOUNT, SYMBOLIC_REGION, type TemplateResolver } from './template.js';

/** One call recorded under test (see adapters/aws/call-recorder.ts). */
export interface CallRecord {
  readonly functionId: string;
  readonly service: string;
  readonly command: string;
  readonly resource: Record<string, unknown>;
}

/** One IAM authorization a call needs. */
export interface Requirement {
  readonly action: string;
  readonly resource: string;
  readonly context?: Readonly<Record<string, string>>;
  /** Why it is needed: the call, or the implicit use (KMS, event source, Distributed Map). */
  readonly why: string;
}

const AT = `${SYMBOLIC_REGION}:${SYMBOLIC_ACCOUNT}`;

/**
 * Maps what a call names (physical names as the function saw them) to the template's symbolic values:
 * `translate` is built from the function environments (local value → template value).
 */
export type Translate = (physical: string) => string;

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

const DYNAMODB_READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'ConditionCheckItem']);
const DYNAMODB_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem']);

/** KMS use implied by touching an encrypted resource: decrypt to read, a data key to write. */
function kms(
  resolver: TemplateResolver,
  resourceArn: string,
  use: 'read' | 'write' | 'both',
  why: string,
): Requirement[] {
  const id = resolver.findByArn(resourceArn);
  const key = id ? resolver.kmsKeyOf(id) : undefined;
  if (!key) return [];
  const actions =
    use === 'read'
      ? ['kms:Decrypt']
      : use === 'write'
        ? ['kms:GenerateDataKey']
        : ['kms:GenerateDataKey', 'kms:Decrypt'];
  return actions.map((action) => ({ action, resource: key, why: `${why} (encrypted with ${id}'s key)` }));
}

/** The IAM actions and resources a recorded call needs, including the implicit ones. */
export function requirementsOf(
  call: CallRecord,
  resolver: TemplateResolver,
  translate: Translate,
): Requirement[] {
  const r = call.resource;
  const why = `${call.service} ${call.command}`;
  switch (call.service) {
    case 'DynamoDB': {
      const tables = [str(r.TableName), ...((r.Tables as string[] | undefined) ?? [])].filter(
        (t): t is string => Boolean(t),
      );
      return tables.flatMap((t) => {
        const table = `arn:aws:dynamodb:${AT}:table/${translate(t)}`;
        const target = r.IndexName ? `${table}/index/${r.IndexName}` : table;
        const use = DYNAMODB_READS.has(call.command)
          ? 'read'
          : DYNAMODB_WRITES.has(call.command)
            ? 'both'
            : undefined;
        return [
          {
            action: `dynamodb:${call.command}`,
            resource: target,
            why: `${why} on ${t}`,
            // The key's kind (`CHANGES#…`), not the key: grants name prefixes, and one requirement per
            // profile id would only repeat the same check.
            ...(str(r.LeadingKey)
              ? { context: { 'dynamodb:LeadingKeys': (str(r.LeadingKey) as string).replace(/#.*$/, '#…') } }
              : {}),
          },
          ...(use ? kms(resolver, table, use === 'both' ? 'both' : 'read', `${why} on ${t}`) : []),
        ];
      });
    }
    case 'Kinesis': {
      const name = str(r.StreamName) ?? str(r.StreamARN)?.split('/').pop() ?? '?';
      const stream = `arn:aws:kinesis:${AT}:stream/${translate(name)}`;
      const writes = call.command.startsWith('Put');
      // Only record data is encrypted: listing shards or describing the stream uses no key.
      const data = writes || call.command === 'GetRecords';
      return [
        { action: `kinesis:${call.command}`, resource: stream, why: `${why} on ${name}` },
        ...(data ? kms(resolver, stream, writes ? 'write' : 'read', `${why} on ${name}`) : []),
      ];
    }
    case 'S3': {
      const bucketName = translate(str(r.Bucket) ?? '?');
      const bucket = `arn:aws:s3:::${bucketName}`;
      const object = (key: string) => `${bucket}/${key}`;
      const on = `${why} on ${r.Bucket}`;
      switch (call.command) {
        case 'ListObjectsV2':
        case 'ListObjects':
        case 'HeadBucket':
          return [
            {
              action: 's3:ListBucket',
              resource: bucket,
              context: { 's3:prefix': str(r.Prefix) ?? '' },
              why: `${on} (prefix ${str(r.Prefix) ?? ''})`,
            },
          ];
        case 'GetObject':
        case 'HeadObject':
          return [
            { action: 's3:GetObject', resource: object(str(r.Key) ?? ''), why: on },
            ...kms(resolver, bucket, 'read', on),
          ];
        case 'PutObject':
        case 'CreateMultipartUpload':
        case 'UploadPart':
        case 'CompleteMultipartUpload':
          return [
            { action: 's3:PutObject', resource: object(str(r.Key) ?? ''), why: on },
            ...kms(resolver, bucket, call.command === 'PutObject' ? 'write' : 'both', on),
          ];
        case 'ListObjectVersions':
          return [
            {
              action: 's3:ListBucketVersions',
              resource: bucket,
              context: { 's3:prefix': str(r.Prefix) ?? '' },
              why: `${on} (prefix ${str(r.Prefix) ?? ''})`,
            },
          ];
        case 'DeleteObject':
          return [
            {
              action: r.VersionId ? 's3:DeleteObjectVersion' : 's3:DeleteObject',
              resource: object(str(r.Key) ?? ''),
              why: on,
            },
          ];
        case 'DeleteObjects':
          return ((r.Keys as string[] | undefined) ?? []).map((k) => ({
            action: 's3:DeleteObject',
            resource: object(k),
            why: on,
          }));
        default:
          return [{ action: `s3:${call.command}`, resource: object(str(r.Key) ?? '*'), why: on }];
      }
    }
    case 'SFN': {
      if (r.stateMachineArn)
        return [
          {
            action: `states:${call.command}`,
            resource: translate(str(r.stateMachineArn)!),
            why,
          },
        ];
      // An execution ARN: its state machine's part is translated, the execution name kept.
      const exec = str(r.executionArn) ?? '';
      const m = /^(arn:[^:]+:states:[^:]*:[^:]*):execution:([^:]+):(.+)$/.exec(exec);
      const machine = m ? translate(`${m[1]}:stateMachine:${m[2]}`) : exec;
      const resource = m ? `${machine.replace(':stateMachine:', ':execution:')}:${m[3]}` : exec;
      return [{ action: `states:${call.command}`, resource, why }];
    }
    case 'SQS': {
      const url = translate(str(r.QueueUrl) ?? '?');
      const name = url.split('/').pop() ?? url;
      const queue = `arn:aws:sqs:${AT}:${name}`;
      return [
        { action: 'sqs:SendMessage', resource: queue, why: `${why} to ${r.QueueUrl}` },
        ...kms(resolver, queue, 'both', `${why} to ${r.QueueUrl}`),
      ];
    }
    case 'Pinpoint': {
      const req: Requirement[] = [
        {
          action: `mobiletargeting:${call.command}`,
          resource: `arn:aws:mobiletargeting:${AT}:apps/${str(r.ApplicationId)}`,
          why,
        },
      ];
      if (r.roleArn)
        req.push({
          action: 'iam:PassRole',
          resource: str(r.roleArn)!,
          context: { 'iam:PassedToService': 'pinpoint.amazonaws.com' },
          why: `${why} passes its import role`,
        });
      return req;
    }
    case 'SESv2':
      return [
        {
          action: `ses:${call.command}`,
          resource: `arn:aws:ses:${AT}:contact-list/${str(r.ContactListName)}`,
          why,
        },
      ];
    case 'CustomerProfiles':
      return [
        {
          action: `profile:${call.command}`,
          resource: `arn:aws:profile:${AT}:domains/${str(r.DomainName)}`,
          why,
        },
      ];
    case 'EventBridge':
      return ((r.EventBusNames as string[] | undefined) ?? ['default']).map((bus) => ({
        action: `events:${call.command}`,
        resource: bus.startsWith('arn:') ? bus : `arn:aws:events:${AT}:event-bus/${bus}`,
        why,
      }));
    case 'PersonalizeEvents':
      return [
        {
          action: `personalize:${call.command}`,
          resource: r.trackingId
            ? `arn:aws:personalize:${AT}:event-tracker/${str(r.trackingId)}`
            : (str(r.datasetArn) ?? '?'),
          why,
        },
      ];
    case 'Personalize': {
      const req: Requirement[] = [
        {
          action: `personalize:${call.command}`,
          resource: str(r.datasetGroupArn) ?? str(r.datasetArn) ?? '*',
          why,
        },
      ];
      if (r.roleArn)
        req.push({
          action: 'iam:PassRole',
          resource: str(r.roleArn)!,
          context: { 'iam:PassedToService': 'personalize.amazonaws.com' },
          why: `${why} passes its deletion role`,
        });
      return req;
    }
    default:
      return [{ action: `${call.service.toLowerCase()}:${call.command}`, resource: '*', why }];
  }
}
