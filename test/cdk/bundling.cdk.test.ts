import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { type CdpSettings, DEFAULT_SETTINGS, settingsFromContext } from '../../lib/config.js';
import { bundleOptions, CdpFunction, REPO_ROOT } from '../../lib/shared/cdp-function.js';
import {
  COLLECTOR_FUNCTION,
  IMPORT_API_FUNCTION,
  IMPORT_TRIGGER_FUNCTION,
  PROFILE_PROCESSOR_FUNCTION,
  SEGMENT_API_FUNCTION,
} from '../../resources/functions/index.js';
import type { FunctionDefinition } from '../../resources/functions/types.js';

interface FunctionProperties {
  Environment?: { Variables?: Record<string, unknown> };
  LoggingConfig?: { LogFormat?: string; ApplicationLogLevel?: string; SystemLogLevel?: string };
  TracingConfig?: { Mode?: string };
}

/** One function as the stack builds it (bundling skipped: the template is what is checked). */
function functionProperties(
  overrides: Partial<Pick<CdpSettings, 'sourceMaps' | 'logLevel' | 'platformLogs' | 'tracing'>> = {},
  definition: FunctionDefinition = COLLECTOR_FUNCTION,
): FunctionProperties {
  const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Fn');
  new CdpFunction(stack, definition.id, {
    definition,
    environment: {},
    logRetentionDays: 30,
    removalPolicy: RemovalPolicy.DESTROY,
    sourceMaps: overrides.sourceMaps ?? DEFAULT_SETTINGS.sourceMaps,
    logLevel: overrides.logLevel ?? DEFAULT_SETTINGS.logLevel,
    platformLogs: overrides.platformLogs ?? DEFAULT_SETTINGS.platformLogs,
    tracing: overrides.tracing ?? DEFAULT_SETTINGS.tracing,
  });
  const fns = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function')) as Array<{
    Properties: FunctionProperties;
  }>;
  return fns[0]?.Properties ?? {};
}

const functionEnvironment = (sourceMaps: boolean) =>
  functionProperties({ sourceMaps }).Environment?.Variables ?? {};

describe('source maps setting (cdp:sourceMaps)', () => {
  it('is off by default: functions start Node without --enable-source-maps', () => {
    expect(DEFAULT_SETTINGS.sourceMaps).toBe(false);
    expect(settingsFromContext(new App()).sourceMaps).toBeUndefined();
    expect(functionEnvironment(false).NODE_OPTIONS).toBeUndefined();
  });

  it('turns on source maps when set, from cdk.json (boolean) or -c (string)', () => {
    expect(settingsFromContext(new App({ context: { 'cdp:sourceMaps': 'true' } })).sourceMaps).toBe(true);
    expect(settingsFromContext(new App({ context: { 'cdp:sourceMaps': false } })).sourceMaps).toBe(false);
    expect(functionEnvironment(true).NODE_OPTIONS).toBe('--enable-source-maps');
  });

  it('refuses anything but true or false', () => {
    expect(() => settingsFromContext(new App({ context: { 'cdp:sourceMaps': 'yes' } }))).toThrow(
      /cdp:sourceMaps must be true or false/,
    );
  });
});

describe('log levels and tracing (cdp:logLevel, cdp:platformLogs, cdp:tracing)', () => {
  it('by default: JSON logs at INFO, no START/REPORT lines, no traces of its own on per-event functions', () => {
    const collector = functionProperties();
    expect(collector.LoggingConfig).toMatchObject({
      LogFormat: 'JSON',
      ApplicationLogLevel: 'INFO',
      SystemLogLevel: 'WARN',
    });
    expect(collector.TracingConfig?.Mode).toBe('PassThrough');
    // A control-plane function (low volume) keeps active tracing.
    expect(functionProperties({}, SEGMENT_API_FUNCTION).TracingConfig?.Mode).toBe('Active');
  });

  it('follows the settings', () => {
    const verbose = functionProperties({ logLevel: 'DEBUG', platformLogs: true, tracing: 'all' });
    expect(verbose.LoggingConfig).toMatchObject({ ApplicationLogLevel: 'DEBUG', SystemLogLevel: 'INFO' });
    expect(verbose.TracingConfig?.Mode).toBe('Active');
    expect(functionProperties({ tracing: 'off' }, SEGMENT_API_FUNCTION).TracingConfig).toBeUndefined();
  });

  it('reads them from context and names the rule a bad value breaks', () => {
    const ctx = (context: Record<string, unknown>) => settingsFromContext(new App({ context }));
    expect(ctx({ 'cdp:logLevel': 'WARN', 'cdp:platformLogs': 'true', 'cdp:tracing': 'off' })).toMatchObject({
      logLevel: 'WARN',
      platformLogs: true,
      tracing: 'off',
    });
    expect(() => ctx({ 'cdp:logLevel': 'verbose' })).toThrow(
      /cdp:logLevel must be one of DEBUG, INFO, WARN, ERROR/,
    );
    expect(() => ctx({ 'cdp:platformLogs': 'yes' })).toThrow(/cdp:platformLogs must be true or false/);
    expect(() => ctx({ 'cdp:tracing': 'some' })).toThrow(
      /cdp:tracing must be one of all, control-plane, off/,
    );
  });
});

