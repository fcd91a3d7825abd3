// The step runner of the browser tests: named steps that each report PASS or FAIL (or SKIP when
// a step they need failed), a screenshot and the page's recent console lines on a failure, and
// watchers that every page of every context reports to: requests to any origin other than the
// console's, uncaught script errors and Content-Security-Policy refusals.

import fs from 'node:fs';
import path from 'node:path';

/** How long one wait may take unless a step says otherwise. */
export const WAIT = 15_000;

export class Runner {
  /**
   * @param {object} opts
   * @param {string} opts.origin the console's origin (`http://127.0.0.1:PORT`)
   * @param {string} opts.shots where screenshots go
   */
  constructor({ origin, shots }) {
    this.origin = new URL(origin);
    this.shots = shots;
    this.results = [];
    this.failed = new Set();
    /** Requests that left the console's origin: `url (page)`. */
    this.foreign = [];
    /** Uncaught errors and CSP refusals, from any page. */
    this.errors = [];
    /** The last console lines of each page, shown when a step fails. */
    this.consoleLines = [];
    fs.mkdirSync(shots, { recursive: true });
    // A past run's failures are not this run's.
    for (const file of fs.readdirSync(shots)) {
      if (/^failed-.*\.png$/.test(file)) fs.rmSync(path.join(shots, file));
    }
  }

  /** Watches `context`'s pages (all of them, present and future). */
  watch(context, name) {
    context.on('request', (request) => this.#checkOrigin(request.url(), name));
    context.on('page', (page) => this.#watchPage(page, name));
    for (const page of context.pages()) this.#watchPage(page, name);
  }

  #watchPage(page, name) {
    page.on('websocket', (ws) => this.#checkOrigin(ws.url(), name));
    page.on('pageerror', (error) => this.errors.push(`${name}: uncaught ${error.message}`));
    page.on('console', (message) => {
      const text = message.text();
      if (['verbose', 'debug'].includes(message.type())) return;
      this.consoleLines.push(`${name} [${message.type()}] ${text}`);
      if (this.consoleLines.length > 40) this.consoleLines.shift();
      if (/Content Security Policy/i.test(text)) this.errors.push(`${name}: ${text}`);
    });
  }

  #checkOrigin(url, name) {
    let parsed;
    try {
      parsed = new URL(url);
    } catch {
      this.foreign.push(`${url} (${name}, unparsable)`);
      return;
    }
    // Inline and in-page resources never leave the browser.
    if (['data:', 'blob:', 'about:'].includes(parsed.protocol)) return;
    // The console's WebSockets are its own origin under ws:.
    const scheme = parsed.protocol === 'ws:' ? 'http:' : parsed.protocol === 'wss:' ? 'https:' : parsed.protocol;
    if (scheme !== this.origin.protocol || parsed.host !== this.origin.host) {
      this.foreign.push(`${url} (${name})`);
    }
  }

  /**
   * Runs step `name` unless a step in `needs` failed; `page`, when given, is screenshotted on a
   * failure. A step fails by throwing.
   */
  async step(name, { needs = [], page } = {}, body) {
    const missing = needs.filter((n) => this.failed.has(n));
    if (missing.length) {
      this.failed.add(name);
      this.#report('SKIP', name, `needs ${missing.join(', ')}`);
      return;
    }
    const started = Date.now();
    try {
      await body();
      this.#report('PASS', name, `${((Date.now() - started) / 1000).toFixed(1)}s`);
    } catch (error) {
      this.failed.add(name);
      let shot = '';
      if (page && !page.isClosed()) {
        const file = path.join(this.shots, `failed-${slug(name)}.png`);
        shot = await page
          .screenshot({ path: file, fullPage: true, timeout: 5_000 })
          .then(() => `\n    screenshot: ${file}`)
          .catch(() => '');
        shot += `\n    url: ${page.url()}`;
      }
      const why = String(error?.message ?? error).split('\n').slice(0, 12).join('\n    ');
      this.#report('FAIL', name, `\n    ${why}${shot}`);
    }
  }

  #report(verdict, name, detail) {
    this.results.push({ verdict, name });
    console.log(`${verdict} ${name}${detail ? ` (${detail})` : ''}`);
  }

  /** Prints the tally (and recent console lines after a failure); the process's exit code. */
  finish() {
    const count = (v) => this.results.filter((r) => r.verdict === v).length;
    const bad = count('FAIL') + count('SKIP');
    if (bad && this.consoleLines.length) {
      console.log('--- the pages\' last console lines ---');
      for (const line of this.consoleLines) console.log(`  ${line}`);
    }
    console.log(`${count('PASS')} passed, ${count('FAIL')} failed, ${count('SKIP')} skipped`);
    return bad ? 1 : 0;
  }
}

/** A file name for a step's name. */
export function slug(name) {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

/** Throws `message` unless `condition` holds. */
export function check(condition, message) {
  if (!condition) throw new Error(message);
}

/**
 * Waits (bounded) for the text of `locator`'s first element to match `re`; returns the text.
 * The error says what the text was when the wait ended.
 */
export async function waitForText(locator, re, timeout = WAIT) {
  try {
    await locator.filter({ hasText: re }).first().waitFor({ state: 'visible', timeout });
  } catch (error) {
    const seen = await locator
      .first()
      .innerText({ timeout: 1_000 })
      .catch(() => '(no such element)');
    throw new Error(`waited ${timeout} ms for ${re} in ${locator}; it shows: ${clip(seen)}`);
  }
  return locator.filter({ hasText: re }).first().innerText();
}

/** `text` shortened for an error message. */
export function clip(text, max = 600) {
  const flat = String(text).replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}
