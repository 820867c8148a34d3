import { build } from 'esbuild';
const [entry, target] = process.argv.slice(2);
const r = await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node22', minify: true, mainFields: ['module','main'], write: false, outdir: '/tmp/x', metafile: true, logLevel: 'error' });
const inputs = r.metafile.inputs;
const prev = new Map([[entry, null]]); const q = [entry];
while (q.length) { const f = q.shift(); for (const i of inputs[f]?.imports ?? []) if (!prev.has(i.path)) { prev.set(i.path, f); q.push(i.path); } }
const hit = [...prev.keys()].find((k) => k.includes(target));
let chain = []; for (let f = hit; f; f = prev.get(f)) chain.unshift(f);
console.log(chain.join('\n  -> '));
