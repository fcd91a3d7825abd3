// player.js: asciinema-player in `#player`, loaded (script and stylesheet) on the first "Play
// recording", fed the recording's asciicast v2 text fetched through the console as the principal.
// Seeking and pausing are the player's own controls and keys; its speed is an option of its
// creation, so the Speed selector makes it anew at the same point.

import * as api from './api.js';
import { clearError, ensureStylesheet, loadScript, showError } from './ui.js';

const SCRIPT = '/assets/vendor/asciinema-player/asciinema-player.min.js';
const STYLE = '/assets/vendor/asciinema-player/asciinema-player.css';

export class Player {
  constructor({ host, caption, speed }) {
    this.host = host;
    this.caption = caption;
    this.speed = speed;
    this.instance = null;
    this.text = null;
    this.generation = 0;
    this.speed.addEventListener('change', () => this.#respeed());
  }

  #create(startAt) {
    this.instance = globalThis.AsciinemaPlayer.create({ data: this.text }, this.host, {
      autoPlay: true,
      fit: 'width',
      speed: Number(this.speed.value) || 1,
      startAt,
      terminalFontFamily: '"DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace',
      idleTimeLimit: 2,
    });
  }

  async #respeed() {
    if (!this.instance || this.text === null) return;
    const generation = this.generation;
    let at = 0;
    try {
      at = Number(await this.instance.getCurrentTime()) || 0;
    } catch {
      at = 0;
    }
    if (generation !== this.generation) return;
    this.#dispose();
    this.#create(at);
  }

  reset() {
    this.generation += 1;
    this.text = null;
    this.#dispose();
    this.caption.textContent = 'Choose “Play recording” on a connection above.';
  }

  #dispose() {
    try {
      this.instance?.dispose();
    } catch {
      // A player that failed half-way may not dispose cleanly; its node goes anyway.
    }
    this.instance = null;
    this.host.replaceChildren();
  }

  async play(sessionId, connectionId) {
    const generation = ++this.generation;
    this.#dispose();
    this.caption.textContent = `Loading the recording of ${sessionId} ${connectionId}…`;
    try {
      ensureStylesheet(STYLE);
      const [text] = await Promise.all([api.recordingText(sessionId, connectionId), loadScript(SCRIPT)]);
      if (generation !== this.generation) return;
      if (!globalThis.AsciinemaPlayer?.create) throw new Error('asciinema-player did not load');
      this.text = text;
      this.#create(0);
      this.caption.textContent = `Recording of ${sessionId}, connection ${connectionId}: `
        + 'space pauses, ← and → seek, 0–9 jump.';
      clearError('player');
      this.host.scrollIntoView({ block: 'nearest' });
      // The player's own element takes the keys (space, arrows, speed).
      this.host.querySelector('[tabindex]')?.focus({ preventScroll: true });
    } catch (error) {
      if (generation !== this.generation) return;
      this.caption.textContent = 'The recording could not be played.';
      showError(error, 'player');
    }
  }
}
