/**
 * `npm run bench:limits -- [messages]`: what the edge's storage-limit check costs per message
 * (`messageStorageIssues`, run by the collector on every message), next to the JSON.parse and
 * JSON.stringify every message already costs, for a typical analytics.js track event, an identify with
 * 40 traits, and a 32 KB message. Prints microseconds per message; asserts nothing.
 */
import { messageStorageIssues } from '../core/events/storage-limits.js';

const count = Number(process.argv[2] ?? 50_000);
const receivedAt = new Date();
const timestamp = new Date(receivedAt.getTime() - 2_000).toISOString();

const track = {
  type: 'track',
  event: 'Order Completed',
  userId: 'user-12345',
  anonymousId: '6f1c7a52-2d4b-4a0e-9d11-0c4b5d7e9a10',
  messageId: 'ajs-next-1700000000000-abcdef',
  timestamp,
  sentAt: timestamp,
  properties: {
    orderId: 'o-1',
    revenue: 129.9,
    currency: 'EUR',
    products: [{ sku: 'a', price: 64.95, qty: 2 }],
  },
  context: {
    library: { name: 'analytics.js', version: 'next-1.70.0' },
    page: { path: '/checkout', url: 'https://shop.example.com/checkout?utm_source=news', title: 'Checkout' },
    userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 Chrome/120 Safari/537.36',
    locale: 'en-US',
  },
};
const identify = {
  type: 'identify',
  userId: 'user-12345',
  timestamp,
  traits: Object.fromEntries(
    Array.from({ length: 40 }, (_, i) => [`trait_${i}`, i % 2 ? `value ${i}` : i * 1.5]),
  ),
};
const big = { ...track, properties: { ...track.properties, notes: 'x'.repeat(31_000) } };

function measure(name: string, message: Record<string, unknown>): void {
  const text = JSON.stringify(message);
  const time = (fn: () => unknown) => {
    for (let i = 0; i < 2_000; i++) fn(); // warm-up
    const start = process.hrtime.bigint();
    for (let i = 0; i < count; i++) fn();
    return Number(process.hrtime.bigint() - start) / 1_000 / count;
  };
  const check = time(() => messageStorageIssues(message, receivedAt));
  const parse = time(() => JSON.parse(text));
  const stringify = time(() => JSON.stringify(message));
  console.log(
    `${name.padEnd(22)} ${String(text.length).padStart(6)} B   check ${check.toFixed(2).padStart(6)} us   JSON.parse ${parse.toFixed(2).padStart(6)} us   JSON.stringify ${stringify.toFixed(2).padStart(6)} us`,
  );
}

if (messageStorageIssues(track, receivedAt).length) throw new Error('the sample track message should pass');
console.log(`storage-limit check, ${count} messages each (Node ${process.version})`);
measure('track (analytics.js)', track);
measure('identify, 40 traits', identify);
measure('track, 32 KB', big);
