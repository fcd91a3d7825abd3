// flow.js: "How this session flows" — the gateway's events of one session (token check, channel,
// kick, spec pull, data channel, then every frame both ways) from the console's
// `/ws/events/<sessionId>`, one list item each, newest at the bottom, the last 500 kept.

import { wsUrl } from './api.js';
import { el } from './ui.js';

const MAX_ITEMS = 500;
const RETRY_MS = 2000;
/** Payload bytes shown per frame, at most: a teaching view, not a dump. */
const PAYLOAD_SHOWN = 256;

/** `→` for what travels towards the instance, `←` for what comes back. */
function arrow(dir = '') {
  if (dir.startsWith('client') || dir.endsWith('to-agent')) return '→';
  if (dir.startsWith('agent') || dir.endsWith('to-client')) return '←';
  return '·';
}

/** The one-line text of a frame event: `→ Input seq 3 ack 2 5 B`. */
export function frameText(event) {
  const parts = [arrow(event.dir), event.type ?? 'frame'];
  if (event.seq !== undefined && event.seq !== null) parts.push(`seq ${event.seq}`);
  if (event.ack !== undefined && event.ack !== null) parts.push(`ack ${event.ack}`);
  parts.push(`${event.size ?? 0} B`);
  return parts.join(' ');
}

/** A payload as readable text: printable ASCII kept, the rest as \xNN. */
function payloadText(base64) {
  let bytes;
  try {
    bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  } catch {
    return '(not base64)';
  }
  let out = '';
  for (const b of bytes.subarray(0, PAYLOAD_SHOWN)) {
    out += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return bytes.length > PAYLOAD_SHOWN ? `${out}…` : out;
}

function clock(at) {
  const t = new Date(at ?? Date.now());
  if (Number.isNaN(t.getTime())) return String(at ?? '');
  return t.toTimeString().slice(0, 8) + '.' + String(t.getMilliseconds()).padStart(3, '0');
}

/** The details of an event other than a frame, in a few words. */
function detailText(event) {
  switch (event.kind) {
    case 'lost': return `${event.count ?? '?'} events dropped (this view was slow)`;
    case 'status':
    case 'closed': return event.detail ?? '';
    default: {
      const bits = [];
      if (event.channelId) bits.push(event.channelId);
      if (event.detail) bits.push(event.detail);
      return bits.join(' ');
    }
  }
}

export class FlowView {
  constructor() {
    this.list = document.getElementById('flow-log');
    this.checkbox = document.getElementById('show-payloads');
    this.socket = null;
    this.sessionId = null;
    this.first = null;
    this.retry = null;
    this.checkbox.addEventListener('change', () => {
      // The backlog comes again on a new subscription, so the list starts over.
      if (this.sessionId) this.#subscribe();
    });
  }

  /** Follows `sessionId`'s events; `first` is the console's own item (the signed call). */
  start(sessionId, first) {
    this.stop();
    this.sessionId = sessionId;
    this.first = first;
    this.#subscribe();
  }

  stop() {
    clearTimeout(this.retry);
    this.retry = null;
    this.sessionId = null;
    this.#closeSocket();
    this.list.replaceChildren();
  }

  #closeSocket() {
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState <= 1) socket.close(1000);
  }

  #subscribe() {
    clearTimeout(this.retry);
    this.#closeSocket();
    this.list.replaceChildren();
    if (this.first) this.#append(this.first);
    const payloads = this.checkbox.checked ? '?payloads=1' : '';
    const socket = new WebSocket(wsUrl(`/ws/events/${encodeURIComponent(this.sessionId)}${payloads}`));
    this.socket = socket;
    socket.onmessage = (message) => {
      if (socket !== this.socket || typeof message.data !== 'string') return;
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (event && typeof event === 'object') this.#append(event);
    };
    socket.onclose = (event) => {
      if (socket !== this.socket) return;
      this.socket = null;
      // The session's stream ends with the session; anything else is worth another try.
      if (event.code !== 1000 && this.sessionId) {
        this.retry = setTimeout(() => this.sessionId && this.#subscribe(), RETRY_MS);
      }
    };
  }

  #append(event) {
    const list = this.list;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 24;
    const kind = String(event.kind ?? 'event');
    const item = el('li', { class: `flow-item kind-${kind.replace(/[^a-z0-9-]/gi, '')}` },
      el('time', { datetime: event.at ?? '', text: clock(event.at) }), ' ',
      el('span', { class: 'kind', text: kind }), ' ');
    if (kind === 'frame') {
      item.append(el('span', { class: 'frame', title: event.dir ?? '', text: frameText(event) }));
      if (event.channelId) item.title = event.channelId;
      if (typeof event.payload === 'string') {
        item.append(' ', el('code', { class: 'payload', text: payloadText(event.payload) }));
      }
    } else {
      const detail = event.text ?? detailText(event);
      if (detail) item.append(el('span', { class: 'detail', text: detail }));
    }
    list.append(item);
    while (list.childElementCount > MAX_ITEMS) list.firstElementChild.remove();
    if (atBottom) list.scrollTop = list.scrollHeight;
  }
}
