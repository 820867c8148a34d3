import chromium from '@sparticuz/chromium';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

// What the functions evaluated in the page use of the DOM (this project's type check has no DOM lib).
declare const document: {
  body: { textContent: string | null };
  querySelector(selector: string): { textContent: string | null } | null;
  querySelectorAll(selector: string): Iterable<{ textContent: string | null }>;
};

/**
 * A real headless Chromium from the npm package `@sparticuz/chromium` (no apt step, no download at
 * run time), driven by puppeteer-core. One browser per test file keeps the suite fast.
 */
// The package's defaults are tuned for Lambda: one process (which cannot open a second browser
// context) and web security off. Tests want a browser that behaves like the one people use.
const NOT_LIKE_A_USER = new Set([
  '--single-process',
  '--disable-web-security',
  '--allow-running-insecure-content',
]);

export async function launchBrowser(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: await chromium.executablePath(),
    args: chromium.args.filter((a) => !NOT_LIKE_A_USER.has(a)),
    headless: true,
    defaultViewport: { width: 1360, height: 900 },
  });
}

/** Collects what a page reports as broken: console errors (CSP violations among them) and page errors. */
export function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));
  return problems;
}

/** Signs in through the console's own sign-in form and waits for the navigation to appear. */
export async function signIn(page: Page, baseUrl: string, username: string, password: string): Promise<void> {
  await page.goto(baseUrl, { waitUntil: 'networkidle0' });
  await page.waitForSelector('input[name="username"]');
  await page.type('input[name="username"]', username);
  await page.type('input[name="password"]', password);
  await page.keyboard.press('Enter');
  await page.waitForSelector('nav');
}

/** Clicks the first element of `selector` whose text contains `text`. */
export async function clickText(page: Page, selector: string, text: string): Promise<void> {
  const handle = await page.waitForFunction(
    (sel, t) => [...document.querySelectorAll(sel)].find((e) => e.textContent?.includes(t)),
    { timeout: 20_000 },
    selector,
    text,
  );
  await (handle as unknown as { click(): Promise<void> }).click();
}

/** Waits until the page's text contains `text`. */
export async function waitForText(page: Page, text: string, timeout = 20_000): Promise<void> {
  await page.waitForFunction((t) => document.body.textContent!.includes(t), { timeout }, text);
}
