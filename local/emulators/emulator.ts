import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitForPort } from './ports.js';

const require = createRequire(import.meta.url);
const GUARD = join(dirname(fileURLToPath(import.meta.url)), 'guard.cjs');
const TRANSACTIONAL_DYNALITE = join(dirname(fileURLToPath(import.meta.url)), 'dynalite-transactions.cjs');

/** A running AWS-compatible server in a child process, listening on 127.0.0.1. */
export interface Emulator {
  readonly name: string;
  readonly endpoint: string;
  readonly port: number;
  stop(): Promise<void>;
}

interface LaunchSpec {
  readonly name: string;
  readonly script: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly env?: Record<string, string>;
  readonly port: number;
}

/**
 * Emulators run as child processes so their CPU work does not compete with the handlers' event loop
 * and a crash in one cannot take the runtime down with it.
 */
async function launch(spec: LaunchSpec, logFile: string): Promise<Emulator> {
  const { openSync } = await import('node:fs');
  const out = openSync(logFile, 'a');
  const child: ChildProcess = spawn(process.execPath, ['-r', GUARD, spec.script, ...spec.args], {
    cwd: spec.cwd,
    env: { ...process.env, ...spec.env, CDP_PARENT_PID: String(process.pid) },
    stdio: ['ignore', out, out],
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  try {
    await waitForPort(spec.port, 30_000, () => !exited);
  } catch (err) {
    child.kill('SIGKILL');
    // The log's end in the message: a test that starts the runtime removes its directory afterwards.
    const tail = readFileSync(logFile, 'utf8').slice(-1_500).trim();
    throw new Error(
      `${spec.name} failed to start: ${(err as Error).message} (see ${logFile})${tail ? `; it printed:\n${tail}` : ''}`,
    );
  }
  return {
    name: spec.name,
    port: spec.port,
    endpoint: `http://127.0.0.1:${spec.port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

function packageDir(name: string): string {
  return dirname(require.resolve(`${name}/package.json`));
}

/**
 * dynalite, persisted with LevelDB under `dataDir` (or in memory when dataDir is undefined), with
 * TransactWriteItems added (dynalite-transactions.cjs): the identity graph commits with it.
 */
export async function startDynalite(dataDir: string | undefined, logDir: string): Promise<Emulator> {
  const port = await freePort();
  const args = [
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--createTableMs',
    '0',
    '--deleteTableMs',
    '0',
    '--updateTableMs',
    '0',
  ];
  if (dataDir) {
    mkdirSync(dataDir, { recursive: true });
    args.push('--path', dataDir);
  }
  return launch(
    { name: 'dynalite', script: TRANSACTIONAL_DYNALITE, args, port },
    join(logDir, 'dynalite.log'),
  );
}

/** The file kinesis-local saves its streams to, in its `PERSIST_PATH`. */
export const KINESIS_DATA_FILE = 'kinesis-data.json';

/**
 * kinesis-local saves its streams by rewriting one JSON file about once a second; a runtime killed
 * while it writes leaves the file torn (or empty), and kinesis-local then refuses to start
 * (`java.util.NoSuchElementException`, nothing else said). A file that does not parse is moved aside
 * (`.torn`, kept for a look): the stream is created again at start, and the runtime's journal writes
 * back every acknowledged record a consumer had not handled (`local/stream-journal.ts`).
 */
export function setAsideTornKinesisData(dir: string): boolean {
  const file = join(dir, KINESIS_DATA_FILE);
  if (!existsSync(file)) return false;
  try {
    JSON.parse(readFileSync(file, 'utf8'));
    return false;
  } catch {
    renameSync(file, `${file}.torn`);
    return true;
  }
}

/** kinesis-local (kinesis-mock); it reads server.json from its package folder, so that is its cwd. */
export async function startKinesis(dataDir: string | undefined, logDir: string): Promise<Emulator> {
  const [port, tlsPort] = [await freePort(), await freePort()];
  const env: Record<string, string> = {
    KINESIS_MOCK_PLAIN_PORT: String(port),
    KINESIS_MOCK_TLS_PORT: String(tlsPort),
    CREATE_STREAM_DURATION: '0ms',
    DELETE_STREAM_DURATION: '0ms',
    LOG_LEVEL: 'WARN',
    SHOULD_PERSIST_DATA: dataDir ? 'true' : 'false',
    PERSIST_INTERVAL: '1s',
  };
  if (dataDir) {
    mkdirSync(dataDir, { recursive: true });
    setAsideTornKinesisData(dataDir);
    env.PERSIST_PATH = dataDir;
  }
  const dir = packageDir('kinesis-local');
  return launch(
    { name: 'kinesis-local', script: join(dir, 'main.js'), args: [], cwd: dir, env, port },
    join(logDir, 'kinesis.log'),
  );
}

/**
 * S3 writes an object whole or not at all; s3rver writes its content, then a metadata file, and a
 * runtime killed in between leaves a truncated metadata file that fails every later read and listing
 * of that key (`InternalError`). Those files are removed before s3rver starts: s3rver then derives the
 * object's metadata from its content, and the writer whose batch was never acknowledged writes it again.
 */
export function removeTornS3rverMetadata(dir: string): number {
  let removed = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('._S3rver_metadata.json')) continue;
    const file = join(entry.parentPath, entry.name);
    try {
      JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      unlinkSync(file);
      removed++;
    }
  }
  return removed;
}

/** s3rver, storing objects as files under `dataDir`. */
export async function startS3rver(dataDir: string, logDir: string): Promise<Emulator> {
  const port = await freePort();
  mkdirSync(dataDir, { recursive: true });
  removeTornS3rverMetadata(dataDir);
  const script = join(packageDir('s3rver'), 'bin', 's3rver.js');
  const args = [
    '--address',
    '127.0.0.1',
    '--port',
    String(port),
    '--directory',
    dataDir,
    '--silent',
    '--no-vhost-buckets',
  ];
  return launch({ name: 's3rver', script, args, port }, join(logDir, 's3rver.log'));
}
