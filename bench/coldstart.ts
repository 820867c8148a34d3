/**
 * Cold start: each function's bundle, built as the stack builds it (`bundleOptions` of `CdpFunction`:
 * split ESM, chunks loaded when first needed), imported in a fresh Node process with the environment
 * the synthesized stack gives it, against a bundle of just the bare AWS SDK clients the function
 * uses, built the same way (split too, so the SDK's own lazy parts are out of both).
 *   npm run bench:coldstart -- [runs=5] [Function,Function...]
 * Prints the median import time of `runs` fresh processes, without and with source maps
 * (`cdp:sourceMaps`: the `.map` file and `NODE_OPTIONS=--enable-source-maps`), and the median CPU
 * time of the same imports. The bundle and its baseline are imported in alternation, so a busy
 * machine slows both alike; CPU time moves much less than wall time when other work shares the cores.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { build, type Metafile } from 'esbuild';
import { CdpStack } from '../lib/cdp-stack.js';
import { bundleOptions, REPO_ROOT } from '../lib/shared/cdp-function.js';
import { FUNCTIONS } from '../resources/functions/index.js';
import { fmt } from './support.js';

const runs = Number(process.argv[2] ?? 5);
if (!Number.isInteger(runs) || runs < 1) throw new Error('runs must be a positive integer');
const only = process.argv[3]?.split(',');
if (only) {
  const unknown = only.filter((id) => !FUNCTIONS.some((fn) => fn.id === id));
  if (unknown.length) throw new Error(`unknown functions: ${unknown.join(', ')}`);
}
const work = mkdtempSync(join(tmpdir(), 'cdp-coldstart-'));

/** The stack's environment per function, with CloudFormation references made into plausible values. */
function deployedEnvironments(sourceMaps: boolean): Map<string, Record<string, string>> {
  // cdk.json's feature flags, as `cdk synth` reads them; no bundling (the bench bundles itself).
  const { context } = JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: object };
  const app = new App({
    context: { ...context, 'aws:cdk:bundling-stacks': [], 'cdp:sourceMaps': sourceMaps },
  });
  const template = Template.fromStack(new CdpStack(app, 'ColdStart'));
  const value = (name: string, v: unknown): string => {
    if (typeof v === 'string') return v;
    const join = (v as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
    if (join) return join[1].map((part) => value(name, part)).join(join[0]);
    if (name.endsWith('_URL')) return 'https://sqs.us-east-1.amazonaws.com/123456789012/cdp-placeholder';
    if (name.endsWith('_ARN') || JSON.stringify(v).includes('Arn'))
      return 'arn:aws:states:us-east-1:123456789012:stateMachine:cdp-placeholder';
    return 'cdp-placeholder';
  };
  const out = new Map<string, Record<string, string>>();
  for (const resource of Object.values(template.findResources('AWS::Lambda::Function'))) {
    const vars = (resource as { Properties: { Environment?: { Variables?: Record<string, unknown> } } })
      .Properties.Environment?.Variables;
    const id = vars?.POWERTOOLS_SERVICE_NAME;
    if (typeof id !== 'string') continue;
    out.set(id, Object.fromEntries(Object.entries(vars ?? {}).map(([k, v]) => [k, value(k, v)])));
  }
  return out;
}

async function bundle(entry: string, outDir: string, sourceMaps: boolean) {
  mkdirSync(outDir, { recursive: true });
  const result = await build({
    ...bundleOptions(entry, outDir, sourceMaps),
    metafile: true,
    // The baseline entry lives in a temporary folder: resolve the SDK from the repository.
    nodePaths: [join(REPO_ROOT, 'node_modules')],
  });
  const outputs = Object.entries(result.metafile?.outputs ?? {}).filter(([file]) => !file.endsWith('.map'));
  // Chunks of dynamic imports are entry points too: the handler's own is `index.mjs`.
  const entryOutput = outputs.find(([file]) => file.endsWith('/index.mjs'));
  // Only what made it into an output file (the metafile's top-level inputs also list what was shaken
  // off), in the entry file or in a chunk loaded when first needed.
  const inputs = [
    ...new Set(
      outputs.flatMap(([, o]) =>
        Object.entries(o.inputs)
          .filter(([, v]) => v.bytesInOutput > 0)
          .map(([file]) => file),
      ),
    ),
  ];
  return {
    outfile: join(outDir, 'index.mjs'),
    // Loaded at import: the entry file and the chunks it imports statically.
    bytes: entryOutput ? loadedBytes(entryOutput[0], result.metafile!) : 0,
    totalBytes: outputs.reduce((n, [, o]) => n + o.bytes, 0),
    inputs,
  };
}

/** Bytes of `file` and of every chunk it imports statically, transitively. */
function loadedBytes(file: string, metafile: Metafile): number {
  const seen = new Set<string>();
  const visit = (f: string) => {
    if (seen.has(f)) return;
    seen.add(f);
    for (const i of metafile.outputs[f]?.imports ?? []) if (i.kind === 'import-statement') visit(i.path);
  };
  visit(file);
  return [...seen].reduce((n, f) => n + (metafile.outputs[f]?.bytes ?? 0), 0);
}

