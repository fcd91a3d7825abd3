// session-view.js: the terminal view — the banner (Connected, Reconnecting…, Session ended: why),
// End session, the terminal itself (imported on first use) and the flow view beside it.

import * as api from './api.js';
import { showError } from './ui.js';
import { FlowView } from './flow.js';

/** How long EndTerminalSession's own Status may take before the banner says so itself. */
const END_GRACE_MS = 3000;

export class SessionView {
  constructor({ region, principal, onEnded }) {
    this.region = region;
    this.principal = principal;
    this.onEnded = onEnded;
    this.flow = new FlowView();
    this.terminal = null;
    this.current = null; // { instanceId, sessionId, token }
    this.banner = document.getElementById('banner');
    this.detail = document.getElementById('banner-detail');
    this.endButton = document.getElementById('end-session');
    this.endButton.addEventListener('click', () => this.end());
  }

  #setBanner(state, text) {
    this.banner.textContent = text;
    this.banner.dataset.state = state;
    if (state === 'ended') {
      this.endButton.disabled = true;
      this.onEnded?.();
    }
  }

  async open({ instanceId, sessionId }) {
    this.close();
    const token = {};
    this.current = { instanceId, sessionId, token };
    document.getElementById('session-title').textContent = `Terminal: ${instanceId}`;
    this.detail.textContent = `Session ${sessionId}`;
    this.endButton.disabled = false;
    this.#setBanner('connecting', 'Connecting…');
    const principal = this.principal();
    this.flow.start(sessionId, {
      at: new Date().toISOString(),
      kind: 'StartTerminalSession',
      text: `signed as ${principal?.arn ?? 'the principal'}: InstanceId ${instanceId} → ${sessionId}`,
    });
    let module;
    try {
      module = await import('./terminal.js');
    } catch (error) {
      showError(error, 'terminal');
      this.#setBanner('ended', 'Session ended: the terminal could not load');
      return;
    }
    if (this.current?.token !== token) return; // closed or replaced while loading
    const container = document.getElementById('terminal');
    container.replaceChildren();
    this.terminal = module.openTerminal({
      container,
      url: (channelId) => {
        const path = `/ws/session/${encodeURIComponent(sessionId)}`;
        // Naming the channel makes the relay's new gateway socket a reconnect (§6.9).
        return api.wsUrl(channelId ? `${path}?channelId=${encodeURIComponent(channelId)}` : path);
      },
      onState: (state, text) => {
        if (this.current?.token === token) this.#setBanner(state, text);
      },
    });
  }

  close() {
    this.current = null;
    this.terminal?.close();
    this.terminal = null;
    this.flow.stop();
    document.getElementById('terminal').replaceChildren();
  }

  /** EndTerminalSession as the principal; the gateway then sends Status 5 SessionEnded. */
  async end() {
    const current = this.current;
    if (!current) return;
    this.endButton.disabled = true;
    try {
      await api.call('ecs', 'EndTerminalSession', { RegionId: this.region(), SessionId: current.sessionId });
    } catch (error) {
      this.endButton.disabled = false;
      showError(error, 'end');
      return;
    }
    setTimeout(() => {
      if (this.current === current) this.terminal?.markEnded('Session ended: ended by EndTerminalSession');
    }, END_GRACE_MS);
  }

  dropSocket() {
    return this.terminal?.drop() ?? false;
  }

  stats() {
    return this.terminal?.stats() ?? null;
  }

  text() {
    return this.terminal?.text() ?? '';
  }
}
