// Headless Chromium for the browser tests (Debian's /usr/bin/chromium driven by playwright-core:
// no browser downloads), and pages that only reach loopback and record what the worker's CSP
// refused or what threw on its pages.
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Launches Chromium headless, without background traffic. */
export function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/**
 * A fresh context of `browser` that only talks to loopback, and its page; `problems` collects
 * CSP violations and page errors seen on pages of `origin` (the worker under test).
 * `options` are Playwright's context options (e.g. a viewport).
 */
export async function newLoopbackPage(browser, origin, options = {}) {
  const context = await browser.newContext(options);
  await context.route('**/*', (route) => {
    const { hostname } = new URL(route.request().url());
    return hostname === '127.0.0.1' || hostname === 'localhost' ? route.continue() : route.abort();
  });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const problems = [];
  page.on('console', (msg) => {
    const text = msg.text();
    if (page.url().startsWith(origin) && /Content Security Policy|Refused to/i.test(text)) problems.push(text);
  });
  page.on('pageerror', (err) => {
    if (page.url().startsWith(origin)) problems.push(String(err));
  });
  return { context, page, problems };
}
