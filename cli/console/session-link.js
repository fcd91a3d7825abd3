// session-link.js: one terminal connection over the console's `/ws/session/<id>` relay, kept
// alive across dropped WebSockets: it reconnects by itself (naming its channel so the gateway
// hands it the same one) and resumes with 1.02 Sync, so no output byte is lost or shown twice.

import { ChannelState, endedText } from './session-proto.js';
import { ProtoSession } from './session-state.js';

/** Reconnect delays: the first long enough to be seen, then backing off to 5 s. */
const RETRY_MS = [1000, 1000, 2000, 3000, 5000];
/** A dropped connection is kept by the gateway at most while the URL is valid (10 min). */
const GIVE_UP_MS = 10 * 60 * 1000;
/** Attempts before giving up on a connection that never opened at all. */
const FIRST_ATTEMPTS = 3;
/** Acknowledge applied output after this long, or at once past `ACK_EVERY` outputs. */
const ACK_DELAY_MS = 1000;
const ACK_EVERY = 32;
/** The close code `dropSocket` uses: not 1000, so the relay drops the gateway socket instead of
 *  closing it, and the gateway keeps the connection for the resume (docs/protocol.md §6.9). */
export const DROP_CODE = 4000;

export class SessionLink {
  /**
   * `url(channelId)` gives the WebSocket URL; `onOutput(bytes)` writes to the terminal;
   * `onState(state, text)` with state `connecting` | `connected` | `reconnecting` | `ended`.
   */
  constructor({ url, onOutput, onState, WebSocketImpl = globalThis.WebSocket, now }) {
    this.url = url;
    this.onOutput = onOutput;
    this.onState = onState;
    this.WebSocketImpl = WebSocketImpl;
    this.proto = new ProtoSession(now ? { now } : {});
    this.socket = null;
    this.state = 'idle';
    this.size = null;
    this.everOpened = false;
    this.failures = 0;
    this.droppedAt = 0;
    this.retryTimer = null;
    this.ackTimer = null;
    this.closedByUs = false;
  }

  connect() {
    this.#setState('connecting', 'Connecting…');
    this.#open();
  }

  #setState(state, text) {
    this.state = state;
    this.onState(state, text);
  }

  #open() {
    const socket = new this.WebSocketImpl(this.url(this.proto.channelId));
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    socket.onopen = () => this.#opened(socket);
    socket.onmessage = (event) => this.#message(socket, event.data);
    socket.onclose = (event) => this.#closed(socket, event);
    socket.onerror = () => {}; // a close event follows and says the rest
  }

  #opened(socket) {
    if (socket !== this.socket) return;
    this.failures = 0;
    this.droppedAt = 0;
    // The first socket gets what was made before it opened (the first Resize, early keys); a
    // later one resumes: Sync, then every input not yet acknowledged.
    this.#sendAll(this.everOpened ? this.proto.resume() : this.proto.pendingFrames());
    this.everOpened = true;
    this.#setState('connected', 'Connected');
  }

  #message(socket, data) {
    if (socket !== this.socket || this.state === 'ended') return;
    const result = this.proto.receive(data);
    for (const bytes of result.output) this.onOutput(bytes);
    this.#sendAll(result.send);
    const status = result.status;
    if (status && (status.state === ChannelState.Closed || status.state === ChannelState.Exited
      || status.state === ChannelState.Aborted)) {
      this.#end(endedText(status.reason || (status.state === ChannelState.Exited ? 'Exit' : '')));
      return;
    }
    if (status?.state === ChannelState.Frozen) {
      // The gateway is shutting down: the connection lives on; come back to its successor.
      this.#setState('reconnecting', 'Reconnecting…');
    }
    if (result.output.length > 0) this.#scheduleAck();
  }

  #scheduleAck() {
    if (!this.proto.needsAck()) return;
    if (this.proto.unacknowledged() >= ACK_EVERY) {
      this.#sendAck();
    } else if (!this.ackTimer) {
      this.ackTimer = setTimeout(() => this.#sendAck(), ACK_DELAY_MS);
    }
  }

  #sendAck() {
    clearTimeout(this.ackTimer);
    this.ackTimer = null;
    if (this.proto.needsAck() && this.#isOpen()) this.#sendAll([this.proto.ack()]);
  }

  #isOpen() {
    return this.socket && this.socket.readyState === 1;
  }

  #sendAll(frames) {
    // Frames made while no socket is open are not lost: inputs stay pending for `resume`.
    if (!this.#isOpen()) return;
    for (const frame of frames) this.socket.send(frame);
  }

  #closed(socket, event) {
    if (socket !== this.socket) return;
    this.socket = null;
    if (this.state === 'ended' || this.closedByUs) return;
    // The relay closes with 1000 or 4xxx and the gateway's refusal as reason when the session
    // cannot come back (SessionEnded, UrlExpired, ChannelNotFound, …): that is the end.
    const final = event.code === 1000 || (event.code >= 4000 && event.code < 5000 && event.code !== DROP_CODE);
    if (final) {
      this.#end(endedText(event.reason || ''));
      return;
    }
    this.failures += 1;
    if (!this.droppedAt) this.droppedAt = Date.now();
    const gaveUp = this.everOpened
      ? Date.now() - this.droppedAt > GIVE_UP_MS
      : this.failures >= FIRST_ATTEMPTS;
    if (gaveUp) {
      this.#end(endedText(this.everOpened ? 'connection lost' : 'could not connect'));
      return;
    }
    this.#setState('reconnecting', 'Reconnecting…');
    const delay = RETRY_MS[Math.min(this.failures - 1, RETRY_MS.length - 1)];
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.state === 'reconnecting') this.#open();
    }, delay);
  }

  #end(text) {
    clearTimeout(this.retryTimer);
    clearTimeout(this.ackTimer);
    this.#setState('ended', text);
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState <= 1) socket.close(1000);
  }

  /** Keystrokes (UTF-8 bytes). */
  input(bytes) {
    if (this.state === 'ended') return;
    this.#sendAll(this.proto.input(bytes));
  }

  /** The terminal's size, numbered like input: sent now, or when the first socket opens. */
  resize(rows, cols) {
    if (rows <= 0 || cols <= 0 || this.state === 'ended') return;
    if (this.size && this.size.rows === rows && this.size.cols === cols) return;
    this.size = { rows, cols };
    this.#sendAll([this.proto.resize(rows, cols)]);
  }

  /** Closes the socket as a network failure would look to the gateway; the link comes back. */
  drop() {
    if (!this.socket || this.state === 'ended') return false;
    this.socket.close(DROP_CODE, 'dropped');
    return true;
  }

  /** Marks the session ended from outside (EndTerminalSession answered, no Status came). */
  finish(text) {
    if (this.state !== 'ended') this.#end(text);
  }

  /** Leaves for good: a clean close, which ends the gateway's connection (ClientClosed). */
  close() {
    this.closedByUs = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.ackTimer);
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState <= 1) socket.close(1000, 'left');
  }

  stats() {
    return {
      state: this.state,
      channelId: this.proto.channelId,
      lastInputSeq: this.proto.lastInputSeq,
      lastOutputSeq: this.proto.lastOutputSeq,
      pending: this.proto.pending.length,
      ...this.proto.stats,
    };
  }
}
