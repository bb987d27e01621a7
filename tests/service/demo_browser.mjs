// Drives the /demo page in headless Chromium for test_demo_browser.py, as a person would: enters
// the key, picks the portrait, connects, plays a recording through the file input, takes a
// screenshot while the avatar speaks, waits for idle once all of it is sent, and stops. Prints one
// JSON line: what the page measured (its test hook), requests that left the server, page errors,
// and waits that timed out.
//
// node demo_browser.mjs '{"url", "key", "portrait", "audio", "duration", "fps", "screenshot", "timeout"}'
// Needs playwright-core in ./node (scripts/install-browser.sh).

import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {chromium} from './node/node_modules/playwright-core/index.mjs';

const config = JSON.parse(process.argv[2]);
const profile = mkdtempSync(join(tmpdir(), 'talkinghead-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: false, // --headless below: Playwright's own headless flags would also mute the audio
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run'],
  viewport: {width: 1280, height: 800},
});
const outside = [];
const errors = [];
const timeouts = [];
try {
  const page = browser.pages()[0] ?? (await browser.newPage());
  const origin = new URL(config.url).origin;
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (!['data:', 'blob:'].includes(url.protocol) && url.origin !== origin && url.origin.replace(/^ws/, 'http') !== origin) outside.push(request.url());
  });
  page.on('pageerror', (error) => errors.push(String(error)));
  const stats = () => page.evaluate(() => window.talkingheadDemo.stats());
  // Waits until `condition(stats)` holds or the session has closed (the test then says why).
  const until = async (condition, seconds) => {
    for (const deadline = Date.now() + 1000 * seconds; Date.now() < deadline; await page.waitForTimeout(100)) {
      const now = await stats();
      if (condition(now) || now.closeCode !== null) return;
    }
    timeouts.push(`${seconds} s: ${condition}`);
  };

  await page.goto(`${config.url}/demo`);
  await page.fill('#api-key', config.key);
  await page.press('#api-key', 'Tab'); // the key is taken on change: the portraits load with it
  await page.selectOption('#portrait', config.portrait);
  await page.selectOption('#fps', String(config.fps));
  await page.setInputFiles('#audio-file', config.audio);
  await page.click('#connect');
  await until((s) => s.ready !== null, 30);
  await page.waitForTimeout(1000); // the idle avatar first
  if ((await stats()).closeCode === null) {
    await page.click('#play-file');
    await until((s) => s.states.some((c) => c.state === 'speaking'), 15);
    await page.waitForTimeout(1500); // mid-sentence
    await page.screenshot({path: config.screenshot});
    await until((s) => s.sentSeconds >= config.duration - 0.001 && s.state === 'idle', config.timeout);
    await page.waitForTimeout(500);
  }
  if ((await stats()).closeCode === null) {
    await page.click('#stop');
    await until(() => false, 15);
  }
  console.log(JSON.stringify({stats: await stats(), outside, errors, timeouts}));
} finally {
  await browser.close();
  rmSync(profile, {recursive: true, force: true});
}
