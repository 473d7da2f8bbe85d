#!/usr/bin/env node
// The README's picture of the browser demo (docs/demo.png): 3 epochs on 12,000 samples (seed 3) in headless
// Chromium, a "7" drawn with the mouse, cropped to the pad and the first charts.
//   node scripts/demo-screenshot.mjs [out.png]      (needs `npm run build` and Debian's chromium)
import { chromium } from 'playwright-core';
/* global window */
import { startServer } from './serve-examples.mjs';

const out = process.argv[2] ?? new URL('../docs/demo.png', import.meta.url).pathname;
const server = await startServer(0);
const browser = await chromium.launch({ executablePath: process.env.WL_CHROMIUM || '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
try {
  const page = await (await browser.newContext({ viewport: { width: 1040, height: 900 } })).newPage();
  page.on('pageerror', (e) => console.error(e));
  await page.goto(`${server.url}?epochs=3&samples=12000&batch=64&val=2000&threads=2&seed=3`);
  await page.waitForFunction(() => window.wlDemo?.state === 'trained', undefined, { timeout: 600_000 });
  await page.locator('#pad').scrollIntoViewIfNeeded();
  const b = await page.locator('#pad').boundingBox();
  const at = (x, y) => [b.x + b.width * x, b.y + b.height * y];
  const path = [[0.25, 0.2], [0.72, 0.2], [0.5, 0.85]]; // a "7"
  await page.mouse.move(...at(...path[0]));
  await page.mouse.down();
  for (const p of path.slice(1)) await page.mouse.move(...at(...p), { steps: 6 });
  await page.mouse.up();
  await page.waitForTimeout(800);
  console.log('prediction:', await page.evaluate(() => window.wlDemo.prediction?.argmax));
  const end = await page.locator('.wl-fit-batch').boundingBox();
  await page.screenshot({ path: out, clip: { x: 0, y: 0, width: 1040, height: Math.ceil(end.y + end.height - 4) }, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await server.close();
}
