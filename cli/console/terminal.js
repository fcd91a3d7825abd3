// terminal.js: xterm.js (with its fit and web-links add-ons) joined to a SessionLink. Imported
// only when a terminal opens, so the sign-in page never loads xterm's 340 KB.

import { Terminal } from './vendor/xterm/xterm.mjs';
import { FitAddon } from './vendor/addon-fit/addon-fit.mjs';
import { WebLinksAddon } from './vendor/addon-web-links/addon-web-links.mjs';
import { SessionLink } from './session-link.js';
import { ensureStylesheet } from './ui.js';

ensureStylesheet('/assets/vendor/xterm/xterm.css');

const THEME = {
  background: '#101418',
  foreground: '#e6e6e6',
  cursor: '#f0c674',
  selectionBackground: '#3a5f8a',
};

/**
 * Opens a terminal in `container` on the session at `url(channelId)`. `onState(state, text)`
 * reports the link's state. Returns a handle.
 */
export function openTerminal({ container, url, onState }) {
  const term = new Terminal({
    cursorBlink: true,
    scrollback: 5000,
    fontSize: 14,
    fontFamily: '"DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace',
    theme: THEME,
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.loadAddon(new WebLinksAddon());
  term.open(container);
  const encoder = new TextEncoder();

  const link = new SessionLink({
    url,
    onOutput: (bytes) => term.write(bytes),
    onState: (state, text) => {
      term.options.disableStdin = state === 'ended';
      onState(state, text);
    },
  });

  term.onData((data) => link.input(encoder.encode(data)));
  // Bytes that are not text (some mouse reports): one byte per character, as xterm means them.
  term.onBinary((data) => link.input(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff)));
  term.onResize(({ rows, cols }) => link.resize(rows, cols));
  term.attachCustomKeyEventHandler((event) => {
    const down = event.type === 'keydown';
    // Shift+Tab is not sent to the shell: the browser's own focus move takes the focus back
    // to End session (a shell needs Tab, so keyboard users leave backwards).
    if (event.key === 'Tab' && event.shiftKey && !event.ctrlKey && !event.altKey) return false;
    // Once the session has ended there is no shell to take Tab: it moves the focus on.
    if (event.key === 'Tab' && term.options.disableStdin) return false;
    if (event.ctrlKey && event.shiftKey && (event.code === 'KeyC' || event.key === 'C')) {
      if (down && term.hasSelection()) navigator.clipboard?.writeText(term.getSelection()).catch(() => {});
      return false;
    }
    // Ctrl+Shift+V: left to the browser, whose paste event xterm turns into input.
    if (event.ctrlKey && event.shiftKey && (event.code === 'KeyV' || event.key === 'V')) return false;
    return true;
  });

  let frame = 0;
  const fitNow = () => {
    frame = 0;
    // A hidden container has no size; fitting it would make a 1-column terminal.
    if (container.offsetWidth === 0 || container.offsetHeight === 0) return;
    fit.fit();
  };
  fitNow();
  link.resize(term.rows, term.cols);
  const observer = new ResizeObserver(() => {
    if (!frame) frame = requestAnimationFrame(fitNow);
  });
  observer.observe(container);
  link.connect();
  term.focus();

  return {
    focus: () => term.focus(),
    drop: () => link.drop(),
    stats: () => link.stats(),
    state: () => link.state,
    /** The terminal's whole buffer (scrollback included) as text, one line per row. */
    text() {
      const buffer = term.buffer.active;
      const lines = [];
      for (let i = 0; i < buffer.length; i += 1) lines.push(buffer.getLine(i)?.translateToString(true) ?? '');
      return lines.join('\n');
    },
    close() {
      observer.disconnect();
      cancelAnimationFrame(frame);
      link.close();
      term.dispose();
    },
    /** Ends the link's view of the session (after EndTerminalSession, if no Status came). */
    markEnded(text) {
      link.finish(text);
    },
  };
}
