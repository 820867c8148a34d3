/**
 * A CloudFormation template read without deploying it: intrinsic functions resolve to symbolic
 * values (a resource's name is its logical id, its ARN is built from that in a fixed account and
 * region), so policies and the resources calls touch can be compared as plain strings.
 */
export interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
}

export interface CfnTemplate {
  readonly Resources: Record<string, TemplateResource>;
  readonly Outputs?: Record<string, unknown>;
  readonly Parameters?: Record<string, unknown>;
  readonly Mappings?: Record<string, unknown>;
}

export const SYMBOLIC_ACCOUNT = '123456789012';
export const SYMBOLIC_REGION = 'us-east-1';

export class UnresolvableValue extends Error {
  override readonly name = 'UnresolvableValue';
}

export class TemplateResolver {
  constructor(
    readonly template: CfnTemplate,
    private readonly stackName = 'TestCdp',
  ) {}

  resource(logicalId: string): TemplateResource {
    const r = this.template.Resources[logicalId];
    if (!r) throw new UnresolvableValue(`no resource ${logicalId} in the template`);
    return r;
  }

  /** Resolves a property value (string, Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split). */
  resolve(value: unknown): string {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const [fn, arg] = Object.entries(value as Record<string, unknown>)[0] ?? [];
      if (fn === 'Ref') return this.ref(String(arg));
      if (fn === 'Fn::GetAtt') {
        const [id, attr] = Array.isArray(arg) ? arg : String(arg).split('.');
        return this.getAtt(String(id), String(attr));
      }
      if (fn === 'Fn::Join') {
        const [sep, parts] = arg as [string, unknown[]];
        return parts.map((p) => this.resolve(p)).join(sep);
      }
      if (fn === 'Fn::Select') {
        const [index, list] = arg as [unknown, unknown];
        return this.list(list)[Number(this.resolve(index))] ?? '';
      }
      if (fn === 'Fn::Sub') {
        const [text, vars] = (Array.isArray(arg) ? arg : [arg, {}]) as [string, Record<string, unknown>];
        return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
          if (name in vars) return this.resolve(vars[name]);
          const [id, attr] = name.split('.');
          return attr ? this.getAtt(id!, attr) : this.ref(id!);
        });
      }
    }
    throw new UnresolvableValue(`cannot resolve ${JSON.stringify(value)}`);
  }

  private list(value: unknown): string[] {
    if (Array.isArray(value)) return value.map((v) => this.resolve(v));
    const split = (value as Record<string, unknown> | undefined)?.['Fn::Split'] as
      | [string, unknown]
      | undefined;
    if (split) return this.resolve(split[1]).split(split[0]);
    throw new UnresolvableValue(`cannot resolve list ${JSON.stringify(value)}`);
  }

  ref(id: string): string {
    switch (id) {
      case 'AWS::Partition':
        return 'aws';
      case 'AWS::Region':
        return SYMBOLIC_REGION;
      case 'AWS::AccountId':
        return SYMBOLIC_ACCOUNT;
      case 'AWS::StackName':
        return this.stackName;
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackId':
        return `arn:aws:cloudformation:${SYMBOLIC_REGION}:${SYMBOLIC_ACCOUNT}:stack/${this.stackName}/id`;
    }
    if (this.template.Parameters?.[id]) return `{param:${id}}`;
    const r = this.resource(id);
    switch (r.Type) {
      case 'AWS::SQS::Queue':
        return `https://sqs.${SYMBOLIC_REGION}.amazonaws.com/${SYMBOLIC_ACCOUNT}/${id}`;
      case 'AWS::StepFunctions::StateMachine':
      case 'AWS::SNS::Topic':
        return this.arnOf(id);
      default:
        return id;
    }
  }

  getAtt(id: string, attr: string): string {
    if (attr === 'Arn' || attr === 'StreamArn') return this.arnOf(id);
    if (attr === 'QueueName' || attr === 'Name') return this.nameOf(id);
    if (attr === 'QueueUrl') return this.ref(id);
    if (attr === 'ApiEndpoint') return `https://${id}.execute-api.${SYMBOLIC_REGION}.amazonaws.com`;
    return `${id}.${attr}`;
  }

  /** The resource's physical name: its explicit name property when it has one, else its logical id. */
  nameOf(id: string): string {
    const p = this.resource(id).Properties ?? {};
    const named = p.StateMachineName ?? p.TableName ?? p.BucketName ?? p.QueueName ?? p.Name;
    return named === undefined ? id : this.resolve(named);
  }

  arnOf(id: string): string {
    const r = this.resource(id);
    const name = this.nameOf(id);
    const at = `${SYMBOLIC_REGION}:${SYMBOLIC_ACCOUNT}`;
    switch (r.Type) {
      case 'AWS::DynamoDB::Table':
        return `arn:aws:dynamodb:${at}:table/${name}`;
      case 'AWS::Kinesis::Stream':
        return `arn:aws:kinesis:${at}:stream/${name}`;
      case 'AWS::S3::Bucket':
        return `arn:aws:s3:::${name}`;
      case 'AWS::SQS::Queue':
        return `arn:aws:sqs:${at}:${name}`;
      case 'AWS::SNS::Topic':
        return `arn:aws:sns:${at}:${name}`;
      case 'AWS::KMS::Key':
        return `arn:aws:kms:${at}:key/${id}`;
      case 'AWS::Lambda::Function':
        return `arn:aws:lambda:${at}:function:${name}`;
      case 'AWS::IAM::Role':
        return `arn:aws:iam::${SYMBOLIC_ACCOUNT}:role/${name}`;
      case 'AWS::StepFunctions::StateMachine':
        return `arn:aws:states:${at}:stateMachine:${name}`;
      case 'AWS::Logs::LogGroup':
        return `arn:aws:logs:${at}:log-group:${name}:*`;
      default:
        return `arn:aws:${r.Type.split('::')[1]?.toLowerCase()}:${at}:${id}`;
    }
  }

  /** Logical ids of the template's resources of a type. */
  ofType(type: string): string[] {
    return Object.entries(this.template.Resources)
      .filter(([, r]) => r.Type === type)
      .map(([id]) => id);
  }

  /** The resource whose ARN (or queue URL) this is, if it is one of the template's. */
  findByArn(arn: string): string | undefined {
    return Object.keys(this.template.Resources).find((id) => {
      try {
        return this.arnOf(id) === arn;
      } catch {
        return false;
      }
    });
  }

  /** The customer-managed KMS key a table, stream, bucket or queue is encrypted with (its ARN). */
  kmsKeyOf(id: string): string | undefined {
    const r = this.resource(id);
    // biome-ignore lint/suspicious/noExplicitAny: CloudFormation properties of four resource types
    const p = (r.Properties ?? {}) as Record<string, any>;
    const key =
      r.Type === 'AWS::DynamoDB::Table'
        ? p.SSESpecification?.KMSMasterKeyId
        : r.Type === 'AWS::Kinesis::Stream'
          ? p.StreamEncryption?.KeyId
          : r.Type === 'AWS::SQS::Queue'
            ? p.KmsMasterKeyId
            : r.Type === 'AWS::S3::Bucket'
              ? p.BucketEncryption?.ServerSideEncryptionConfiguration?.[0]?.ServerSideEncryptionByDefault
                  ?.KMSMasterKeyID
              : undefined;
    if (key === undefined) return undefined;
    const resolved = this.resolve(key);
    // alias/aws/* keys are AWS managed: their use needs no identity-policy grant.
    return resolved.startsWith('alias/aws/') ? undefined : resolved;
  }
}
