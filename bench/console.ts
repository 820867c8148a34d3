/**
 * The console's figures: bundle sizes (first page and all), first load in a real Chromium (cold cache,
 * local runtime), and profile search through the API as the console calls it, on N stored profiles.
 *   npm run bench:console -- [profiles=100000] [searches=300]
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dynamoDbDocumentClient } from '../adapters/aws/clients.js';
import { batchWrite } from '../adapters/dynamodb/batch.js';
import { keys } from '../adapters/dynamodb/profile-keys.js';
import { buildConsole } from '../console/build.js';
import { emptyProfile } from '../core/profiles/state.js';
import { PROFILES_TABLE } from '../resources/tables.js';
import { launchBrowser } from '../test/support/browser.js';
import { percentile, withLocalCdp } from './support.js';

// What the function evaluated in the page uses of the DOM (this project's type check has no DOM lib).
declare const document: { body: { textContent: string | null }; querySelector(selector: string): unknown };

const profiles = Number(process.argv[2] ?? 100_000);
const searches = Number(process.argv[3] ?? 300);

const lines: string[] = [];
await buildConsole((line) => lines.push(line));
console.log(lines.join('\n'));

await withLocalCdp(
  async (cdp) => {
    const client = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: cdp.endpoints.dynamodb,
      credentials: { accessKeyId: 'l', secretAccessKey: 'l' },
    });
    const ddb = dynamoDbDocumentClient(client);
    // A profile and its email identity node, as the stream processor stores them.
    const seedStart = performance.now();
    for (let start = 0; start < profiles; start += 1000) {
      const items = [];
      for (let i = start; i < Math.min(profiles, start + 1000); i++) {
        const p = emptyProfile(`p_${i.toString(16).padStart(24, '0')}`, '2026-01-01T00:00:00Z');
        const email = `person${i}@example.com`;
        p.traits = { email, name: `Person ${i}`, plan: ['free', 'pro'][i % 2] };
        p.identities = [{ type: 'email', value: email }];
        items.push({
          put: {
            ...keys.profile(p.profileId),
            ...p,
            version: 1,
            gsi1pk: keys.profilePk(p.profileId),
            gsi1sk: 'PROFILE',
          },
        });
        items.push({
          put: {
            ...keys.identity({ type: 'email', value: email }),
            profileId: p.profileId,
            type: 'email',
            value: email,
            gsi1pk: keys.profilePk(p.profileId),
            gsi1sk: `ID#email#${email}`,
          },
        });
      }
      await batchWrite(ddb, PROFILES_TABLE.localName, items);
    }
    console.log(
      `seeded ${profiles.toLocaleString('en')} profiles (${(2 * profiles).toLocaleString('en')} items) in ${((performance.now() - seedStart) / 1000).toFixed(0)} s`,
    );

    const { token } = (await (
      await fetch(`${cdp.apiUrl}/auth/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(cdp.consoleAdmin),
      })
    ).json()) as { token: string };
    const get = async (path: string) => {
      const res = await fetch(`${cdp.apiUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
      if (!res.ok) throw new Error(`${path}: ${res.status}`);
      return res.json() as Promise<{ profileId: string }>;
    };
    // What the console does for one search: the profile by identifier, then its timeline, merges, segments.
    const search = async (i: number) => {
      const p = await get(`/v1/profiles/${encodeURIComponent(`email:person${i}@example.com`)}`);
      await Promise.all([
        get(`/v1/profiles/${p.profileId}/events?limit=50`),
        get(`/v1/profiles/${p.profileId}/merges`),
        get(`/v1/profiles/${p.profileId}/segments`),
      ]);
    };
    await search(0); // warm: the handler modules load once, like a warm Lambda
    const latencies: number[] = [];
    for (let n = 0; n < searches; n++) {
      const i = Math.floor(Math.random() * profiles);
      const t = performance.now();
      await search(i);
      latencies.push(performance.now() - t);
    }
    latencies.sort((a, b) => a - b);
    console.log(
      `profile search (lookup by email + timeline, merges, segments), ${searches} random people of ${profiles.toLocaleString('en')}: p50 ${percentile(latencies, 50).toFixed(0)} ms, p95 ${percentile(latencies, 95).toFixed(0)} ms, max ${latencies.at(-1)!.toFixed(0)} ms`,
    );

    const browser = await launchBrowser();
    try {
      const loads: number[] = [];
      for (let n = 0; n < 5; n++) {
        const context = await browser.createBrowserContext();
        const page = await context.newPage();
        const t = performance.now();
        await page.goto(cdp.apiUrl);
        await page.waitForSelector('input[name="username"]');
        loads.push(performance.now() - t);
        await context.close();
      }
      loads.sort((a, b) => a - b);
      console.log(
        `first load, cold cache (navigation until the sign-in form is on screen), 5 runs: median ${percentile(loads, 50).toFixed(0)} ms, max ${loads.at(-1)!.toFixed(0)} ms`,
      );
      const page = await browser.newPage();
      await page.goto(cdp.apiUrl);
      await page.waitForSelector('input[name="username"]');
      await page.type('input[name="username"]', cdp.consoleAdmin.username);
      await page.type('input[name="password"]', cdp.consoleAdmin.password);
      const signedInAt = performance.now();
      await page.keyboard.press('Enter');
      // Admins land on the data-flow overview: its code-split chunk (charts) and its first figures.
      await page.waitForFunction(
        () =>
          /Updated/.test(document.body.textContent ?? '') &&
          !!document.querySelector('[data-testid="figure-accepted"]'),
        { timeout: 30_000 },
      );
      console.log(
        `sign-in to the overview (landing page of admins) with its figures on screen: ${(performance.now() - signedInAt).toFixed(0)} ms`,
      );
      const inBrowser: number[] = [];
      for (let n = 0; n < 20; n++) {
        const i = Math.floor(Math.random() * profiles);
        const t = performance.now();
        await page.goto(`${cdp.apiUrl}/profiles?q=person${i}@example.com`);
        await page.waitForSelector('[data-testid="profile-id"]');
        inBrowser.push(performance.now() - t);
      }
      inBrowser.sort((a, b) => a - b);
      console.log(
        `profile page with a search in the URL, full page load to the 360 view, 20 runs: median ${percentile(inBrowser, 50).toFixed(0)} ms, max ${inBrowser.at(-1)!.toFixed(0)} ms`,
      );
    } finally {
      await browser.close();
    }
  },
  { streamConsumers: false },
);