/** Every file of a handler's bundle (entry and chunks) with the source files that went into it. */
async function bundled(definition: FunctionDefinition) {
  const result = await build({
    ...bundleOptions(join(REPO_ROOT, definition.entry), join(REPO_ROOT, 'cdk.out', 'bundling-test'), false),
    write: false,
    metafile: true,
  });
  return Object.entries(result.metafile?.outputs ?? {}).map(([file, o]) => ({
    file,
    bytes: o.bytes,
    imports: o.imports,
    inputs: Object.entries(o.inputs)
      .filter(([, v]) => v.bytesInOutput > 0)
      .map(([input]) => input),
  }));
}

/** The files a cold start loads: the entry file and the chunks it imports statically, transitively. */
function loadedAtStart(outputs: Awaited<ReturnType<typeof bundled>>) {
  const loaded = new Set<string>();
  const visit = (file: string) => {
    if (loaded.has(file)) return;
    loaded.add(file);
    for (const i of outputs.find((o) => o.file === file)?.imports ?? [])
      if (i.kind === 'import-statement' && !i.external) visit(i.path);
  };
  const entry = outputs.find((o) => o.file.endsWith('/index.mjs'));
  if (entry) visit(entry.file);
  return outputs.filter((o) => loaded.has(o.file));
}

describe('collector bundle', () => {
  it('carries none of the identity graph, profile rules, user-agent parsing or destination schemas', async () => {
    const outputs = await bundled(COLLECTOR_FUNCTION);
    const inBundle = outputs.flatMap((o) => o.inputs);
    expect(inBundle.some((f) => f.startsWith('core/events/'))).toBe(true);
    for (const unwanted of ['core/identity/', 'core/profiles/', 'core/process/', 'core/activate/'])
      expect(inBundle.filter((f) => f.includes(unwanted))).toEqual([]);
    // The SDK keeps a browser user-agent parser behind a dynamic import it never takes in Node: at
    // most a chunk that is never loaded.
    expect(
      loadedAtStart(outputs)
        .flatMap((o) => o.inputs)
        .filter((f) => f.includes('node_modules/bowser/')),
    ).toEqual([]);
    // zod's ~40 locale modules (260 KB minified) stay out: every module imports zod as a namespace.
    expect(inBundle.filter((f) => f.includes('zod/v4/locales/') && !f.endsWith('/en.js'))).toEqual([]);
    // Runtime schemas are on zod/mini: classic zod builds all its classes at import.
    expect(inBundle.filter((f) => f.includes('zod/v4/classic/'))).toEqual([]);
  });

  it('loads phone-number metadata only when an event needs it: its own chunk, not imported at start', async () => {
    const outputs = await bundled(COLLECTOR_FUNCTION);
    const atStart = new Set(loadedAtStart(outputs).map((o) => o.file));
    expect(atStart.size).toBeGreaterThan(0);
    const phone = outputs.filter((o) => o.inputs.some((i) => i.includes('node_modules/libphonenumber-js/')));
    expect(phone.length).toBeGreaterThan(0);
    for (const chunk of phone) {
      expect(chunk.file).toContain('/chunks/');
      expect(atStart.has(chunk.file)).toBe(false);
    }
  });
});

/**
 * Source files a handler's bundle holds but does not load at start (each in a chunk a dynamic import
 * loads), with what it loads at start.
 */
async function loadedOnDemand(definition: FunctionDefinition, files: readonly string[]) {
  const outputs = await bundled(definition);
  const atStart = loadedAtStart(outputs).flatMap((o) => o.inputs);
  const inBundle = outputs.flatMap((o) => o.inputs);
  return { atStart, inBundle, onDemand: files.filter((f) => inBundle.includes(f) && !atStart.includes(f)) };
}

