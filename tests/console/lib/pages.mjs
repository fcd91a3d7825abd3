// The console's pages around the terminal: signing in (with the mouse and with the keyboard
// alone), the instances table, the response headers, the script budget, the layout at two
// widths, the history, the recordings and the player, denials, and signing out.

import path from 'node:path';

import { check, clip, waitForText, WAIT } from './runner.mjs';

/** The script budget of the first page (xterm.js and the player load only when needed). */
export const SCRIPT_BUDGET = 300 * 1024;

/** Waits for the signed-in page: the Instances heading and the Sign out button. */
async function signedIn(page) {
  await page.getByRole('heading', { name: 'Instances', exact: true }).waitFor({ timeout: 20_000 });
  await page.getByRole('button', { name: 'Sign out', exact: true }).waitFor({ timeout: WAIT });
}

/** Signs in with the form's labelled inputs and its button. */
export async function signIn(page, url, id, secret) {
  await page.goto(url);
  await page.getByLabel('AccessKey ID', { exact: true }).fill(id);
  await page.getByLabel('AccessKey Secret', { exact: true }).fill(secret);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await signedIn(page);
}

/** Presses Tab (at most 25 times) until `target` has the focus. */
async function tabTo(page, target, what) {
  for (let n = 0; n < 25; n++) {
    if (await target.evaluate((el) => el === document.activeElement).catch(() => false)) return;
    await page.keyboard.press('Tab');
  }
  const at = await page.evaluate(() => {
    const el = document.activeElement;
    return el ? `${el.tagName.toLowerCase()} ${el.getAttribute('aria-label') ?? el.textContent?.trim() ?? ''}` : 'nothing';
  });
  throw new Error(`25 presses of Tab never reached ${what}; the focus is on ${clip(at, 100)}`);
}

/** Signs in with the keyboard alone; the Sign in button must show that it has the focus. */
export async function signInByKeyboard(page, url, id, secret) {
  await page.goto(url);
  const field = page.getByLabel('AccessKey ID', { exact: true });
  await field.waitFor({ timeout: WAIT });
  await tabTo(page, field, '"AccessKey ID"');
  await page.keyboard.type(id);
  await tabTo(page, page.getByLabel('AccessKey Secret', { exact: true }), '"AccessKey Secret"');
  await page.keyboard.type(secret);
  const button = page.getByRole('button', { name: 'Sign in', exact: true });
  await tabTo(page, button, 'the "Sign in" button');
  const ring = await button.evaluate((el) => {
    const s = getComputedStyle(el);
    const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
    return outline || s.boxShadow !== 'none';
  });
  check(ring, 'the focused "Sign in" button shows no focus ring (outline or box-shadow)');
  await page.keyboard.press('Enter');
  await signedIn(page);
}

/** The security headers of the contract, on `response`. */
export function checkHeaders(response, what) {
  const h = response.headers();
  const want = {
    'content-security-policy': /default-src 'self'/,
    'x-frame-options': /^DENY$/i,
    'referrer-policy': /^no-referrer$/,
    'x-content-type-options': /^nosniff$/,
  };
  const wrong = Object.entries(want)
    .filter(([name, re]) => !re.test(h[name] ?? ''))
    .map(([name]) => `${name}: ${h[name] ?? '(absent)'}`);
  check(!wrong.length, `${what}: ${wrong.join('; ')}`);
  check(!/'unsafe-eval'|\*/.test(h['content-security-policy']), `${what}: CSP ${h['content-security-policy']}`);
}

/** Records every script `page` loads from now on; `total()` sums their sizes in bytes. */
export function scriptMeter(page) {
  const sizes = [];
  page.on('response', (response) => {
    if (response.request().resourceType() !== 'script') return;
    sizes.push(
      response
        .body()
        .then((body) => ({ url: response.url(), bytes: body.length }))
        .catch(() => ({ url: response.url(), bytes: Number(response.headers()['content-length'] ?? 0) })),
    );
  });
  return {
    async check(what) {
      const all = await Promise.all(sizes);
      const bytes = all.reduce((sum, s) => sum + s.bytes, 0);
      const list = all.map((s) => `${new URL(s.url).pathname} ${s.bytes}`).join(', ');
      check(bytes > 0, `${what}: no script loaded at all`);
      check(bytes < SCRIPT_BUDGET, `${what}: ${bytes} bytes of script, over ${SCRIPT_BUDGET}: ${list}`);
    },
  };
}

/** Fails when the document or its main element scrolls sideways, naming what sticks out. */
export async function noOverflow(page, what) {
  const m = await page.evaluate(() => {
    const doc = document.documentElement;
    const main = document.querySelector('main, [role="main"]');
    const width = window.innerWidth;
    const name = (el) =>
      `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.classList.length ? `.${[...el.classList].join('.')}` : ''}`;
    // What sticks out past the right edge and is not clipped by a scroll box inside it (an
    // absolutely positioned element escapes a scroll box that is not its containing block).
    const clipped = (el) => {
      for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        const style = getComputedStyle(a);
        if (style.overflowX !== 'visible' && a.getBoundingClientRect().right <= width + 1) {
          return getComputedStyle(el).position !== 'absolute' || style.position !== 'static';
        }
      }
      return false;
    };
    const out = [...document.querySelectorAll('body *')]
      .filter((el) => el.getBoundingClientRect().right > width + 1 && !clipped(el))
      .sort((a, b) => b.getBoundingClientRect().right - a.getBoundingClientRect().right);
    return {
      width,
      doc: doc.scrollWidth - doc.clientWidth,
      main: main ? main.scrollWidth - main.clientWidth : 0,
      right: main ? main.getBoundingClientRect().right : 0,
      out: out.slice(0, 5).map((el) => `${name(el)} to ${Math.round(el.getBoundingClientRect().right)} px`),
    };
  });
  check(
    m.doc <= 1 && m.main <= 1 && m.right <= m.width + 1,
    `${what}: horizontal overflow at ${m.width} px (document by ${m.doc} px, main by ${m.main} px, ` +
      `main's right edge at ${m.right}); past the edge: ${m.out.join(', ') || 'nothing found'}`,
  );
}

