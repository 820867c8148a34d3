import { build } from 'esbuild';
const entry = process.argv[2];
const r = await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node22', minify: true, mainFields: ['module','main'], outfile: '/tmp/cost-cs/out.mjs', metafile: true, logLevel: 'error',
 banner: { js: "import { createRequire as __cdpCreateRequire } from 'module'; const require = __cdpCreateRequire(import.meta.url);" } });
const out = Object.values(r.metafile.outputs)[0];
const byPkg = {};
for (const [f, v] of Object.entries(out.inputs)) {
  const m = f.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/); const k = m ? m[1] : f.split('/').slice(0,2).join('/');
  byPkg[k] = (byPkg[k] ?? 0) + v.bytesInOutput;
}
console.log('total', out.bytes);
for (const [k, v] of Object.entries(byPkg).sort((a,b)=>b[1]-a[1]).slice(0, 25)) console.log(String(v).padStart(8), k);
