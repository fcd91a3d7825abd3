// The browser terminal as a test sees it: typing into xterm.js, reading its buffer through the
// page's read hook `window.axtConsole.terminalText()` (the whole buffer, scrollback included,
// one line per row), and bounded waits on what it shows.

import { check, clip, WAIT } from './runner.mjs';

/** Reads the terminal's text in the page: the hook, or (lacking it) xterm's visible rows. */
function readInPage() {
  const hook = window.axtConsole;
  if (hook && typeof hook.terminalText === 'function') return String(hook.terminalText());
  const rows = document.querySelector('#terminal .xterm-rows');
  return rows ? [...rows.children].map((row) => row.textContent).join('\n') : '';
}

/** Whether the page has the read hook (without it, only the visible rows can be read). */
export async function hasTextHook(page) {
  return page.evaluate(() => typeof window.axtConsole?.terminalText === 'function');
}

/** The terminal's lines, each with its trailing blanks (and xterm's no-break spaces) trimmed. */
export async function lines(page) {
  const text = await page.evaluate(readInPage);
  return text.split('\n').map((line) => line.replace(/\u00a0/g, ' ').trimEnd());
}

/** Types `text` and Enter into the terminal, focusing it first. */
export async function typeLine(page, text) {
  await page.locator('#terminal').click();
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

/**
 * Waits until some line of the terminal matches `re` (anchored as given); returns the first
 * match. On a timeout, the error shows the terminal's last lines.
 */
export async function waitForLine(page, re, timeout = WAIT) {
  try {
    await page.waitForFunction(
      ({ source, flags }) => {
        // The same reading as readInPage (a function cannot be passed in, nor built from text
        // under the page's CSP).
        const hook = window.axtConsole;
        const rows = document.querySelector('#terminal .xterm-rows');
        const text =
          hook && typeof hook.terminalText === 'function'
            ? String(hook.terminalText())
            : rows
              ? [...rows.children].map((row) => row.textContent).join('\n')
              : '';
        const re = new RegExp(source, flags);
        return text.split('\n').some((line) => re.test(line.replace(/\u00a0/g, ' ').trimEnd()));
      },
      { source: re.source, flags: re.flags },
      { timeout, polling: 100 },
    );
  } catch (error) {
    const tail = (await lines(page).catch(() => [])).filter(Boolean).slice(-12);
    throw new Error(`waited ${timeout} ms for a terminal line matching ${re}; last lines: ${clip(tail.join(' | '))}`);
  }
  return (await lines(page)).map((line) => line.match(re)).find(Boolean);
}

/** How many lines of the terminal match `re`. */
export async function countLines(page, re) {
  return (await lines(page)).filter((line) => re.test(line)).length;
}

/**
 * The shell's `stty size` as `{rows, cols}`, asked with a marker that only the answer (not the
 * echoed command) carries. Asked until `until(size)` holds or `timeout` passes: a resize
 * reaches the shell beside typed text, not in order with it.
 */
export async function sttySize(page, until = () => true, timeout = WAIT) {
  const deadline = Date.now() + timeout;
  let last;
  for (let n = 1; ; n++) {
    const marker = `sz${n}${Date.now() % 1000}`;
    // `$((…))` keeps the echoed command line from matching the answer's pattern.
    await typeLine(page, `echo ${marker}$((0)):$(stty size)`);
    const left = Math.max(deadline - Date.now(), 1_000);
    const found = await waitForLine(page, new RegExp(`^${marker}0:(\\d+) (\\d+)$`), Math.min(left, 5_000));
    last = { rows: Number(found[1]), cols: Number(found[2]) };
    if (until(last)) return last;
    check(Date.now() < deadline, `stty size stayed ${last.rows} ${last.cols} for ${timeout} ms`);
  }
}

/** The page's test hook `window.axtConsole.<name>`, which must be a function. */
export async function requireHook(page, name) {
  const present = await page.evaluate((n) => typeof window.axtConsole?.[n] === 'function', name);
  check(present, `window.axtConsole.${name}() is missing (the DOM contract's test hook)`);
}
