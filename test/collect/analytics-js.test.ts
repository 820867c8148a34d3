// @vitest-environment jsdom
// @vitest-environment-options {"url":"http://shop.example.test/pricing?utm_source=newsletter&utm_campaign=spring"}
/**
 * The real analytics.js (`@segment/analytics-next`, the npm build) on a page at
 * http://shop.example.test, configured only with the CDP's host, sending to the local runtime over
 * HTTP. jsdom provides everything analytics.js touches (window, document and its cookies,
 * localStorage, location, navigator); nothing is stubbed. jsdom has no fetch, so analytics.js uses
 * Node's, which does no CORS: `browserFetch` adds the checks a browser makes, so a request a browser
 * would block fails here too. The CDP runs in a child process, as a server would (`startCdpProcess`).
 */
import { AnalyticsBrowser, type Context } from '@segment/analytics-next';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type BrowserRequest, browserFetch } from '../support/browser-fetch.js';
import { type CdpProcess, startCdpProcess } from '../support/cdp-process.js';
import { basicAuth } from '../support/local-cdp.js';

const PAGE_ORIGIN = 'http://shop.example.test';
// jsdom's window, typed here because the project compiles without the DOM library.
const page = globalThis as unknown as {
  navigator: { userAgent: string; language: string };
  document: { querySelectorAll(selector: string): { length: number } };
};
const nodeFetch = globalThis.fetch;
const requests: BrowserRequest[] = [];
let cdp: CdpProcess;

beforeAll(async () => {
  // As a production API would be configured: only the shop's pages may call it.
  cdp = await startCdpProcess({ CDP_CORS_ORIGINS: JSON.stringify([PAGE_ORIGIN]) });
  globalThis.fetch = browserFetch(PAGE_ORIGIN, nodeFetch, requests);
}, 60_000);
beforeEach(() => {
  requests.length = 0;
});
afterAll(async () => {
  globalThis.fetch = nodeFetch;
  await cdp?.cleanup();
});

/** What the README tells users to write: the write key, the API host + `/v1`, and no Segment CDN. */
function load(deliveryStrategy?: { strategy: 'batching'; config: { size: number; timeout: number } }) {
  const apiHost = `${new URL(cdp.apiUrl).host}/v1`;
  return AnalyticsBrowser.load({
    writeKey: cdp.writeKey,
    cdnSettings: {
      integrations: {
        'Segment.io': { apiKey: cdp.writeKey, apiHost, protocol: 'http', deliveryStrategy },
      },
      // analytics.js reports its own usage counters to `<apiHost>/m`; the CDP has no use for them.
      metrics: { sampleRate: 0 },
    },
  });
}

