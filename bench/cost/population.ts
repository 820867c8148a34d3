import { createHash } from 'node:crypto';

/**
 * The generated population of the cost benchmark: people with two browsers each (anonymous ids), a
 * user id, an email and a phone, who send server events (what a backend's SDK batches) and browser
 * events (what analytics.js sends, one per request, with a browser's context).
 */
export interface Person {
  readonly index: number;
  readonly userId: string;
  readonly anonymousIds: readonly [string, string];
  readonly email: string;
  readonly phone: string;
}

export function people(count: number, prefix = 'p'): Person[] {
  return Array.from({ length: count }, (_, i) => ({
    index: i,
    userId: `${prefix}-user-${i}`,
    anonymousIds: [`${prefix}-anon-${i}-a`, `${prefix}-anon-${i}-b`] as const,
    email: `${prefix}.person${i}@example.com`,
    phone: `+1415555${String(1000 + (i % 9000)).padStart(4, '0')}`,
  }));
}

/** Deterministic pseudo-random numbers, so two runs send the same traffic. */
export function random(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % n;
  };
}

let sequence = 0;
/** 32 hex digits, unique per process and message (what the SDKs' ids carry). */
const hex32 = () => createHash('md5').update(`cost-${process.pid}-${++sequence}`).digest('hex');
/** A UUID, as server SDKs make message ids (36 characters: sizes are priced as they would be). */
const messageId = () => {
  const h = hex32();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
};

/** A message from a backend: user id, product and order properties, a library context. */
export function serverEvent(person: Person, at: Date, rnd: (n: number) => number): Record<string, unknown> {
  const base = {
    messageId: messageId(),
    userId: person.userId,
    timestamp: at.toISOString(),
    context: { library: { name: 'analytics-node', version: '3.1.0' } },
  };
  const kind = rnd(20);
  if (kind === 0)
    return {
      ...base,
      type: 'identify',
      // What a SaaS backend identifies a user with: Segment's reserved traits (name, email, phone,
      // title, address, company, createdAt, ...) plus a plan and a counter of its own. About 500
      // bytes of JSON, as real profiles carry, not a handful of fields.
      traits: {
        email: person.email,
        phone: person.phone,
        name: `Person ${person.index}`,
        firstName: 'Person',
        lastName: `${person.index}`,
        username: `person${person.index}`,
        title: ['Engineer', 'Head of Marketing', 'Founder', 'Analyst'][person.index % 4],
        plan: ['free', 'pro'][rnd(2)],
        logins: 1 + rnd(500),
        createdAt: '2025-03-14T09:26:53.000Z',
        avatar: `https://cdn.example.com/avatars/${person.index}.png`,
        website: `https://person${person.index}.example.com`,
        address: {
          street: `${1 + (person.index % 900)} Market St`,
          city: 'San Francisco',
          state: 'CA',
          postalCode: '94103',
          country: 'USA',
        },
        company: {
          id: `c-${person.index % 37}`,
          name: `Company ${person.index % 37}`,
          industry: 'Technology',
          employee_count: 10 + (person.index % 37) * 13,
          plan: 'enterprise',
        },
      },
    };
  if (kind < 3)
    return {
      ...base,
      type: 'track',
      event: 'Order Completed',
      properties: {
        order_id: `o-${rnd(1e9)}`,
        total: 10 + rnd(200),
        currency: 'USD',
        products: [{ sku: `sku-${rnd(500)}`, quantity: 1 + rnd(3) }],
      },
    };
  return {
    ...base,
    type: 'track',
    event: ['Product Viewed', 'Product Added', 'Checkout Started'][rnd(3)],
    properties: { sku: `sku-${rnd(500)}`, price: 5 + rnd(100), category: ['shoes', 'hats', 'bags'][rnd(3)] },
  };
}

const USER_AGENT =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

/** What analytics.js posts for a page view or a track call: anonymous id, page and browser context. */
export function browserEvent(
  person: Person,
  at: Date,
  rnd: (n: number) => number,
): { path: string; body: Record<string, unknown> } {
  const path = `/products/${rnd(500)}`;
  const page = {
    path,
    referrer: 'https://www.google.com/',
    search: '?utm_source=newsletter&utm_medium=email&utm_campaign=winter',
    title: 'Product page - Example Shop',
    url: `https://shop.example.com${path}?utm_source=newsletter&utm_medium=email&utm_campaign=winter`,
  };
  const loggedIn = rnd(3) > 0;
  const body: Record<string, unknown> = {
    // analytics.js: `ajs-next-` and 32 hex digits.
    messageId: `ajs-next-${hex32()}`,
    anonymousId: person.anonymousIds[rnd(2)],
    ...(loggedIn ? { userId: person.userId } : {}),
    timestamp: at.toISOString(),
    sentAt: at.toISOString(),
    integrations: {},
    context: {
      page,
      userAgent: USER_AGENT,
      userAgentData: { brands: [{ brand: 'Chromium', version: '131' }], mobile: false, platform: 'macOS' },
      locale: 'en-US',
      library: { name: 'analytics.js', version: 'npm:next-1.84.3' },
      campaign: { source: 'newsletter', medium: 'email', name: 'winter' },
    },
    _metadata: { bundled: ['Segment.io'], unbundled: [], bundledIds: [] },
  };
  if (rnd(2) === 0) return { path: '/v1/p', body: { ...body, type: 'page', properties: page } };
  return {
    path: '/v1/t',
    body: {
      ...body,
      type: 'track',
      event: 'Product Viewed',
      properties: { sku: `sku-${rnd(500)}`, price: 5 + rnd(100) },
    },
  };
}
