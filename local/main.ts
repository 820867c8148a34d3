/**
 * `npm start`: runs the whole CDP on this machine, no AWS account needed.
 *   npm start                 start (data persists under .cdp/)
 *   npm start -- --reset      wipe .cdp/ first
 * Environment: CDP_PORT (default 3000), CDP_DATA_DIR (default .cdp), CDP_LOG_LEVEL (default WARN).
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { REPO_ROOT, startLocalCdp } from './runtime.js';

// Local runs happen on developer machines with Node 20; Lambda runs Node 22.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const args = new Set(process.argv.slice(2));
const dataDir = resolve(process.env.CDP_DATA_DIR ?? join(REPO_ROOT, '.cdp'));
const port = Number(process.env.CDP_PORT ?? 3000);
const lockFile = join(dataDir, 'runtime.pid');

/**
 * The pid of a local CDP already running on this data directory. The pid file alone is not proof: a
 * runtime killed outright (SIGKILL, a crash) leaves it behind, and its pid may since belong to another
 * process. It counts only if that process is alive and the API it recorded still answers.
 */
async function runningPid(): Promise<number | undefined> {
  if (!existsSync(lockFile)) return undefined;
  let lock: { pid?: number; apiUrl?: string };
  try {
    const text = readFileSync(lockFile, 'utf8');
    lock = text.trim().startsWith('{') ? JSON.parse(text) : { pid: Number(text) };
  } catch {
    return undefined;
  }
  const pid = Number(lock.pid);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch {
    return undefined;
  }
  if (!lock.apiUrl) return pid;
  try {
    await fetch(lock.apiUrl, { signal: AbortSignal.timeout(1_500) });
    return pid;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const other = await runningPid();
  if (other) {
    console.error(`The local CDP is already running (pid ${other}) with data in ${dataDir}.`);
    console.error(
      'Stop it with Ctrl-C in its terminal (or `kill ' + other + '`), or use another CDP_DATA_DIR.',
    );
    process.exit(1);
  }
  const started = Date.now();
  let cdp: Awaited<ReturnType<typeof startLocalCdp>>;
  try {
    cdp = await startLocalCdp({ dataDir, port, reset: args.has('--reset') });
  } catch (err) {
    const message =
      (err as NodeJS.ErrnoException).code === 'EADDRINUSE'
        ? `Port ${port} is already in use. Set CDP_PORT to another port, e.g. CDP_PORT=3001 npm start.`
        : (err as Error).message;
    console.error(`The local CDP could not start: ${message}`);
    process.exit(1);
  }
  writeFileSync(lockFile, JSON.stringify({ pid: process.pid, apiUrl: cdp.apiUrl }));

  const rel = relative(process.cwd(), cdp.dataDir) || '.';
  console.log(
    [
      '',
      `  Customer Data Platform running locally (started in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
      '',
      `  Console     ${cdp.consoleUrl}   (sign in as ${cdp.consoleAdmin.username} / ${cdp.consoleAdmin.password}; more users: npm run cdp -- users add)`,
      `  API         ${cdp.apiUrl}`,
      `  Write key   ${cdp.writeKey}`,
      `  Admin key   ${cdp.adminKey}   (Authorization: Bearer <key>)`,
      `  Data        ${rel}/  (DynamoDB: dynalite ${cdp.endpoints.dynamodb}, Kinesis: kinesis-local ${cdp.endpoints.kinesis}, S3: s3rver ${cdp.endpoints.s3})`,
      `  Details     ${rel}/local.json`,
      '',
      `  Try: curl -u '${cdp.writeKey}:' -H 'content-type: application/json' \\`,
      `         -d '{"userId":"42","event":"Signed Up"}' ${cdp.apiUrl}/v1/track`,
      '',
      '  Ctrl-C stops every server.',
      '',
    ].join('\n'),
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n  ${signal}: stopping the local CDP...`);
    await cdp.stop();
    rmSync(lockFile, { force: true });
    console.log('  Stopped.');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

void main();