interface Import {
  file: string;
  env: Record<string, string>;
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * Median wall and CPU (user + system, all threads) ms of importing each file in `runs` fresh
 * processes, the files taking turns in every round.
 */
function initMs(imports: Import[]): { wall: number; cpu: number }[] {
  const samples = imports.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
  for (let round = 0; round < runs; round++) {
    imports.forEach(({ file, env }, i) => {
      const script = `const c = process.cpuUsage(); const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); const wall = performance.now() - t; const u = process.cpuUsage(c); process.stdout.write(wall + ' ' + (u.user + u.system) / 1000);`;
      const [wall, cpu] = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        env: { PATH: process.env.PATH ?? '', ...env },
        encoding: 'utf8',
      })
        .split(' ')
        .map(Number);
      samples[i]!.wall.push(wall!);
      samples[i]!.cpu.push(cpu!);
    });
  }
  return samples.map((s) => ({ wall: median(s.wall), cpu: median(s.cpu) }));
}

const lambdaEnv = (id: string, memoryMb: number) => ({
  AWS_REGION: 'us-east-1',
  AWS_DEFAULT_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'AKIDCOLDSTART',
  AWS_SECRET_ACCESS_KEY: 'cold-start-only',
  AWS_LAMBDA_FUNCTION_NAME: id,
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb),
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
});

try {
  const plain = deployedEnvironments(false);
  const mapped = deployedEnvironments(true);
  console.log(
    `cold start: median import time of ${runs} fresh Node ${process.version} processes per bundle\n`,
  );
  console.log(
    '| Function | Bundle: loaded at import (all files) | Init | With source maps | SDK clients baseline | Baseline init | Init / baseline | CPU / baseline CPU |',
  );
  console.log('| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |');
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  for (const fn of FUNCTIONS.filter((f) => !only || only.includes(f.id))) {
    const entry = join(REPO_ROOT, fn.entry);
    const dir = join(work, fn.id);
    const own = await bundle(entry, join(dir, 'plain'), false);
    const withMaps = await bundle(entry, join(dir, 'mapped'), true);
    // The bare clients this function's bundle contains, each constructed once, as a handler would.
    const clients = [
      ...new Set(
        own.inputs.map((i) => i.match(/node_modules\/@aws-sdk\/client-([a-z0-9-]+)\//)?.[1]).filter(Boolean),
      ),
    ] as string[];
    const baselineEntry = join(dir, 'baseline.mjs');
    const pascal = (s: string) => s.replace(/(^|-)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());
    const names: Record<string, string> = {
      dynamodb: 'DynamoDB',
      s3: 'S3',
      sqs: 'SQS',
      sfn: 'SFN',
      sesv2: 'SESv2',
      eventbridge: 'EventBridge',
      cloudwatch: 'CloudWatch',
    };
    writeFileSync(
      baselineEntry,
      clients
        .map((c, i) => {
          const cls = `${names[c] ?? pascal(c)}Client`;
          return `import { ${cls} as C${i} } from '@aws-sdk/client-${c}';\nexport const c${i} = new C${i}({});`;
        })
        .join('\n'),
    );
    const baseline = await bundle(baselineEntry, join(dir, 'baseline'), false);

    const env = { ...lambdaEnv(fn.id, fn.memoryMb), ...(plain.get(fn.id) ?? {}) };
    const envMapped = { ...lambdaEnv(fn.id, fn.memoryMb), ...(mapped.get(fn.id) ?? {}) };
    const [ms, msMapped, msBase] = initMs([
      { file: own.outfile, env },
      { file: withMaps.outfile, env: envMapped },
      { file: baseline.outfile, env: lambdaEnv(fn.id, fn.memoryMb) },
    ]) as [{ wall: number; cpu: number }, { wall: number; cpu: number }, { wall: number; cpu: number }];
    ratios.push(ms.wall / msBase.wall);
    cpuRatios.push(ms.cpu / msBase.cpu);
    const kb = (b: number) => `${fmt(b / 1024)} KB`;
    console.log(
      `| ${fn.id} | ${kb(own.bytes)} (${kb(own.totalBytes)}) | ${fmt(ms.wall)} ms | ${fmt(msMapped.wall)} ms | ${clients.join(', ')} (${kb(baseline.bytes)}) | ${fmt(msBase.wall)} ms | ${fmt(ms.wall / msBase.wall, 2)} | ${fmt(ms.cpu / msBase.cpu, 2)} |`,
    );
  }
  console.log(
    `\nworst init / baseline: ${fmt(Math.max(...ratios), 2)} (goal <= 1.2); worst CPU / baseline CPU: ${fmt(Math.max(...cpuRatios), 2)}`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
