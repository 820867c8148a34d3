/**
 * `npm run screenshots`: starts a local CDP in a temporary directory, seeds it through the public APIs
 * (a real SDK for events, the admin API for a segment, a webhook, a source and a regulation), and
 * writes a PNG of each console page to docs/console-<page>.png with a real headless Chromium.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { Analytics } from '@segment/analytics-node';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { Page } from 'puppeteer-core';
import { startLocalCdp } from '../local/runtime.js';
import { EVENTS_STREAM } from '../resources/streams.js';
import { clickText, launchBrowser, signIn, waitForText } from '../test/support/browser.js';
import { buildConsole } from './build.js';

const DOCS = resolve(import.meta.dirname, '..', 'docs');

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  await buildConsole(() => undefined);
  const dataDir = mkdtempSync(join(tmpdir(), 'cdp-screenshots-'));
  const cdp = await startLocalCdp({ dataDir, port: 0, persist: false });
  const receiver = createServer((_req, res) => res.writeHead(200).end('ok'));
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const address = receiver.address();
  const hookUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;
  const browser = await launchBrowser();
  try {
    const admin = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${cdp.apiUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${cdp.adminKey}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return (await res.json()) as Record<string, string>;
    };

    const analytics = new Analytics({ writeKey: cdp.writeKey, host: cdp.apiUrl, flushInterval: 20 });
    const people = [
      ['ada', 'Ada Lovelace', 'pro', 'London'],
      ['grace', 'Grace Hopper', 'pro', 'New York'],
      ['alan', 'Alan Turing', 'free', 'Manchester'],
      ['katherine', 'Katherine Johnson', 'pro', 'Hampton'],
    ] as const;
    for (const [id, name, plan, city] of people) {
      analytics.page({ anonymousId: `anon-${id}`, name: 'Pricing', properties: { path: '/pricing' } });
      analytics.alias({ userId: id, previousId: `anon-${id}` });
      analytics.identify({
        userId: id,
        traits: { email: `${id}@example.com`, name, plan, city },
        context: { consent: { categoryPreferences: { marketing: true, analytics: true } } } as never,
      });
      analytics.track({ userId: id, event: 'Order Completed', properties: { revenue: 40 + id.length * 10 } });
    }
    await analytics.closeAndFlush({ timeout: 15_000 });
    await fetch(`${cdp.apiUrl}/v1/track`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${cdp.writeKey}:`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ userId: 'ada' }),
    });
    // Ada's phone app was anonymous until she signed in on it: two profiles, then a merge (identity graph).
    const phone = new Analytics({ writeKey: cdp.writeKey, host: cdp.apiUrl, flushInterval: 20 });
    phone.track({ anonymousId: 'anon-ada-phone', event: 'App Opened' });
    await phone.closeAndFlush({ timeout: 15_000 });
    await cdp.drain(30_000);
    const signedIn = new Analytics({ writeKey: cdp.writeKey, host: cdp.apiUrl, flushInterval: 20 });
    signedIn.track({ userId: 'ada', anonymousId: 'anon-ada-phone', event: 'Signed In' });
    await signedIn.closeAndFlush({ timeout: 15_000 });
    // A record no collector writes (not JSON): the overview shows the quarantine alarm it raises.
    await new KinesisClient({
      region: 'us-east-1',
      endpoint: cdp.endpoints.kinesis,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestHandler: new NodeHttpHandler(),
    }).send(
      new PutRecordCommand({
        StreamName: EVENTS_STREAM.localName,
        PartitionKey: 'x',
        Data: Buffer.from('{'),
      }),
    );
    await cdp.drain(30_000);
    const segment = await admin('POST', '/v1/segments', {
      name: 'Pro customers who ordered',
      description: 'Pro plan, at least one order',
      condition: { and: [{ trait: 'plan', op: 'eq', value: 'pro' }, { event: 'Order Completed' }] },
    });
    await admin('POST', `/v1/segments/${segment.segmentId}/destinations`, {
      type: 'webhook',
      name: 'CRM webhook',
      settings: { url: hookUrl },
    });
    await admin('POST', '/v1/sources', { name: 'iOS app' });
    await admin('POST', '/v1/regulations', { type: 'suppress', identifiers: ['email:alan@example.com'] });
    await cdp.drain(60_000);

    const page = await browser.newPage();
    const shot = async (name: string, p: Page = page) => {
      await new Promise((r) => setTimeout(r, 500));
      await p.screenshot({ path: join(DOCS, `console-${name}.png`) });
      console.log(`docs/console-${name}.png`);
    };
    await page.goto(cdp.apiUrl, { waitUntil: 'networkidle0' });
    await page.waitForSelector('input[name="username"]');
    await shot('sign-in');
    await signIn(page, cdp.apiUrl, cdp.consoleAdmin.username, cdp.consoleAdmin.password);
    await page.waitForSelector('[data-testid="figure-accepted"]');
    await waitForText(page, 'Updated');
    await shot('overview');

    await page.goto(`${cdp.apiUrl}/profiles?q=ada@example.com`, { waitUntil: 'networkidle0' });
    await waitForText(page, 'Ada Lovelace');
    await shot('profile');
    await clickText(page, '[role="tab"]', 'Identities');
    await page.waitForSelector('[data-testid="identity-graph"]');
    await shot('identity-graph');

    await page.goto(`${cdp.apiUrl}/segments/${segment.segmentId}/edit`, { waitUntil: 'networkidle0' });
    await page.waitForSelector('[data-testid="estimate"]', { timeout: 15_000 });
    await shot('segment-builder');

    await page.goto(`${cdp.apiUrl}/segments/${segment.segmentId}`, { waitUntil: 'networkidle0' });
    await waitForText(page, 'sent');
    await shot('segment');

    await page.goto(`${cdp.apiUrl}/sources`, { waitUntil: 'networkidle0' });
    await page.type('input[placeholder="Web shop"]', 'Web shop');
    await clickText(page, 'button', 'Create source');
    await page.waitForSelector('[data-testid="write-key"]');
    await shot('sources');

    await page.goto(`${cdp.apiUrl}/debugger`, { waitUntil: 'networkidle0' });
    await waitForText(page, 'refused');
    await shot('debugger');

    await page.goto(`${cdp.apiUrl}/regulations`, { waitUntil: 'networkidle0' });
    await waitForText(page, 'completed');
    await shot('regulations');
  } finally {
    await browser.close();
    receiver.close();
    await cdp.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
