import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { Analytics } from '@segment/analytics-node';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { putUser } from '../../local/console-users.js';
import { EVENTS_STREAM } from '../../resources/streams.js';
import { clickText, launchBrowser, signIn, waitForText, watchProblems } from '../support/browser.js';
import { startTestCdp } from '../support/local-cdp.js';

// What the functions evaluated in the page use of the DOM (this project's type check has no DOM lib).
declare const document: {
  body: { textContent: string | null };
  querySelector(selector: string): { textContent: string | null } | null;
  querySelectorAll(selector: string): Iterable<{ textContent: string | null }>;
};
declare const location: { pathname: string };
declare const window: unknown;

/**
 * The console in a real Chromium against the local runtime: each page's main job end to end, the
 * roles the server enforces, and accessibility (axe-core: no serious or critical violations).
 */
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const PASSWORD = 'correct-horse-battery';

let cdp: Awaited<ReturnType<typeof startTestCdp>>;
let browser: Browser;
let receiver: Server;
let hookUrl: string;
const hooks: Array<{ type: string; traits: Record<string, unknown> }> = [];

async function axeViolations(page: Page): Promise<string[]> {
  // Runtime.evaluate is not subject to the page's CSP, so axe runs without weakening it.
  await page.evaluate(axeSource);
  const result = (await page.evaluate(() =>
    (window as unknown as { axe: { run(): Promise<unknown> } }).axe.run(),
  )) as { violations: Array<{ id: string; impact: string; nodes: Array<{ target: string[] }> }> };
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/**
 * A page that asks for reduced motion, as some people's systems do: Cloudscape then renders without
 * its fade-ins, so axe judges colour contrast on what the page shows, not on an element half-faded in
 * (which failed under load).
 */
async function calmPage(context: Awaited<ReturnType<Browser['createBrowserContext']>>): Promise<Page> {
  const page = await context.newPage();
  await page.emulateMediaFeatures([{ name: 'prefers-reduced-motion', value: 'reduce' }]);
  return page;
}

async function asUser(username: string): Promise<{ page: Page; problems: string[]; close(): Promise<void> }> {
  const context = await browser.createBrowserContext();
  const page = await calmPage(context);
  const problems = watchProblems(page);
  await signIn(page, cdp.apiUrl, username, PASSWORD);
  return { page, problems, close: () => context.close() };
}

const navLinks = (page: Page) =>
  page.$$eval('nav a', (links) => links.map((a) => a.textContent?.trim() ?? '').filter(Boolean));

async function tokenOf(username: string): Promise<string> {
  const res = await fetch(`${cdp.apiUrl}/auth/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  return ((await res.json()) as { token: string }).token;
}

beforeAll(async () => {
  // The overview test waits for the processor's warning about a quarantined record, as an operator
  // would see it: the runtime's own level (tests otherwise run with handler logs silenced).
  vi.stubEnv('CDP_LOG_LEVEL', 'WARN');
  [cdp, browser] = await Promise.all([startTestCdp(), launchBrowser()]);
  for (const [name, role] of [
    ['ops', 'admin'],
    ['mia', 'marketer'],
    ['pat', 'privacy'],
    ['ana', 'analyst'],
  ] as const)
    putUser(cdp.dataDir, name, [role], PASSWORD);
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hooks.push(...(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: typeof hooks }).events);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const address = receiver.address();
  hookUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;

  // People arrive through a real SDK, as they would from an app.
  const analytics = new Analytics({ writeKey: cdp.writeKey, host: cdp.apiUrl, flushInterval: 20 });
  analytics.identify({
    userId: 'ada',
    traits: { email: 'ada@example.com', name: 'Ada Lovelace', plan: 'pro' },
  });
  analytics.track({ userId: 'ada', event: 'Order Completed', properties: { revenue: 120 } });
  analytics.identify({ userId: 'bob', traits: { email: 'bob@example.com', name: 'Bob', plan: 'free' } });
  analytics.identify({ userId: 'cy', traits: { email: 'cy@example.com', name: 'Cy', plan: 'pro' } });
  await analytics.closeAndFlush({ timeout: 15_000 });
  await cdp.drain(30_000);
}, 120_000);

afterAll(async () => {
  vi.unstubAllEnvs();
  await browser?.close();
  receiver?.close();
  await cdp?.cleanup();
});

describe('console', () => {
  it('serves the sign-in page with security headers, refuses wrong passwords and has no accessibility blockers', async () => {
    const res = await fetch(`${cdp.apiUrl}/`);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const context = await browser.createBrowserContext();
    const page = await calmPage(context);
    const problems = watchProblems(page);
    await page.goto(cdp.apiUrl, { waitUntil: 'networkidle0' });
    await page.waitForSelector('input[name="username"]');
    expect(await axeViolations(page)).toEqual([]);
    await page.type('input[name="username"]', 'admin');
    await page.type('input[name="password"]', 'not-the-password');
    await page.keyboard.press('Enter');
    await waitForText(page, 'Wrong username or password');
    expect(problems.filter((p) => !p.includes('401'))).toEqual([]);
    await context.close();
  });

  it('lets an analyst-support person find anyone by any identifier and see the 360 view', async () => {
    const { page, problems, close } = await asUser('ops');
    expect(await navLinks(page)).toEqual(
      expect.arrayContaining([
        'Overview',
        'Profiles',
        'Segments',
        'Sources & write keys',
        'Event debugger',
        'Privacy regulations',
      ]),
    );
    // Admins land on the data-flow overview; the profiles page is one click away.
    await page.waitForFunction(() => location.pathname === '/overview', { timeout: 10_000 });
    await page.goto(`${cdp.apiUrl}/profiles`, { waitUntil: 'networkidle0' });
    await page.waitForSelector('input[aria-label="Identifier"]');
    await page.type('input[aria-label="Identifier"]', 'ADA@example.com');
    await page.keyboard.press('Enter');
    await waitForText(page, 'Ada Lovelace');
    const profileId = await page.$eval('[data-testid="profile-id"]', (e) => e.textContent);
    expect(profileId).toMatch(/^p_[0-9a-f]{24}$/);
    await clickText(page, '[role="tab"]', 'Computed traits');
    await waitForText(page, 'total_revenue');
    expect(await page.evaluate(() => document.body.textContent!)).toContain('120');
    await clickText(page, '[role="tab"]', 'Timeline');
    await waitForText(page, 'Order Completed');
    await clickText(page, '[role="tab"]', 'Identities');
    await waitForText(page, 'user_id');
    // The same person by user id, and a miss that says what was tried.
    await page.goto(`${cdp.apiUrl}/profiles?q=ada`, { waitUntil: 'networkidle0' });
    await waitForText(page, 'Ada Lovelace');
    expect(await page.$eval('[data-testid="profile-id"]', (e) => e.textContent)).toBe(profileId);
    await page.goto(`${cdp.apiUrl}/profiles?q=nobody@example.com`, { waitUntil: 'networkidle0' });
    await waitForText(page, 'No profile found');
    expect(await axeViolations(page)).toEqual([]);
    expect(problems.filter((p) => !p.includes('404'))).toEqual([]);
    await close();
  });

  it('lets a marketer build a segment, watch its size, attach a webhook and see the delivery', async () => {
    const { page, problems, close } = await asUser('mia');
    expect(await navLinks(page)).not.toContain('Sources & write keys');
    expect(await navLinks(page)).not.toContain('Privacy regulations');
    await page.goto(`${cdp.apiUrl}/segments/new`, { waitUntil: 'networkidle0' });
    await page.type('input[aria-label="Segment name"]', 'Pro plan');
    await page.type('input[aria-label="Trait name root.and.0"]', 'plan');
    await page.type('input[aria-label^="Value for"]', 'pro');
    // The live estimate: exactly Ada and Cy.
    await page.waitForFunction(
      () => document.querySelector('[data-testid="estimate"]')?.textContent === '2',
      {
        timeout: 15_000,
      },
    );
    await waitForText(page, 'cy@example.com');
    expect(await axeViolations(page)).toEqual([]);
    await clickText(page, 'button', 'Save segment');
    await page.waitForFunction(() => /^\/segments\/[^/]+$/.test(location.pathname), { timeout: 10_000 });
    await waitForText(page, 'Destinations');

    await clickText(page, 'button', 'Connect destination');
    await page.waitForSelector('input[aria-label="Url"]');
    await page.type('input[aria-label="Url"]', hookUrl);
    // Everyone in the audience, whatever their consent (the field's default is "marketing").
    await page.click('input[aria-label="Consent category"]', { count: 3 });
    await page.keyboard.press('Backspace');
    await clickText(page, '[role="dialog"] button', 'Connect destination');
    await waitForText(page, 'signing secret (shown once)');

    await cdp.drain(30_000);
    await expect
      .poll(
        () =>
          hooks
            .filter((h) => h.type === 'audience.entered')
            .map((h) => h.traits.email)
            .sort(),
        {
          timeout: 30_000,
        },
      )
      .toEqual(['ada@example.com', 'cy@example.com']);
    await page.reload({ waitUntil: 'networkidle0' });
    await waitForText(page, '2 sent');
    await waitForText(page, 'Run history');
    expect(problems).toEqual([]);
    await close();
  });

  it('lets an admin create a write key whose events show in the debugger within 5 seconds, refused ones with the reason', async () => {
    const { page, problems, close } = await asUser('ops');
    await page.goto(`${cdp.apiUrl}/sources`, { waitUntil: 'networkidle0' });
    await page.type('input[placeholder="Web shop"]', 'Mobile app');
    await clickText(page, 'button', 'Create source');
    await page.waitForSelector('[data-testid="write-key"]');
    const writeKey = await page.$eval('[data-testid="write-key"]', (e) => e.textContent!);
    expect(writeKey).toMatch(/^wk_/);
    // The install snippet names this deployment's host.
    expect(await page.evaluate(() => document.body.textContent!)).toContain(
      `apiHost: '${new URL(cdp.apiUrl).host}/v1'`,
    );
    expect(await axeViolations(page)).toEqual([]);

    await page.goto(`${cdp.apiUrl}/debugger`, { waitUntil: 'networkidle0' });
    const auth = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
    const sentAt = Date.now();
    const post = (body: unknown) =>
      fetch(`${cdp.apiUrl}/v1/track`, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await post({ userId: 'dee', event: 'App Opened' })).status).toBe(200);
    expect((await post({ userId: 'dee' })).status).toBe(400);
    await waitForText(page, 'App Opened', 5_000);
    await waitForText(page, 'event: is required', 5_000);
    expect(Date.now() - sentAt).toBeLessThan(5_000);
    expect(await axeViolations(page)).toEqual([]);
    expect(problems).toEqual([]);
    await close();
  });

  it('lets a privacy officer file a regulation and read the audit log; a marketer can do neither, in the UI or the API', async () => {
    const privacy = await asUser('pat');
    await privacy.page.goto(`${cdp.apiUrl}/regulations`, { waitUntil: 'networkidle0' });
    await privacy.page.waitForSelector('textarea');
    await privacy.page.$eval('input[type="radio"][value="suppress"]', (e) =>
      (e as unknown as { click(): void }).click(),
    );
    await privacy.page.type('textarea', 'email:bob@example.com');
    await clickText(privacy.page, 'button', 'Submit request');
    await waitForText(privacy.page, 'is completed');
    await waitForText(privacy.page, 'pat');
    // The audit log holds hashes, never the identifiers.
    expect(await privacy.page.evaluate(() => document.body.textContent!)).not.toContain('bob@example.com');
    expect(await axeViolations(privacy.page)).toEqual([]);
    expect(await navLinks(privacy.page)).not.toContain('Sources & write keys');
    expect(privacy.problems).toEqual([]);
    await privacy.close();

    const marketer = await asUser('mia');
    await marketer.page.goto(`${cdp.apiUrl}/regulations`, { waitUntil: 'networkidle0' });
    await waitForText(marketer.page, 'needs one of the roles admin, privacy');
    expect(await marketer.page.$('textarea')).toBeNull();
    await marketer.page.goto(`${cdp.apiUrl}/sources`, { waitUntil: 'networkidle0' });
    await waitForText(marketer.page, 'needs one of the roles admin, analyst');
    expect(await marketer.page.$('input[placeholder="Web shop"]')).toBeNull();
    await marketer.close();

    const token = await tokenOf('mia');
    const call = (method: string, path: string, body: unknown) =>
      fetch(`${cdp.apiUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const keyAttempt = await call('POST', '/v1/sources', { name: 'sneaky' });
    expect(keyAttempt.status).toBe(403);
    expect(((await keyAttempt.json()) as { error: { code: string } }).error.code).toBe('forbidden');
    expect(
      (await call('POST', '/v1/regulations', { type: 'delete', identifiers: ['email:ada@example.com'] }))
        .status,
    ).toBe(403);
  });

  it("shows operators the data flow from the alarms' metrics: the numbers move, and a quarantined record raises its alarm", async () => {
    const { page, problems, close } = await asUser('ops');
    await page.waitForFunction(() => location.pathname === '/overview', { timeout: 10_000 });
    await page.waitForSelector('[data-testid="figure-accepted"]');
    await waitForText(page, 'Updated');
    const figure = (id: string) => page.$eval(`[data-testid="${id}"]`, (e) => e.textContent ?? '');
    const acceptedBefore = Number((await figure('figure-accepted')).replace(/,/g, ''));
    expect(await figure('status-quarantine')).toContain('Below the alarm threshold');

    const post = (body: unknown) =>
      fetch(`${cdp.apiUrl}/v1/batch`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${cdp.writeKey}:`).toString('base64')}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify(body),
      });
    const events = ['Viewed', 'Added', 'Paid'].map((event) => ({ type: 'track', userId: 'eve', event }));
    expect((await post({ batch: events })).status).toBe(200);
    expect((await post({ batch: [{ type: 'track', userId: 'eve' }, { type: 'track' }] })).status).toBe(400);
    // A record no collector would write (not JSON) reaches the stream: processing sets it aside, and
    // says so in its log (captured here, and checked, instead of printed).
    const logged: string[] = [];
    // Warnings go to stderr (Powertools writes WARN and ERROR there).
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = chunk.toString();
      if (text.includes('"level"')) logged.push(text);
      else return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
      return true;
    }) as typeof process.stderr.write;
    try {
      const kinesis = new KinesisClient({
        region: 'us-east-1',
        endpoint: cdp.endpoints.kinesis,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        requestHandler: new NodeHttpHandler(),
      });
      await kinesis.send(
        new PutRecordCommand({
          StreamName: EVENTS_STREAM.localName,
          PartitionKey: 'broken',
          Data: Buffer.from('not json'),
        }),
      );
      // Written straight to the stream, the record may be read just after a drain: wait for its warning.
      await expect
        .poll(() => logged.join(''), { timeout: 30_000 })
        .toMatch(/"records quarantined".*"invalid_json"/);
      await cdp.drain(30_000);
    } finally {
      process.stderr.write = write;
    }
    // What an operator does: refresh until the figures show it (the page refreshes itself every 30 s).
    await expect
      .poll(
        async () => {
          await clickText(page, 'button', 'Refresh');
          await new Promise((r) => setTimeout(r, 300));
          return [
            Number((await figure('figure-accepted')).replace(/,/g, '')),
            (await figure('status-quarantine')).includes('In alarm: ProfileProcessorRecordsQuarantined'),
          ];
        },
        { timeout: 20_000, interval: 1_000 },
      )
      .toEqual([acceptedBefore + 3, true]);
    expect(await figure('figure-quarantine')).not.toBe('0');
    // Two refused in that request (4xx answers refuse the whole request).
    expect(await page.evaluate(() => document.body.textContent!)).toMatch(/[1-9][0-9]* refused \(4xx\)/);
    await waitForText(page, 'invalid_json');
    expect(await axeViolations(page)).toEqual([]);
    expect(problems.filter((p) => !p.includes('400'))).toEqual([]);
    await close();

    // Analysts read it too; marketers and privacy officers neither see it nor may call it.
    const analyst = await asUser('ana');
    await analyst.page.waitForFunction(() => location.pathname === '/overview', { timeout: 10_000 });
    await analyst.page.waitForSelector('[data-testid="figure-accepted"]');
    await analyst.close();
    const marketer = await asUser('mia');
    expect(await navLinks(marketer.page)).not.toContain('Overview');
    await marketer.close();
    const res = await fetch(`${cdp.apiUrl}/v1/overview`, {
      headers: { authorization: `Bearer ${await tokenOf('mia')}` },
    });
    expect(res.status).toBe(403);
    const bad = await fetch(`${cdp.apiUrl}/v1/overview?minutes=100000`, {
      headers: { authorization: `Bearer ${await tokenOf('ops')}` },
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain('minutes');
  });

  it('draws the identities of a person found under two profiles as a graph of what linked them', async () => {
    const analytics = new Analytics({ writeKey: cdp.writeKey, host: cdp.apiUrl, flushInterval: 20 });
    // Two profiles first: an anonymous visitor, and a signed-up user...
    analytics.track({ anonymousId: 'anon-zoe', event: 'Page Viewed' });
    analytics.identify({ userId: 'zoe', traits: { name: 'Zoe' } });
    await analytics.closeAndFlush({ timeout: 15_000 });
    await cdp.drain(30_000);
    // ...then one message that carries both: the profiles merge.
    const again = new Analytics({ writeKey: cdp.writeKey, host: cdp.apiUrl, flushInterval: 20 });
    again.track({ userId: 'zoe', anonymousId: 'anon-zoe', event: 'Signed In' });
    await again.closeAndFlush({ timeout: 15_000 });
    await cdp.drain(30_000);

    const { page, problems, close } = await asUser('ana');
    await page.goto(`${cdp.apiUrl}/profiles?q=zoe`, { waitUntil: 'networkidle0' });
    await waitForText(page, 'Zoe');
    await clickText(page, '[role="tab"]', 'Identities');
    await page.waitForSelector('[data-testid="identity-graph"]');
    const nodes = await page.$$eval('[data-node]', (els) =>
      els.map((e) => (e as unknown as { getAttribute(n: string): string }).getAttribute('data-node')),
    );
    expect(nodes.sort()).toEqual(['anonymous_id:anon-zoe', 'user_id:zoe']);
    expect((await page.$$('[data-edge-kind="merge"]')).length).toBe(1);
    const mergeText = await page.$eval('[data-testid="identity-graph-merges"]', (e) => e.textContent ?? '');
    expect(mergeText).toMatch(
      /(anonymous_id:anon-zoe – user_id:zoe|user_id:zoe – anonymous_id:anon-zoe): merge: message \S+ carried/,
    );
    // The table says the same per identifier, for screen readers and copying.
    await waitForText(page, 'First seen on profile');
    expect(await axeViolations(page)).toEqual([]);
    expect(problems).toEqual([]);
    await close();
  });
});
