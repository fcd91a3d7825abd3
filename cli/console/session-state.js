// session-state.js: the client half of schema 1.02 reliability (docs/protocol.md §6.9) for one
// terminal connection that may span many WebSockets. Pure, like session-proto.js: every method
// returns the frames to send, and the caller sends them when a socket is open (frames made while
// none is are not lost: inputs stay pending and `resume` sends them again).

import {
  ChannelState, INPUT_CHUNK, MAX_PENDING, MessageType, decodeFrame, encodeFrame, parseStatus,
  resizePayload,
} from './session-proto.js';

export class ProtoSession {
  /** `now` gives the `created` field (Unix ms); tests pass a fixed clock. */
  constructor({ now = () => Date.now(), maxPending = MAX_PENDING } = {}) {
    this.now = now;
    this.maxPending = maxPending;
    /** The gateway's channel id, adopted from the frames it sends (needed to reconnect). */
    this.channelId = '';
    /** The last input number handed out (Input and Resize share the counter). */
    this.lastInputSeq = 0;
    /** The highest output number applied, so none is shown twice and none skipped. */
    this.lastOutputSeq = 0;
    /** The highest output number any frame sent so far acknowledged. */
    this.ackedOutputSeq = 0;
    /** Inputs sent but not yet acknowledged by an Output's inputSeq: `{ seq, type, payload }`. */
    this.pending = [];
    /** The output number a gap Sync was sent for on this socket: one Sync per gap, no storm. */
    this.syncSentFor = null;
    /** Set by Status Frozen: the restarted gateway numbers its output afresh (§6.9). */
    this.frozen = false;
    this.stats = {
      applied: 0, duplicates: 0, gaps: 0, malformed: 0, resumes: 0, resent: 0, newChannels: 0,
    };
  }