describe('profile processor bundle', () => {
  it('loads the replay runner only for replay steps, and never the identity checker', async () => {
    const replayOnly = [
      'lambdas/replay/runner.ts',
      'lambdas/replay/engine.ts',
      'adapters/s3/replay-reader.ts',
    ];
    const { atStart, inBundle, onDemand } = await loadedOnDemand(PROFILE_PROCESSOR_FUNCTION, replayOnly);
    expect(atStart).toContain('core/process/pipeline.ts');
    expect(atStart).toContain('lambdas/replay/step.ts');
    // In the bundle, in chunks of their own: a replay step loads them.
    expect(onDemand).toEqual(replayOnly);
    expect(inBundle).not.toContain('adapters/dynamodb/identity-checker.ts');
  });

  it('loads the delta sink and its SQS client with the first membership change, not at start', async () => {
    const sinkOnly = ['adapters/segments/delta-sink.ts', 'adapters/aws/sqs-client.ts'];
    const { atStart, onDemand } = await loadedOnDemand(PROFILE_PROCESSOR_FUNCTION, sinkOnly);
    expect(atStart).toContain('lambdas/segment/realtime.ts');
    // Its settings are read and checked at start.
    expect(atStart).toContain('adapters/segments/delta-sink-settings.ts');
    expect(onDemand).toEqual(sinkOnly);
    expect(atStart.filter((f) => f.includes('node_modules/@aws-sdk/client-sqs/'))).toEqual([]);
  });

  it('loads its lake writers and their S3 client with the first batch, not at start', async () => {
    const lakeOnly = [
      'lambdas/process/lake-writers.ts',
      'adapters/s3/change-writer.ts',
      'adapters/s3/quarantine-writer.ts',
      'adapters/aws/s3-client.ts',
    ];
    const { atStart, onDemand } = await loadedOnDemand(PROFILE_PROCESSOR_FUNCTION, lakeOnly);
    expect(atStart).toContain('lambdas/process/lake-listener.ts');
    expect(onDemand).toEqual(lakeOnly);
    expect(atStart.filter((f) => f.includes('node_modules/@aws-sdk/client-s3/'))).toEqual([]);
  });
});

describe('import API bundle', () => {
  it('loads the replay routes it also serves only for a replay request', async () => {
    const replayOnly = ['lambdas/replay/api.ts', 'adapters/s3/replay-reader.ts', 'core/replay/request.ts'];
    const { atStart, onDemand } = await loadedOnDemand(IMPORT_API_FUNCTION, replayOnly);
    expect(atStart).toContain('lambdas/imports/api.ts');
    expect(onDemand).toEqual(replayOnly);
  });

  it("loads the mapping's schema only to save a mapping, and never the row parsing", async () => {
    const { atStart, inBundle, onDemand } = await loadedOnDemand(IMPORT_API_FUNCTION, [
      'core/imports/mapping.ts',
    ]);
    expect(onDemand).toEqual(['core/imports/mapping.ts']);
    expect(atStart).toContain('core/imports/counts.ts');
    expect(atStart.some((f) => f.includes('node_modules/zod/'))).toBe(false);
    expect(inBundle).not.toContain('core/imports/run.ts');
  });
});

describe('import trigger bundle', () => {
  it('starts imports without the row parsing, the mapping schema or zod', async () => {
    const { inBundle } = await loadedOnDemand(IMPORT_TRIGGER_FUNCTION, []);
    expect(inBundle).toContain('lambdas/imports/start.ts');
    for (const file of ['core/imports/run.ts', 'core/imports/mapping.ts', 'core/events/schema.ts'])
      expect(inBundle).not.toContain(file);
    expect(inBundle.some((f) => f.includes('node_modules/zod/'))).toBe(false);
  });
});

describe('code assets', () => {
  it('bundles each handler into its own asset, which imports in a fresh Node process', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'cdp-assets-'));
    try {
      const app = new App({ outdir });
      const stack = new Stack(app, 'Fns');
      for (const definition of [COLLECTOR_FUNCTION, SEGMENT_API_FUNCTION])
        new CdpFunction(stack, definition.id, {
          definition,
          environment: {},
          logRetentionDays: 30,
          removalPolicy: RemovalPolicy.DESTROY,
          sourceMaps: DEFAULT_SETTINGS.sourceMaps,
          logLevel: DEFAULT_SETTINGS.logLevel,
          platformLogs: DEFAULT_SETTINGS.platformLogs,
          tracing: DEFAULT_SETTINGS.tracing,
        });
      app.synth();
      const template = Template.fromStack(stack);
      const keys = Object.values(template.findResources('AWS::Lambda::Function')).map(
        (f) => (f as { Properties: { Code: { S3Key: string } } }).Properties.Code.S3Key,
      );
      // The CDK's asset cache is keyed by the bundling settings: one shared key would give every
      // function the first handler's code.
      expect(new Set(keys).size).toBe(2);
      const collector = join(outdir, `asset.${keys[0]!.replace(/\.zip$/, '')}`);
      expect(existsSync(join(collector, 'index.mjs'))).toBe(true);
      expect(readdirSync(join(collector, 'chunks')).length).toBeGreaterThan(0);
      const script = `const m = await import(${JSON.stringify(pathToFileURL(join(collector, 'index.mjs')).href)}); process.stdout.write(typeof m.handler);`;
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        env: {
          PATH: process.env.PATH ?? '',
          AWS_REGION: 'us-east-1',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          CDP_CONTROL_TABLE: 'control',
          CDP_EVENTS_STREAM: 'events',
          CDP_LAKE_BUCKET: 'lake',
          CDP_QUARANTINE_BUCKET: 'quarantine',
        },
        encoding: 'utf8',
      });
      expect(out).toBe('function');
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});
