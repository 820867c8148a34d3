import { build } from 'esbuild';
const r = await build({ entryPoints: [process.argv[2]], bundle: true, platform: 'node', format: 'esm', target: 'node22', minify: true, mainFields: ['module','main'], write: false, outdir: '/tmp/x', metafile: true, logLevel: 'error' });
const out = Object.values(r.metafile.outputs)[0];
const rows = Object.entries(out.inputs).filter(([f]) => f.includes(process.argv[3])).sort((a,b)=>b[1].bytesInOutput-a[1].bytesInOutput);
let locales = 0; for (const [f,v] of rows) if (f.includes('/locales/')) locales += v.bytesInOutput;
console.log('locales', locales); for (const [f,v] of rows.slice(0,12)) console.log(v.bytesInOutput, f);
