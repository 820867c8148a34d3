import { join } from 'node:path';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { type CdpSettings, DEFAULT_SETTINGS, settingsFromContext } from '../../lib/config.js';
import { BUNDLING, CdpFunction, REPO_ROOT } from '../../lib/shared/cdp-function.js';
import { COLLECTOR_FUNCTION, SEGMENT_API_FUNCTION } from '../../resources/functions/index.js';
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

describe('collector bundle', () => {
  it('carries none of the identity graph, profile rules, user-agent parsing or destination schemas', async () => {
    const result = await build({
      entryPoints: [join(REPO_ROOT, COLLECTOR_FUNCTION.entry)],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: BUNDLING.target,
      minify: BUNDLING.minify,
      mainFields: ['module', 'main'],
      write: false,
      outdir: join(REPO_ROOT, 'cdk.out', 'bundling-test'),
      metafile: true,
      logLevel: 'error',
    });
    const output = Object.values(result.metafile.outputs).find((o) => o.entryPoint);
    const inBundle = Object.entries(output?.inputs ?? {})
      .filter(([, v]) => v.bytesInOutput > 0)
      .map(([file]) => file);
    expect(inBundle.some((f) => f.startsWith('core/events/'))).toBe(true);
    for (const unwanted of [
      'core/identity/',
      'core/profiles/',
      'core/process/',
      'core/activate/',
      'node_modules/bowser/',
    ])
      expect(inBundle.filter((f) => f.includes(unwanted))).toEqual([]);
    // zod's ~40 locale modules (260 KB minified) stay out: every module imports zod as a namespace.
    expect(inBundle.filter((f) => f.includes('zod/v4/locales/') && !f.endsWith('/en.js'))).toEqual([]);
    // Runtime schemas are on zod/mini: classic zod builds all its classes at import.
    expect(inBundle.filter((f) => f.includes('zod/v4/classic/'))).toEqual([]);
  });
});
