// The web console (`axt console`) in Debian's headless Chromium, driven by Playwright: each
// scenario of issue 14 item 7 is a named step that prints PASS, FAIL or SKIP; the exit code is
// 1 when any step did not pass. tests/console.rs starts the stack and runs this; by hand:
//
//   AXT_CONSOLE_URL=http://127.0.0.1:8090/ AXT_CONSOLE_INSTANCE=mi-… \
//   AXT_CONSOLE_ADMIN_KEY_ID=… AXT_CONSOLE_ADMIN_KEY_SECRET=… \
//   AXT_CONSOLE_DENIED_KEY_ID=… AXT_CONSOLE_DENIED_KEY_SECRET=… node tests/console/run.mjs
//
// The denied key is a RAM user's with no policy. AXT_CHROMIUM names the browser (default
// /usr/bin/chromium; Playwright never downloads one), AXT_CONSOLE_SCREENSHOTS the directory of
// the screenshots (default target/console-screenshots).

import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import * as pages from './lib/pages.mjs';
import { Runner } from './lib/runner.mjs';
import * as session from './lib/session.mjs';

/** The whole run's bound: a stuck browser cannot hold the test forever. */
const RUN_LIMIT = 240_000;

function env(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') {
    console.error(`run.mjs: ${name} is not set`);
    process.exit(2);
  }
  return value;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const url = env('AXT_CONSOLE_URL');
const instance = env('AXT_CONSOLE_INSTANCE');
const admin = [env('AXT_CONSOLE_ADMIN_KEY_ID'), env('AXT_CONSOLE_ADMIN_KEY_SECRET')];
const deniedKey = [env('AXT_CONSOLE_DENIED_KEY_ID'), env('AXT_CONSOLE_DENIED_KEY_SECRET')];
const shots = path.resolve(env('AXT_CONSOLE_SCREENSHOTS', path.join(here, '..', '..', 'target', 'console-screenshots')));

const watchdog = setTimeout(() => {
  console.log(`FAIL the run did not end within ${RUN_LIMIT / 1000} s`);
  process.exit(1);
}, RUN_LIMIT);
watchdog.unref();

const runner = new Runner({ origin: url, shots });
const browser = await chromium.launch({
  executablePath: env('AXT_CHROMIUM', '/usr/bin/chromium'),
  // Chromium's sandbox refuses to start as root (CI runs as root).
  args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
});

/** A fresh browser context (its own cookies) at 1280×720, watched by the runner. */
async function context(name) {
  const ctx = await browser.newContext({ baseURL: url, viewport: { width: 1280, height: 720 } });
  ctx.setDefaultTimeout(15_000);
  runner.watch(ctx, name);
  return ctx;
}

try {
  // Keyboard only, from a fresh browser: the first page, its headers and its script budget.
  const first = await (await context('keyboard')).newPage();
  const firstScripts = pages.scriptMeter(first);
  await runner.step('the first page answers with the security headers', { page: first }, async () => {
    pages.checkHeaders(await first.goto(url, { waitUntil: 'networkidle' }), 'GET /');
  });
  await runner.step('the first page loads under 300 KB of script', { page: first }, async () => {
    await first.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
    await firstScripts.check('the sign-in page');
  });
  await runner.step('keyboard only: Tab reaches every field and "Sign in", Enter signs in', { page: first }, () =>
    pages.signInByKeyboard(first, url, ...admin),
  );
  const keyboard = 'keyboard only: Tab reaches every field and "Sign in", Enter signs in';
  await runner.step('no horizontal overflow at 1280×720 and at 480 px wide', { needs: [keyboard], page: first }, async () => {
    await pages.noOverflow(first, 'the instances at 1280×720');
    await first.setViewportSize({ width: 480, height: 800 });
    await pages.noOverflow(first, 'the instances at 480 px');
    await first.getByRole('button', { name: 'Sign out', exact: true }).click();
    await first.getByLabel('AccessKey ID', { exact: true }).waitFor();
    await pages.noOverflow(first, 'the sign-in form at 480 px');
  });

  // The session's whole story on one page.
  const page = await (await context('admin')).newPage();
  const scripts = pages.scriptMeter(page);
  let sessionId;
  await runner.step('sign in', { page }, () => pages.signIn(page, url, ...admin));
  await runner.step('the instance is Online', { needs: ['sign in'], page }, () => pages.instanceOnline(page, instance));
  await runner.step('the signed-in page loads under 300 KB of script before Connect', { needs: ['sign in'], page }, () =>
    scripts.check('the instances page'),
  );
  await runner.step('open a terminal', { needs: ['the instance is Online'], page }, async () => {
    sessionId = await session.openTerminal(page, instance);
  });
  const open = ['open a terminal'];
  await runner.step('type a command and see its output', { needs: open, page }, () => session.typeACommand(page, shots));
  await runner.step('the flow view lists the kick and the frames', { needs: open, page }, () => session.flowView(page, shots));
  await runner.step("resizing the window changes the shell's stty size", { needs: open, page }, () =>
    session.resizeFollowsTheWindow(page, pages.noOverflow),
  );
  await runner.step('drop the socket twice: the session resumes, nothing lost or doubled', { needs: open, page }, () =>
    session.dropAndResume(page),
  );
  await runner.step('"End session" ends it and says why', { needs: open, page }, () => session.endSession(page));
  const ended = ['"End session" ends it and says why'];
  await runner.step('the history shows the session and how it ended', { needs: ended, page }, () =>
    pages.history(page, url, instance, sessionId, shots),
  );
  await runner.step('its recording plays', { needs: ended, page }, () => pages.playRecording(page, sessionId, shots));
  await runner.step('sign out', { needs: ['sign in'], page }, () => pages.signOut(page));

  // A principal without ECS permissions.
  const denied = await (await context('denied')).newPage();
  await runner.step('a denied principal sees the denial explained', { page: denied }, () =>
    pages.denied(denied, url, ...deniedKey, shots),
  );

  await runner.step('no request left the console origin', {}, async () => {
    if (runner.foreign.length) throw new Error(runner.foreign.slice(0, 10).join('\n'));
  });
  await runner.step('no script error and no CSP refusal', {}, async () => {
    if (runner.errors.length) throw new Error(runner.errors.slice(0, 10).join('\n'));
  });
} catch (error) {
  // Outside any step: the browser itself failed.
  console.log(`FAIL the run stopped: ${error?.stack ?? error}`);
  runner.failed.add('run');
  runner.results.push({ verdict: 'FAIL', name: 'run' });
} finally {
  await browser.close().catch(() => {});
}
process.exit(runner.finish());
