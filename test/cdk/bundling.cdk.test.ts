import { join } from 'node:path';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, settingsFromContext } from '../../lib/config.js';
import { BUNDLING, CdpFunction, REPO_ROOT } from '../../lib/shared/cdp-function.js';
import { COLLECTOR_FUNCTION } from '../../resources/functions/index.js';

/** One function as the stack builds it (bundling skipped: the template is what is checked). */
function functionEnvironment(sourceMaps: boolean): Record<string, unknown> {
  const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Fn');
  new CdpFunction(stack, 'Collector', {
    definition: COLLECTOR_FUNCTION,
    environment: {},
    logRetentionDays: 30,
    removalPolicy: RemovalPolicy.DESTROY,
    sourceMaps,
  });
  const fns = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function')) as Array<{
    Properties: { Environment?: { Variables?: Record<string, unknown> } };
  }>;
  return fns[0]?.Properties.Environment?.Variables ?? {};
}

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
  });
});
