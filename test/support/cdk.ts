import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Aspects } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { CdpStack, type CdpStackProps } from '../../lib/cdp-stack.js';
import { applyNagSuppressions } from '../../lib/nag-suppressions.js';
import { REPO_ROOT } from '../../lib/shared/cdp-function.js';
import { AwsSolutionsChecks } from '../../lib/shared/nag.js';

/** The feature flags and settings `cdk synth` reads from cdk.json, so tests see the deployed template. */
const CDK_JSON_CONTEXT = (
  JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }
).context;

export interface SynthesizedCdp {
  readonly stack: CdpStack;
  readonly template: Template;
  /** cdk-nag errors that are not suppressed, as "path: message" lines. */
  readonly nagErrors: string[];
  readonly nagWarnings: string[];
}

/**
 * Synthesizes the stack as `bin/cdp.ts` does, with cdk-nag, but without bundling Lambda code (the
 * template is the same; `npx cdk synth` exercises the bundling).
 */
export function synthesizeCdp(
  props: CdpStackProps = {},
  context: Record<string, unknown> = {},
): SynthesizedCdp {
  const app = new App({ context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [], ...context } });
  const stack = new CdpStack(app, 'TestCdp', props);
  applyNagSuppressions(stack);
  Aspects.of(app).add(new AwsSolutionsChecks());
  const template = Template.fromStack(stack);
  const annotations = Annotations.fromStack(stack);
  const describe = (m: { id: string; entry: { data?: unknown } }) => `${m.id}: ${String(m.entry.data)}`;
  return {
    stack,
    template,
    nagErrors: annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*')).map(describe),
    nagWarnings: annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')).map(describe),
  };
}

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

/** Every IAM policy statement in the template, with the policy's logical id. */
export function policyStatements(template: Template): Array<{ policy: string; statement: Statement }> {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.entries(policies).flatMap(([policy, resource]) =>
    (
      resource as { Properties: { PolicyDocument: { Statement: Statement[] } } }
    ).Properties.PolicyDocument.Statement.map((statement) => ({ policy, statement })),
  );
}
