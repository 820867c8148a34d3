import { beforeAll, describe, expect, it } from 'vitest';
import { DESTINATION_TYPES } from '../../core/activate/destinations.js';
import { DELTA_QUEUES } from '../../resources/queues.js';
import { policyStatements, type SynthesizedCdp, synthesizeCdp } from '../support/cdk.js';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON, asserted field by field
type Json = any;

describe('activation queues on AWS', () => {
  let cdp: SynthesizedCdp;
  let queues: Record<string, Json>;
  const logicalId = (resources: Record<string, Json>, pattern: RegExp) => {
    const ids = Object.keys(resources).filter((id) => pattern.test(id));
    expect(ids, String(pattern)).toHaveLength(1);
    return ids[0]!;
  };
  const queueId = (id: string) => logicalId(queues, new RegExp(`^ActivationQueues${id}[0-9A-F]{8}$`));
  const dlqId = (id: string) => logicalId(queues, new RegExp(`^ActivationQueues${id}Dlq[0-9A-F]{8}$`));
  const functionId = (name: string) =>
    logicalId(
      cdp.template.findResources('AWS::Lambda::Function'),
      new RegExp(`^${name}Function[0-9A-F]{8}$`),
    );
  /** Queue ARNs (as `Fn::GetAtt` logical ids) a role may call `action` on. */
  const queuesGranted = (rolePrefix: string, action: string) =>
    policyStatements(cdp.template)
      .filter(({ policy }) => policy.startsWith(rolePrefix))
      .filter(({ statement }) => ([] as string[]).concat(statement.Action).includes(action))
      .flatMap(({ statement }) => ([] as Json[]).concat(statement.Resource))
      .map((r: Json) => r?.['Fn::GetAtt']?.[0])
      .filter((id: string | undefined) => id?.startsWith('ActivationQueues'))
      .sort();

  beforeAll(() => {
    cdp = synthesizeCdp();
    queues = cdp.template.findResources('AWS::SQS::Queue');
  });

  it('has one KMS-encrypted queue per destination type, each with its own redrive DLQ', () => {
    expect(DELTA_QUEUES.map((q) => q.destinationType)).toEqual(DESTINATION_TYPES);
    const keys = new Set<string>();
    for (const q of DELTA_QUEUES) {
      const queue = queues[queueId(q.id)].Properties;
      expect(queue).toMatchObject({
        VisibilityTimeout: 300,
        MessageRetentionPeriod: 4 * 86_400,
        RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId(q.id), 'Arn'] }, maxReceiveCount: 5 },
      });
      keys.add(JSON.stringify(queue.KmsMasterKeyId));
      expect(queues[dlqId(q.id)].Properties.KmsMasterKeyId).toEqual(queue.KmsMasterKeyId);
    }
    // All on the stack's one data key.
    expect(keys.size).toBe(1);
    expect([...keys][0]).toMatch(/EncryptionDataKey/);
    // The single deltas queue of segmentation is gone.
    expect(Object.keys(queues).filter((id) => id.startsWith('SegmentationDeltas'))).toEqual([]);
  });

  it('denies non-TLS access to every delta queue and DLQ', () => {
    const policies: Json[] = Object.values(cdp.template.findResources('AWS::SQS::QueuePolicy'));
    for (const q of DELTA_QUEUES)
      for (const id of [queueId(q.id), dlqId(q.id)]) {
        const policy = policies.find((p: Json) => p.Properties.Queues.some((r: Json) => r.Ref === id));
        expect(policy, id).toBeDefined();
        expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
          expect.objectContaining({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        );
      }
  });

  it("consumes each queue with its type's batch size, window and concurrency, reporting partial failures", () => {
    const mappings = Object.values(cdp.template.findResources('AWS::Lambda::EventSourceMapping')).map(
      (m: Json) => m.Properties,
    );
    const worker = functionId('Activation');
    for (const q of DELTA_QUEUES) {
      const mapping = mappings.find((m: Json) => m.EventSourceArn?.['Fn::GetAtt']?.[0] === queueId(q.id));
      expect(mapping, q.destinationType).toBeDefined();
      expect(mapping).toMatchObject({
        FunctionName: { Ref: worker },
        BatchSize: q.batchSize,
        MaximumBatchingWindowInSeconds: q.maxBatchingWindowSeconds,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
      expect(mapping.ScalingConfig?.MaximumConcurrency).toBe(q.maxConcurrency);
    }
    expect(
      mappings.find((m: Json) => m.EventSourceArn?.['Fn::GetAtt']?.[0] === queueId('DeltasSes')),
    ).toMatchObject({ ScalingConfig: { MaximumConcurrency: 2 } });
  });

  it('lets the delta sink functions send to every type queue, the worker consume them, and nobody else', () => {
    const typeQueues = DELTA_QUEUES.map((q) => queueId(q.id)).sort();
    for (const sink of ['SegmentRunnerFunctionServiceRole', 'ProfileProcessorFunctionServiceRole']) {
      expect(queuesGranted(sink, 'sqs:SendMessage'), sink).toEqual(typeQueues);
      expect(queuesGranted(sink, 'sqs:ReceiveMessage'), sink).toEqual([]);
    }
    expect(queuesGranted('ActivationFunctionServiceRole', 'sqs:ReceiveMessage')).toEqual(typeQueues);
    expect(queuesGranted('ActivationFunctionServiceRole', 'sqs:DeleteMessage')).toEqual(typeQueues);
    expect(queuesGranted('ActivationFunctionServiceRole', 'sqs:SendMessage')).toEqual([]);
    for (const other of ['CollectorFunction', 'SegmentApiFunction', 'DestinationApiFunction', 'ProfileApi'])
      expect(queuesGranted(other, 'sqs:SendMessage'), other).toEqual([]);
  });

  it('gives the sink functions every queue URL under the shared variable names', () => {
    const functions: Record<string, Json> = cdp.template.findResources('AWS::Lambda::Function');
    for (const name of ['SegmentRunner', 'ProfileProcessor']) {
      const env = functions[functionId(name)].Properties.Environment.Variables;
      for (const q of DELTA_QUEUES)
        expect(env[q.envVar], `${name} ${q.envVar}`).toEqual({ Ref: queueId(q.id) });
    }
  });

  it('stays clean under cdk-nag', () => {
    expect(cdp.nagErrors).toEqual([]);
  });
});
