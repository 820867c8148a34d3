import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AssetHashType, DockerImage, Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { type BuildOptions, buildSync } from 'esbuild';
import type { FunctionDefinition } from '../../resources/functions/types.js';
import { type LambdaLogLevel, type TracingMode, tracesOwnInvocations } from '../config.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * How every handler is bundled: minified ESM for Node.js 22, with code splitting. What a handler only
 * reaches through a dynamic `import()` (libphonenumber-js's metadata, the SDK's SSO and STS
 * credential providers, a file format only some imports use) goes to its own chunk file, loaded the
 * first time it is needed. In one file, V8 would still scan all of it at every cold start, even
 * wrapped in a lazy init function: about 15 ms of the collector's 87 ms import on a 2-core machine.
 * `bench/coldstart.ts` builds with `bundleOptions` too, its baselines included.
 */
export const BUNDLING = {
  format: 'esm',
  platform: 'node',
  target: 'node22',
  minify: true,
  splitting: true,
  // What the CDK's own esbuild call passes for ESM output: the SDK's ES module builds shake better.
  mainFields: ['module', 'main'],
  entryNames: 'index',
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  // Bundle the SDK too: the version we test against is the version that runs.
  external: [] as string[],
  // ESM bundles of CommonJS dependencies need a real `require` (esbuild puts this on every chunk).
  banner: {
    js: "import { createRequire as __cdpCreateRequire } from 'module'; const require = __cdpCreateRequire(import.meta.url);",
  },
} satisfies BuildOptions;

/** The esbuild options for one handler: `entry` to `outdir/index.mjs` and `outdir/chunks/`. */
export function bundleOptions(entry: string, outdir: string, sourceMaps: boolean): BuildOptions {
  return {
    ...BUNDLING,
    entryPoints: [entry],
    bundle: true,
    outdir,
    sourcemap: sourceMaps,
    absWorkingDir: REPO_ROOT,
    logLevel: 'error',
  };
}

/**
 * The handler's code asset, bundled at synth by the project's esbuild (never Docker: the image is
 * only there because the CDK asks for one). Hashed by its output, as `NodejsFunction` does.
 */
function handlerCode(entry: string, sourceMaps: boolean): lambda.Code {
  return lambda.Code.fromAsset(REPO_ROOT, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:22-slim'),
      // Never run; it names the entry and the options so the CDK's asset cache, keyed by these
      // settings (not by what `tryBundle` does), keeps one bundle per handler.
      command: ['esbuild', entry, `--sourcemap=${String(sourceMaps)}`],
      local: {
        tryBundle(outputDir) {
          buildSync(bundleOptions(join(REPO_ROOT, entry), outputDir, sourceMaps));
          return true;
        },
      },
    },
  });
}

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
 * A handler from `lambdas/`, bundled with the project's own esbuild (never Docker) as split ESM for
 * Node.js 22 on arm64, with its own log group and JSON logs.
 */
export class CdpFunction extends Construct {
  readonly fn: lambda.Function;

  constructor(scope: Construct, id: string, props: CdpFunctionProps) {
    super(scope, id);
    const { definition } = props;
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: props.removalPolicy,
    });
    this.fn = new lambda.Function(this, 'Function', {
      code: handlerCode(definition.entry, props.sourceMaps),
      handler: 'index.handler',
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
    });
  }
}