/** The instance's row says Online (refreshed live: waits for it). */
export async function instanceOnline(page, instance) {
  const row = page.getByRole('row').filter({ hasText: instance });
  // Cells' texts join without spaces (`RunningOnline2.4.3.1`): no \b in these patterns.
  await waitForText(row, /Online/, 30_000);
  for (const name of [`Connect to ${instance}`, `History of ${instance}`]) {
    check(await row.getByRole('button', { name, exact: true }).count(), `the row of ${instance} has no button "${name}"`);
  }
}

/** History of the instance: the session's rows say how it ended and why. */
export async function history(page, url, instance, sessionId, shots) {
  await page.goto(url);
  await page.getByRole('button', { name: `History of ${instance}`, exact: true }).click();
  await page.getByRole('heading', { name: 'Sessions', exact: true }).waitFor({ timeout: WAIT });
  const rows = page.getByRole('row').filter({ hasText: sessionId });
  await waitForText(rows, /Terminated/, 20_000);
  await waitForText(rows, /ClientClosed/, WAIT);
  await page.screenshot({ path: path.join(shots, 'history.png') });
}

/**
 * The session's recordings through the console's routes (asciicast v2 holding `console-42`),
 * then "Play recording": the player shows `console-42`.
 */
export async function playRecording(page, sessionId, shots) {
  const listed = await page.request.get(`/api/recordings?sessionId=${encodeURIComponent(sessionId)}`);
  const body = await listed.json().catch(() => ({}));
  check(listed.ok(), `GET /api/recordings answered ${listed.status()}: ${clip(JSON.stringify(body))}`);
  const recordings = body?.Recordings?.Recording ?? [];
  check(recordings.length, `GET /api/recordings lists no recording of ${sessionId}: ${clip(JSON.stringify(body))}`);
  let holding;
  for (const r of recordings) {
    const cast = await page.request.get(`/api/recordings/${sessionId}/${r.ConnectionId}.cast`);
    const text = await cast.text();
    check(cast.ok(), `GET …/${r.ConnectionId}.cast answered ${cast.status()}: ${clip(text)}`);
    check(/x-asciicast/.test(cast.headers()['content-type'] ?? ''), `.cast served as ${cast.headers()['content-type']}`);
    const header = JSON.parse(text.split('\n')[0] || '{}');
    check(header.version === 2, `the .cast header is not asciicast v2: ${clip(text.split('\n')[0])}`);
    if (text.includes('console-42')) holding ??= r.ConnectionId;
  }
  check(holding, `no recording of ${sessionId} holds "console-42"`);

  const here = page.getByRole('row').filter({ hasText: holding }).getByRole('button', { name: /Play recording/ });
  const button = (await here.count()) ? here.first() : page.getByRole('button', { name: /Play recording/ }).first();
  await button.click();
  const player = page.locator('#player');
  await player.waitFor({ timeout: WAIT });
  // Started by the page, or by the player's own start button.
  const start = player.locator('.ap-overlay-start');
  if (await start.isVisible()) await start.click();
  await waitForText(player, /console-42/, 60_000);
  await page.screenshot({ path: path.join(shots, 'player.png') });
}

/** A wrong secret is refused with the API's error; the right one signs in to a denial. */
export async function denied(page, url, id, secret, shots) {
  await page.goto(url);
  await page.getByLabel('AccessKey ID', { exact: true }).fill(id);
  await page.getByLabel('AccessKey Secret', { exact: true }).fill(`${secret}-wrong`);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await waitForText(page.getByRole('alert'), /SignatureDoesNotMatch|InvalidAccessKey/);

  await page.getByLabel('AccessKey Secret', { exact: true }).fill(secret);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await signedIn(page);
  const alert = page.getByRole('alert');
  await waitForText(alert, /Forbidden\.RAM|NoPermission/, 20_000);
  const text = await alert.filter({ hasText: /Forbidden\.RAM|NoPermission/ }).first().innerText();
  for (const [what, re] of [
    ['the AuthAction', /ecs:\w+/],
    ['the NoPermissionType', /ImplicitDeny/],
  ]) {
    check(re.test(text), `the denial shows no ${what} (${re}): ${clip(text)}`);
  }
  await page.screenshot({ path: path.join(shots, 'denied.png') });
}

/** Sign out: back to the form, and the cookie session is gone. */
export async function signOut(page) {
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.getByLabel('AccessKey ID', { exact: true }).waitFor({ timeout: WAIT });
  const me = await page.request.get('/api/me');
  check(me.status() === 401, `GET /api/me after signing out answered ${me.status()}`);
}
