#!/usr/bin/env node
import { App, Aspects } from 'aws-cdk-lib';
import { CdpStack } from '../lib/cdp-stack.js';
import { applyNagSuppressions } from '../lib/nag-suppressions.js';
import { AwsSolutionsChecks } from '../lib/shared/nag.js';

const app = new App();
const stackName = (app.node.tryGetContext('cdp:stackName') as string | undefined) ?? 'CdpStack';
const stack = new CdpStack(app, stackName, {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: 'Serverless Customer Data Platform',
});
applyNagSuppressions(stack);
Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
