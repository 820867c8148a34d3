// cdk-nag is CommonJS; Node's ESM loader cannot see all of its named exports, so take them off the module.
import cdkNag from 'cdk-nag';

export const { AwsSolutionsChecks, NagSuppressions } = cdkNag;