  #frame(type, inputSeq, payload) {
    // Clients send the ids empty (§6.3); the gateway knows the channel from the socket.
    this.ackedOutputSeq = Math.max(this.ackedOutputSeq, this.lastOutputSeq);
    return encodeFrame({
      type, created: this.now(), inputSeq, outputSeq: this.lastOutputSeq, payload,
    });
  }

  #numbered(type, payload) {
    this.lastInputSeq = (this.lastInputSeq + 1) >>> 0;
    const seq = this.lastInputSeq;
    this.pending.push({ seq, type, payload });
    if (this.pending.length > this.maxPending) this.pending.shift();
    return this.#frame(type, seq, payload);
  }

  /** Input frames for `bytes` (UTF-8 already), numbered and kept until acknowledged. */
  input(bytes) {
    const frames = [];
    for (let at = 0; at < bytes.length; at += INPUT_CHUNK) {
      frames.push(this.#numbered(MessageType.Input, bytes.slice(at, at + INPUT_CHUNK)));
    }
    return frames;
  }

  /** A numbered Resize frame (§6.5). */
  resize(rows, cols) {
    return this.#numbered(MessageType.Resize, resizePayload(rows, cols));
  }

  /** Whether outputs were applied that no frame sent has acknowledged yet. */
  needsAck() {
    return this.lastOutputSeq > this.ackedOutputSeq;
  }

  /** How many applied outputs await acknowledgement. */
  unacknowledged() {
    return this.lastOutputSeq - this.ackedOutputSeq;
  }

  /**
   * An acknowledgement on its own: an empty Input with a fresh number (the gateway drops a
   * reused number before reading its ack, and treats inputSeq 0 as a reset). It is not kept:
   * resending an empty Input after a reconnect would say nothing the Sync does not.
   */
  ack() {
    this.lastInputSeq = (this.lastInputSeq + 1) >>> 0;
    return this.#frame(MessageType.Input, this.lastInputSeq, new Uint8Array(0));
  }

  /** Drops the pending inputs the gateway has applied: all up to `seq`. */
  #acknowledged(seq) {
    if (seq === 0) return;
    while (this.pending.length > 0 && this.pending[0].seq <= seq) this.pending.shift();
  }

  /** The pending inputs from `seq` on, encoded again with the current acknowledgement. */
  #resend(fromSeq) {
    const frames = this.#pendingFrom(fromSeq);
    this.stats.resent += frames.length;
    return frames;
  }

  #pendingFrom(fromSeq) {
    return this.pending
      .filter((p) => p.seq >= fromSeq)
      .map((p) => this.#frame(p.type, p.seq, p.payload));
  }

  /**
   * One message from the gateway. Returns `{ send, output, status, error }`: frames to send back,
   * bytes for the terminal (in order, each output once), a parsed Status when one came, and a
   * decoding error for a malformed message (which is otherwise ignored).
   */
  receive(data) {
    const result = { send: [], output: [], status: null, error: null };
    const { frame, error } = decodeFrame(data);
    if (error) {
      this.stats.malformed += 1;
      result.error = error;
      return result;
    }
    if (frame.channelId && frame.channelId !== this.channelId) this.#adopt(frame.channelId);
    switch (frame.type) {
      case MessageType.Output:
        this.#output(frame, result);
        break;
      case MessageType.Status: {
        const status = parseStatus(frame.payload);
        if (status.error) {
          this.stats.malformed += 1;
          result.error = status.error;
        } else {
          if (status.state === ChannelState.Frozen) this.frozen = true;
          result.status = status;
        }
        break;
      }
      case MessageType.Sync:
        // The gateway wants inputs from `inputSeq` on: everything below it was applied.
        this.#acknowledged(frame.inputSeq - 1);
        result.send.push(...this.#resend(frame.inputSeq));
        break;
      default:
        break; // Input, Resize, Close, Open and unknown types are not the gateway's to send.
    }
    return result;
  }

  /**
   * Adopts the gateway's channel id. A different one than before means the reconnect did not
   * reach the old channel (a relay that cannot name it): a new shell, numbered from 1, that
   * never saw the old inputs — so the old numbering goes, and the old inputs with it.
   */
  #adopt(channelId) {
    if (this.channelId) {
      this.stats.newChannels += 1;
      this.lastOutputSeq = 0;
      this.ackedOutputSeq = 0;
      this.syncSentFor = null;
      this.pending = [];
    }
    this.channelId = channelId;
  }

  #output(frame, result) {
    this.#acknowledged(frame.inputSeq);
    const seq = frame.outputSeq;
    if (seq === 0) {
      // Unnumbered: the early empty Output of every connection (§6.8).
      if (frame.payload.length > 0) result.output.push(frame.payload);
    } else if (seq === ((this.lastOutputSeq + 1) >>> 0)) {
      this.lastOutputSeq = seq;
      this.syncSentFor = null;
      this.stats.applied += 1;
      if (frame.payload.length > 0) result.output.push(frame.payload);
    } else if (seq <= this.lastOutputSeq) {
      this.stats.duplicates += 1; // A replay of what is on screen already.
    } else {
      // A gap: drop it and ask for a replay from what we have, once per gap.
      this.stats.gaps += 1;
      if (this.syncSentFor !== this.lastOutputSeq) {
        this.syncSentFor = this.lastOutputSeq;
        result.send.push(this.#frame(MessageType.Sync, this.lastInputSeq, new Uint8Array(0)));
      }
    }
  }

  /** Every pending input, in order: what the first socket sends once it opens. */
  pendingFrames() {
    return this.#pendingFrom(0);
  }

  /**
   * The frames that open a new WebSocket on the same channel: a Sync saying what this side has
   * (the gateway replays the outputs after it, and asks again for inputs it lacks), then every
   * pending input at once, so that no input typed from now on overtakes one the old socket lost.
   */
  resume() {
    this.stats.resumes += 1;
    this.syncSentFor = null;
    if (this.frozen) {
      // A restarted gateway numbers output from 1 again and knows none of the old numbers.
      this.frozen = false;
      this.lastOutputSeq = 0;
      this.ackedOutputSeq = 0;
    }
    const sync = this.#frame(MessageType.Sync, this.lastInputSeq, new Uint8Array(0));
    return [sync, ...this.#resend(0)];
  }
}
