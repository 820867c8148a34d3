/**
 * Builds the console (React + Cloudscape) with esbuild into console/dist: code-split ES modules, hashed
 * names, and an index.html that loads only the first page's files (each lazy page links its own CSS).
 * Prints the gzipped sizes and the first page's JS total, which must stay under 400 KB (the build fails
 * above it).
 *   npm run build:console            (runs before npm start and npm test)
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));
const OUT = resolve(HERE, 'dist');
export const FIRST_PAGE_BUDGET_KB = 400;

export async function buildConsole(
  log: (line: string) => void = console.log,
): Promise<{ firstPageGzipKb: number }> {
  const started = Date.now();
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const result = await build({
    entryPoints: [join(HERE, 'src/main.tsx')],
    outdir: join(OUT, 'assets'),
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome120', 'firefox120', 'safari16'],
    minify: true,
    sourcemap: false,
    metafile: true,
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    assetNames: '[name]-[hash]',
    loader: { '.woff': 'file', '.woff2': 'file', '.svg': 'dataurl', '.png': 'file' },
    define: { 'process.env.NODE_ENV': '"production"' },
    jsx: 'automatic',
    legalComments: 'none',
    logLevel: 'warning',
  });
  const meta = result.metafile as Metafile;
  const outputs = Object.entries(meta.outputs);
  const entry = outputs.find(([, o]) => o.entryPoint?.endsWith('src/main.tsx'))!;
  // Each lazy page has its own CSS bundle, which the page loader links before the page renders.
  const css = entry[1].cssBundle ? [entry[1].cssBundle] : [];
  const pageCss: Record<string, string> = {};
  for (const [, o] of outputs) {
    const page = /src\/pages\/(\w+)\.tsx$/.exec(o.entryPoint ?? '')?.[1];
    if (page && o.cssBundle) pageCss[page] = o.cssBundle;
  }
  const rel = (file: string) => `/${relative(OUT, resolve(file)).split('\\').join('/')}`;

  // The first page is the entry and everything it imports statically, never the lazy pages.
  const firstPage = new Set<string>();
  const visit = (file: string) => {
    if (firstPage.has(file)) return;
    firstPage.add(file);
    for (const imp of meta.outputs[file]?.imports ?? []) if (imp.kind === 'import-statement') visit(imp.path);
  };
  visit(entry[0]);
  for (const file of css) firstPage.add(file);

  const gz = (file: string) => gzipSync(readFileSync(file)).length / 1024;
  const preload = [...firstPage].filter((f) => f.endsWith('.js') && f !== entry[0]);
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>CDP console</title>
${css.map((f) => `<link rel="stylesheet" href="${rel(f)}">`).join('\n')}
${preload.map((f) => `<link rel="modulepreload" href="${rel(f)}">`).join('\n')}
<script type="application/json" id="page-css">${JSON.stringify(Object.fromEntries(Object.entries(pageCss).map(([k, v]) => [k, rel(v)])))}</script>
<script type="module" src="${rel(entry[0])}"></script>
</head>
<body><div id="root"></div></body>
</html>
`;
  writeFileSync(join(OUT, 'index.html'), html);

  const rows = outputs
    .filter(([file]) => /\.js$/.test(file) || file === css[0])
    .map(([file, o]) => ({ file: rel(file), kb: o.bytes / 1024, gzKb: gz(file), first: firstPage.has(file) }))
    .sort((a, b) => b.gzKb - a.gzKb);
  const firstPageGzipKb = rows
    .filter((r) => r.first && r.file.endsWith('.js'))
    .reduce((s, r) => s + r.gzKb, 0);
  const firstPageCssGzipKb = rows
    .filter((r) => r.first && r.file.endsWith('.css'))
    .reduce((s, r) => s + r.gzKb, 0);
  const totalGzipKb = rows.filter((r) => r.file.endsWith('.js')).reduce((s, r) => s + r.gzKb, 0);
  log(`console built in ${((Date.now() - started) / 1000).toFixed(1)} s: ${rows.length} files`);
  for (const r of rows.slice(0, 8))
    log(
      `  ${r.first ? '*' : ' '} ${r.file.padEnd(40)} ${r.kb.toFixed(0).padStart(6)} KB  ${r.gzKb.toFixed(0).padStart(5)} KB gzip`,
    );
  log(
    `  first page (*): JS ${firstPageGzipKb.toFixed(0)} KB gzip (budget ${FIRST_PAGE_BUDGET_KB} KB), CSS ${firstPageCssGzipKb.toFixed(0)} KB gzip (Cloudscape's fonts are inlined in it); all JS: ${totalGzipKb.toFixed(0)} KB gzip`,
  );
  const version = createHash('sha256').update(html).digest('hex').slice(0, 12);
  writeFileSync(
    join(OUT, 'build.json'),
    `${JSON.stringify({ version, firstPageGzipKb, firstPageCssGzipKb, totalGzipKb }, null, 2)}\n`,
  );
  if (firstPageGzipKb > FIRST_PAGE_BUDGET_KB)
    throw new Error(
      `The console's first page is ${firstPageGzipKb.toFixed(0)} KB gzipped, over ${FIRST_PAGE_BUDGET_KB} KB`,
    );
  return { firstPageGzipKb };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildConsole().catch((err) => {
    console.error((err as Error).message);
    process.exit(1);
  });
}