const admin = async (path: string) => {
  const res = await nodeFetch(`${cdp.apiUrl}${path}`, {
    headers: { authorization: `Bearer ${cdp.adminKey}` },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe('analytics.js pointed at the CDP', () => {
  it('delivers page, alias, identify, track and group with their ids, page context and payloads intact', async () => {
    const [analytics] = await load();
    const ctx: Record<string, Context> = {};
    // analytics.js stamps the current user id on every event, alias included, so alias comes
    // before identify: it links the anonymous visitor to the new user id.
    ctx.page = await analytics.page('Docs', 'Pricing', { plan: 'pro' });
    ctx.alias = await analytics.alias('ajs-user');
    ctx.identify = await analytics.identify('ajs-user', { email: 'Ada@Example.com', plan: 'pro' });
    ctx.track = await analytics.track('Order Completed', { total: 42.5, items: [{ sku: 'a' }] });
    ctx.group = await analytics.group('acme', { size: 10 });

    // Every request went to the CDP, on analytics.js' one-letter paths, with the write key as
    // HTTP Basic after a preflight the API allowed; nothing went to Segment.
    expect(requests.map((r) => [r.url.replace(cdp.apiUrl, ''), r.status, r.blocked])).toEqual(
      ['p', 'a', 'i', 't', 'g'].map((p) => [`/v1/${p}`, 200, undefined]),
    );
    for (const r of requests) {
      expect(r.headers).toMatchObject({
        'content-type': 'text/plain',
        authorization: basicAuth(cdp.writeKey),
      });
      expect(r.preflightHeaders).toEqual(['authorization']);
    }
    expect(page.document.querySelectorAll('script')).toHaveLength(0);

    const anonymousId = ctx.page!.event.anonymousId!;
    expect(anonymousId).toEqual(expect.any(String));
    const records = (await cdp.readEventsStream()).filter((r) => r.data.anonymousId === anonymousId);
    const byType = Object.fromEntries(records.map((r) => [r.data.type as string, r.data]));
    expect(records.map((r) => r.data.type).sort()).toEqual(['alias', 'group', 'identify', 'page', 'track']);
    for (const [type, c] of Object.entries(ctx)) {
      const event = byType[type]!;
      expect(event.messageId, type).toBe(c.event.messageId);
      expect(event.originalTimestamp, type).toBe((c.event.timestamp as Date).toISOString());
      expect(event.sentAt, type).toEqual(expect.any(String));
      expect(event.sourceId, type).toBe(cdp.sourceId);
      expect(event.writeKey, type).toBeUndefined();
      expect(event.context, type).toMatchObject({
        page: {
          url: `${PAGE_ORIGIN}/pricing?utm_source=newsletter&utm_campaign=spring`,
          path: '/pricing',
          search: '?utm_source=newsletter&utm_campaign=spring',
        },
        userAgent: page.navigator.userAgent,
        locale: page.navigator.language,
        library: { name: 'analytics.js', version: expect.stringContaining('1.84.3') },
        campaign: { source: 'newsletter', name: 'spring' },
      });
    }
    expect(byType.page).toMatchObject({
      userId: null,
      category: 'Docs',
      name: 'Pricing',
      properties: { plan: 'pro', path: '/pricing', url: expect.stringContaining('/pricing') },
    });
    expect(byType.alias).toMatchObject({ userId: 'ajs-user', previousId: anonymousId });
    expect(byType.identify).toMatchObject({
      userId: 'ajs-user',
      traits: { email: 'Ada@Example.com', plan: 'pro' },
    });
    expect(byType.track).toMatchObject({
      userId: 'ajs-user',
      event: 'Order Completed',
      properties: { total: 42.5, items: [{ sku: 'a' }] },
    });
    expect(byType.group).toMatchObject({ userId: 'ajs-user', groupId: 'acme', traits: { size: 10 } });

    // And the pipeline makes one profile of the visitor and the user.
    await cdp.drain();
    const byUser = await admin('/v1/profiles/user_id:ajs-user');
    expect(byUser.status).toBe(200);
    expect(byUser.body.traits).toMatchObject({ email: 'ada@example.com', plan: 'pro' });
    const byAnon = await admin(`/v1/profiles/anonymous_id:${encodeURIComponent(anonymousId)}`);
    expect(byAnon.body.profileId).toBe(byUser.body.profileId);
    analytics.reset();
  }, 60_000);

  it('delivers with the batching strategy to /v1/b, the batch sentAt applying to each event', async () => {
    const [analytics] = await load({ strategy: 'batching', config: { size: 3, timeout: 60_000 } });
    // The third call fills the batch, and its promise settles once the batch is sent.
    const ctx = await Promise.all([
      analytics.page('Home'),
      analytics.track('Batched One', { n: 1 }),
      analytics.track('Batched Two', { n: 2 }),
    ]);
    expect(requests.map((r) => [r.url, r.status, r.blocked])).toEqual([
      [`${cdp.apiUrl}/v1/b`, 200, undefined],
    ]);
    const body = JSON.parse(requests[0]!.body!) as { writeKey: string; sentAt: string; batch: unknown[] };
    expect(body).toMatchObject({ writeKey: cdp.writeKey, sentAt: expect.any(String) });
    expect(body.batch).toHaveLength(3);

    const ids = ctx.map((c) => c.event.messageId);
    const records = (await cdp.readEventsStream()).filter((r) => ids.includes(r.data.messageId as string));
    expect(records.map((r) => r.data.messageId).sort()).toEqual([...ids].sort());
    for (const r of records) {
      expect(r.data).toMatchObject({
        sentAt: body.sentAt,
        anonymousId: ctx[0]!.event.anonymousId,
        context: { page: { path: '/pricing' }, userAgent: page.navigator.userAgent },
      });
      expect(r.data.writeKey).toBeUndefined();
    }
    expect(records.find((r) => r.data.event === 'Batched Two')!.data.properties).toEqual({ n: 2 });
  }, 30_000);

  it("lets a browser retry with analytics.js' X-Retry-Count header, from the allowed origin only", async () => {
    // What analytics.js sends when it retries an event after a 5xx or a network error.
    const retry = (origin: string, log: BrowserRequest[]) => {
      const browser = browserFetch(origin, nodeFetch, log);
      return browser(`${cdp.apiUrl}/v1/t`, {
        method: 'post',
        headers: {
          'Content-Type': 'text/plain',
          Authorization: basicAuth(cdp.writeKey),
          'X-Retry-Count': '1',
        },
        body: JSON.stringify({
          type: 'track',
          event: 'Retried',
          anonymousId: 'retry-anon',
          writeKey: cdp.writeKey,
        }),
      });
    };
    const allowed: BrowserRequest[] = [];
    expect((await retry(PAGE_ORIGIN, allowed)).status).toBe(200);
    expect(allowed[0]!.preflightHeaders).toEqual(['authorization', 'x-retry-count']);

    const preflight = await nodeFetch(`${cdp.apiUrl}/v1/t`, {
      method: 'OPTIONS',
      headers: {
        origin: PAGE_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,x-retry-count',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(PAGE_ORIGIN);
    expect(preflight.headers.get('access-control-allow-headers')!.split(',')).toEqual(
      expect.arrayContaining(['authorization', 'content-type', 'x-retry-count']),
    );

    const refused: BrowserRequest[] = [];
    await expect(retry('http://elsewhere.example', refused)).rejects.toThrow(TypeError);
    expect(refused[0]!.blocked).toBe('preflight does not allow origin http://elsewhere.example');
  });
});
