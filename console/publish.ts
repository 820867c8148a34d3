/**
 * `npm run console:publish -- --bucket <ConsoleBucketName> --client-id <ConsoleClientId>
 *   --sign-in-host <ConsoleSignInHost> --url <ConsoleUrl> --api-url <ApiUrl> [--ingest-url <IngestFunctionUrl>]`
 *   (the stack's outputs; the custom domain for --api-url if there is one; --ingest-url with
 *   `cdp:ingestEndpoint=function-url`, so install snippets send to the function URL): builds the console and
 * uploads it to its private bucket with the sign-in settings in config.json. Hashed assets are cached
 * for a year; index.html and config.json are revalidated on every load, so no invalidation is needed.
 * Uses the normal AWS credential chain.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { buildConsole } from './build.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.png': 'image/png',
};

const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      bucket: { type: 'string' },
      'client-id': { type: 'string' },
      'sign-in-host': { type: 'string' },
      url: { type: 'string' },
      'api-url': { type: 'string' },
      'ingest-url': { type: 'string' },
    },
  });
  const missing = ['bucket', 'client-id', 'sign-in-host', 'url', 'api-url'].filter(
    (k) => !values[k as keyof typeof values],
  );
  if (missing.length)
    throw new Error(`Missing ${missing.map((m) => `--${m}`).join(', ')} (see the stack outputs)`);
  await buildConsole();
  const dist = resolve(import.meta.dirname, 'dist');
  const s3 = new S3Client({});
  const put = (key: string, body: Buffer | string, type: string, cache: string) =>
    s3.send(
      new PutObjectCommand({
        Bucket: values.bucket,
        Key: key,
        Body: body,
        ContentType: type,
        CacheControl: cache,
      }),
    );
  for (const file of files(dist)) {
    const key = relative(dist, file).split('\\').join('/');
    const immutable = key.startsWith('assets/');
    await put(
      key,
      readFileSync(file),
      TYPES[extname(file)] ?? 'application/octet-stream',
      immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    );
  }
  const config = {
    auth: 'cognito',
    domain: values['sign-in-host'],
    clientId: values['client-id'],
    redirectUri: values.url,
    // Install snippets name where events go: the collector's function URL when the stack has one (no
    // per-request API Gateway charge), else the ingest API. CloudFront serves only the admin routes.
    ingestUrl: new URL(values['ingest-url'] ?? values['api-url']!).origin,
  };
  await put('config.json', JSON.stringify(config), 'application/json', 'no-cache');
  console.log(`Published the console to s3://${values.bucket}; open ${values.url}`);
}

main().catch((err) => {
  console.error((err as Error).message);
  process.exit(1);
});
