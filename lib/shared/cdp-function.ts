import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { FunctionDefinition } from '../../resources/functions/types.js';
import { type LambdaLogLevel, type TracingMode, tracesOwnInvocations } from '../config.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * How every handler is bundled: one minified ESM file for Node.js 22. `bench/coldstart.ts` bundles
 * with these same options to measure init time.
 */
export const BUNDLING = {
  format: OutputFormat.ESM,
  target: 'node22',
  minify: true,
  // Bundle the SDK too: the version we test against is the version that runs.
  externalModules: [] as string[],
  // ESM bundles of CommonJS dependencies need a real `require`.
  banner:
    "import { createRequire as __cdpCreateRequire } from 'module'; const require = __cdpCreateRequire(import.meta.url);",
};

export interface CdpFunctionProps {
  readonly definition: FunctionDefinition;
  readonly environment: Record<string, string>;
  readonly logRetentionDays: number;
  readonly removalPolicy: RemovalPolicy;
  /** Source maps in the bundle and `--enable-source-maps` at run time (`cdp:sourceMaps`). */
  readonly sourceMaps: boolean;
  /** `cdp:logLevel`, `cdp:platformLogs`, `cdp:tracing`. */
  readonly logLevel: LambdaLogLevel;
  readonly platformLogs: boolean;
  readonly tracing: TracingMode;
}

/** Active tracing, or only following a caller's sampled trace (no trace of its own). */
export function tracingFor(definition: FunctionDefinition, mode: TracingMode): lambda.Tracing {
  if (mode === 'off') return lambda.Tracing.DISABLED;
  return tracesOwnInvocations(definition, mode) ? lambda.Tracing.ACTIVE : lambda.Tracing.PASS_THROUGH;
}

/**
 * A handler from `lambdas/`, bundled with the project's own esbuild (never Docker) as an ESM bundle
 * for Node.js 22 on arm64, with its own log group and JSON logs.
 */
export class CdpFunction extends Construct {
  readonly fn: NodejsFunction;

  constructor(scope: Construct, id: string, props: CdpFunctionProps) {
    super(scope, id);
    const { definition } = props;
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: props.removalPolicy,
    });
    this.fn = new NodejsFunction(this, 'Function', {
      entry: join(REPO_ROOT, definition.entry),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: definition.memoryMb,
      timeout: Duration.seconds(definition.timeoutSeconds),
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel[props.logLevel],
      systemLogLevelV2: props.platformLogs ? lambda.SystemLogLevel.INFO : lambda.SystemLogLevel.WARN,
      tracing: tracingFor(definition, props.tracing),
      environment: {
        ...(props.sourceMaps ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
        POWERTOOLS_SERVICE_NAME: definition.id,
        ...props.environment,
      },
      projectRoot: REPO_ROOT,
      depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
      bundling: { ...BUNDLING, sourceMap: props.sourceMaps, forceDockerBundling: false },
    });
  }
}
