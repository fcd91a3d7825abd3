// The terminal's scenarios, on one signed-in page: open a session on the instance, run a
// command, follow the window's size, read the flow view, lose the socket and resume with
// nothing lost or doubled, and end the session.

import path from 'node:path';

import { check, clip, waitForText, WAIT } from './runner.mjs';
import { countLines, hasTextHook, lines, requireHook, sttySize, typeLine, waitForLine } from './terminal.mjs';

/** How many numbered lines the resume scenario prints, paced so that the drops land mid-stream. */
const NUMBERS = 600;

/** The session banner (`role="status"`), whichever of the page's status regions it is. */
function banner(page) {
  return page.getByRole('status').filter({ hasText: /Connected|Reconnecting|Session ended/ });
}

/** Connect → Open on `instance`; returns the new session's id (from `POST /api/sessions`). */
export async function openTerminal(page, instance) {
  await page.getByRole('button', { name: `Connect to ${instance}`, exact: true }).click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor({ timeout: WAIT });
  for (const label of ['Command line', 'Username']) {
    check(await dialog.getByLabel(label, { exact: true }).count(), `the Connect dialog has no input labelled "${label}"`);
  }
  const answered = page.waitForResponse(
    (r) => new URL(r.url()).pathname === '/api/sessions' && r.request().method() === 'POST',
    { timeout: WAIT },
  );
  await dialog.getByRole('button', { name: 'Open', exact: true }).click();
  const response = await answered;
  const body = await response.json().catch(() => ({}));
  check(response.status() === 200 && body.sessionId, `POST /api/sessions answered ${response.status()}: ${clip(JSON.stringify(body))}`);
  await page.locator('#terminal').waitFor({ timeout: WAIT });
  await waitForText(banner(page), /^\s*Connected\s*$/, 30_000);
  return body.sessionId;
}

/** `echo console-$((6*7))` shows `console-42`; the terminal screenshot is taken here. */
export async function typeACommand(page, shots) {
  await typeLine(page, 'echo console-$((6*7))');
  await waitForLine(page, /^console-42$/, 20_000);
  await page.screenshot({ path: path.join(shots, 'terminal.png') });
}

/** The window goes narrow and back: the shell's `stty size` follows each time. */
export async function resizeFollowsTheWindow(page, overflow) {
  const wide = await sttySize(page);
  await page.setViewportSize({ width: 480, height: 720 });
  const narrow = await sttySize(page, (s) => s.cols < wide.cols, 20_000);
  check(narrow.cols < wide.cols, `at 480 px the shell still says ${narrow.cols} columns`);
  await overflow(page, 'the terminal view at 480 px');
  await page.setViewportSize({ width: 1280, height: 720 });
  await sttySize(page, (s) => s.cols === wide.cols && s.rows === wide.rows, 20_000);
}

/**
 * The flow view: the signed call, the kick, the data channel and frames both ways; payloads
 * (`console-42`, typed before) only while "Show payloads" is checked.
 */
export async function flowView(page, shots) {
  const heading = page.getByRole('heading', { name: 'How this session flows', exact: true });
  await heading.waitFor({ timeout: WAIT });
  const log = page.getByRole('log');
  const steps = async () => {
    for (const re of [/StartTerminalSession/, /kick/, /data-channel/, /Input.*seq \d+/, /Output.*seq \d+/, /\d+ B/]) {
      await waitForText(log, re);
    }
  };
  await steps();
  const payload = log.filter({ hasText: /console-42/ });
  check(!(await payload.count()), 'the flow view shows payloads with "Show payloads" unchecked');
  const payloads = page.getByRole('checkbox', { name: 'Show payloads', exact: true });
  await payloads.check();
  await waitForText(log, /console-42/);
  await payloads.uncheck();
  await payload.waitFor({ state: 'detached', timeout: WAIT });
  await steps();
  // The innermost element holding the heading and the log (the flow view) is the screenshot,
  // from its first step (the signed call, the token check, the kick…), not its latest frames.
  const section = page.locator('section, aside, article, div').filter({ has: heading }).filter({ has: log }).last();
  await log.evaluate((el) => {
    el.scrollTop = 0;
  });
  await section.screenshot({ path: path.join(shots, 'flow.png') });
}

/**
 * Numbered lines stream while the socket is dropped twice: every number shows exactly once,
 * and a command typed after the resume runs exactly once.
 */
export async function dropAndResume(page) {
  await requireHook(page, 'dropSocket');
  check(await hasTextHook(page), 'window.axtConsole.terminalText() is missing: the resume check needs the whole buffer, not the visible rows');
  const pace = `[ $((i % 25)) -eq 0 ] && sleep 0.1`;
  await typeLine(page, `for i in $(seq 1 ${NUMBERS}); do echo n$i; ${pace}; done; echo resumed-$((3*7))`);
  for (const at of [100, 300]) {
    await waitForLine(page, new RegExp(`^n${at}$`), 20_000);
    // The page must come back on a socket of its own (each is a new gateway connection).
    const again = page.waitForEvent('websocket', {
      predicate: (ws) => new URL(ws.url()).pathname.startsWith('/ws/session/'),
      timeout: 20_000,
    });
    await page.evaluate(() => window.axtConsole.dropSocket());
    await again.catch(() => {
      throw new Error(`no new /ws/session/ WebSocket within 20 s of dropSocket() at n${at}`);
    });
  }
  await waitForLine(page, /^resumed-21$/, 30_000);
  await waitForText(banner(page), /^\s*Connected\s*$/, 20_000);

  const seen = new Map();
  for (const line of await lines(page)) {
    const m = line.match(/^n(\d+)$/);
    if (m) seen.set(Number(m[1]), (seen.get(Number(m[1])) ?? 0) + 1);
  }
  const missing = [];
  const doubled = [];
  for (let n = 1; n <= NUMBERS; n++) {
    if (!seen.has(n)) missing.push(n);
    else if (seen.get(n) > 1) doubled.push(`${n}×${seen.get(n)}`);
  }
  const odd = (await lines(page)).filter((l) => /^n\d*\D/.test(l) || /^\d+$/.test(l)).slice(0, 5);
  check(
    !missing.length && !doubled.length,
    `after two drops: ${missing.length} numbers missing (first: ${missing.slice(0, 10).join(' ')}), ` +
      `${doubled.length} doubled (${doubled.slice(0, 10).join(' ')}); broken lines: ${clip(odd.join(' | '))}`,
  );

  // Input after the resume: a doubled command would print its answer twice before `fin`.
  await typeLine(page, 'echo after-$((2+3))');
  await waitForLine(page, /^after-5$/, 20_000);
  await typeLine(page, 'echo fin-$((5*5))');
  await waitForLine(page, /^fin-25$/, 20_000);
  const after = await countLines(page, /^after-5$/);
  check(after === 1, `the command typed after the resume ran ${after} times`);
}

/** "End session" ends it: the banner says so, with why. */
export async function endSession(page) {
  // The last thing on the screen, so that the recording ends on it.
  await typeLine(page, 'clear; echo console-$((6*7))');
  await waitForLine(page, /^console-42$/, 20_000);
  await page.getByRole('button', { name: 'End session', exact: true }).click();
  await waitForText(banner(page), /Session ended: .*EndTerminalSession/, 20_000);
}
