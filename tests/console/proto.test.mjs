// proto.test.mjs: the console's client framing (schema 1.02) and its resume logic, against the
// byte layouts and worked examples of docs/protocol.md §6.2, §6.5, §6.9 and §6.11. Run with
// `node --test tests/console/proto.test.mjs`.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  ChannelState, MessageType, decodeFrame, encodeFrame, endedText, parseStatus, resizePayload,
} from '../../cli/console/session-proto.js';
import { ProtoSession } from '../../cli/console/session-state.js';

const hex = (s) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g), (b) => parseInt(b, 16));
const text = (bytes) => new TextDecoder().decode(bytes);
const bytesOf = (s) => new TextEncoder().encode(s);
const CREATED = 1700000000000;

test('the 1.02 Input "ls" on channel c1 is the bytes of §6.11', () => {
  const frame = encodeFrame({
    type: MessageType.Input, channelId: 'c1', created: CREATED, inputSeq: 1, outputSeq: 0,
    payload: bytesOf('ls'),
  });
  assert.deepEqual(frame, hex('00000000 312e3032 02 6331 00 0068e5cf8b010000 01000000 00000000 0200 00 00 6c73'));
  assert.equal(frame.length, 34);
});

test('the Sync exchange of §6.11 encodes and decodes both ways', () => {
  const client = hex('06000000 312e3032 02 6331 00 0068e5cf8b010000 03000000 01000000 0000 00 00');
  assert.deepEqual(encodeFrame({
    type: MessageType.Sync, channelId: 'c1', created: CREATED, inputSeq: 3, outputSeq: 1,
  }), client);
  const { frame } = decodeFrame(hex('06000000 312e3032 02 6331 00 0068e5cf8b010000 04000000 02000000 0000 00 00'));
  assert.equal(frame.type, MessageType.Sync);
  assert.equal(frame.inputSeq, 4);
  assert.equal(frame.outputSeq, 2);
  assert.equal(frame.payload.length, 0);
});

test('the gateway Output "hi" of §6.11 decodes', () => {
  const { frame, error } = decodeFrame(hex('01000000 312e3032 02 6331 00 0068e5cf8b010000 03000000 02000000 0200 00 00 6869'));
  assert.equal(error, undefined);
  assert.deepEqual(
    { ...frame, payload: text(frame.payload) },
    {
      type: 1, schema: '1.02', channelId: 'c1', instanceId: '', created: CREATED, inputSeq: 3,
      outputSeq: 2, declaredLength: 2, encoding: 0, payload: 'hi',
    },
  );
});

test('every frame round-trips', () => {
  for (const type of [0, 1, 2, 3, 5, 6, 7]) {
    const payload = Uint8Array.from({ length: type * 37 }, (_, i) => (i * 7) & 0xff);
    const sent = {
      type, channelId: 'c-abcdefghijklmnopqrstuvwx', instanceId: type % 2 ? 'mi-0123' : '',
      created: CREATED + type, inputSeq: 0xfffffff0 + type, outputSeq: type * 1000, payload,
    };
    const { frame } = decodeFrame(encodeFrame(sent).buffer);
    assert.deepEqual({ ...frame, payload: [...frame.payload] }, {
      ...sent, schema: '1.02', declaredLength: payload.length, encoding: 0, payload: [...payload],
    });
  }
});

test('1.01 frames from the gateway read in the 1.02 layout, as the web client reads them', () => {
  // Status Closed "Exit" to a 1.01 client (§6.11), and Status Frozen to a 1.02 one.
  const closed = decodeFrame(hex('05000000 312e3031 02 6331 00 0068e5cf8b010000 0000000000000000 05000000 05 45786974')).frame;
  assert.equal(closed.schema, '1.01');
  assert.deepEqual(parseStatus(closed.payload), { state: ChannelState.Closed, reason: 'Exit' });
  const frozen = decodeFrame(hex('05000000 312e3032 02 6331 00 0068e5cf8b010000 00000000 00000000 0100 00 00 08')).frame;
  assert.deepEqual(parseStatus(frozen.payload), { state: ChannelState.Frozen, reason: '' });
  const stream = decodeFrame(hex('05000000 312e3031 02 6331 00 0068e5cf8b010000 0000000000000000 04000000 07190000')).frame;
  // Only three rate bytes in this frame: read as far as they go.
  assert.equal(parseStatus(stream.payload).state, ChannelState.Stream);
  assert.deepEqual(parseStatus(hex('07 00190000')), { state: 7, rate: 1638400 });
});

test('Resize is rows then cols, i16 LE', () => {
  assert.deepEqual(resizePayload(30, 100), hex('1e00 6400'));
});

test('decoding garbage returns an error and never throws', () => {
  for (const junk of [null, undefined, 42, {}, [], new Uint8Array(0), new Uint8Array(29), hex('00000000 312e3032 ff')]) {
    assert.ok(decodeFrame(junk).error, `no error for ${junk}`);
  }
  const good = encodeFrame({ type: 1, channelId: 'c1', payload: bytesOf('hello') });
  for (let cut = 0; cut < 32; cut += 1) {
    const result = decodeFrame(good.slice(0, cut));
    assert.ok(result.error, `a frame cut at ${cut} decoded`);
  }
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  for (let i = 0; i < 20000; i += 1) {
    const bytes = Uint8Array.from({ length: random() % 80 }, () => random() & 0xff);
    const result = decodeFrame(bytes);
    assert.ok(result.frame || result.error);
    if (result.frame) parseStatus(result.frame.payload);
  }
  assert.ok(parseStatus(new Uint8Array(0)).error);
});

test('the banner names the documented reasons', () => {
  assert.equal(endedText('SessionEnded'), 'Session ended: ended by EndTerminalSession');
  assert.equal(endedText('AgentTimeout'), 'Session ended: idle timeout');
  assert.equal(endedText('AgentSocketClosed'), 'Session ended: agent lost');
  assert.equal(endedText('Exit'), 'Session ended: the shell exited');
  assert.equal(endedText('Open_port_failed'), 'Session ended: Open_port_failed');
  assert.equal(endedText(''), 'Session ended: connection closed');
});

test('output is applied in order, once; a gap asks for a replay once', () => {
  const session = new ProtoSession({ now: () => CREATED });
  const out = (seq, s, inputSeq = 0) => encodeFrame({ type: 1, channelId: 'c9', outputSeq: seq, inputSeq, payload: bytesOf(s) });
  assert.deepEqual(session.receive(out(0, '')).output, []);
  assert.equal(session.channelId, 'c9');
  assert.equal(text(session.receive(out(1, 'a')).output[0]), 'a');
  assert.deepEqual(session.receive(out(1, 'a')).output, [], 'a duplicate is not shown twice');
  const gap = session.receive(out(3, 'c'));
  assert.deepEqual(gap.output, []);
  assert.equal(gap.send.length, 1);
  const sync = decodeFrame(gap.send[0]).frame;
  assert.equal(sync.type, MessageType.Sync);
  assert.equal(sync.outputSeq, 1);
  assert.equal(session.receive(out(4, 'd')).send.length, 0, 'one Sync per gap');
  assert.equal(text(session.receive(out(2, 'b')).output[0]), 'b');
  assert.equal(text(session.receive(out(3, 'c')).output[0]), 'c');
  assert.deepEqual(session.stats.applied, 3);
});

test('inputs are numbered, acknowledged by Output, and resent from what a Sync asks', () => {
  const session = new ProtoSession({ now: () => CREATED });
  const resize = decodeFrame(session.resize(24, 80)).frame;
  assert.deepEqual([resize.type, resize.inputSeq, resize.channelId], [MessageType.Resize, 1, '']);
  const inputs = ['x', 'y', 'z'].map((k) => decodeFrame(session.input(bytesOf(k))[0]).frame);
  assert.deepEqual(inputs.map((f) => f.inputSeq), [2, 3, 4]);
  session.receive(encodeFrame({ type: 1, outputSeq: 1, inputSeq: 2, payload: bytesOf('x') }));
  assert.deepEqual(session.pending.map((p) => p.seq), [3, 4]);
  assert.ok(session.needsAck());
  const ack = decodeFrame(session.ack()).frame;
  assert.deepEqual([ack.type, ack.inputSeq, ack.outputSeq, ack.payload.length], [0, 5, 1, 0]);
  assert.ok(!session.needsAck());
  const answer = session.receive(encodeFrame({ type: MessageType.Sync, inputSeq: 4, outputSeq: 1 }));
  assert.deepEqual(answer.send.map((f) => decodeFrame(f).frame.inputSeq), [4]);
  assert.equal(text(decodeFrame(answer.send[0]).frame.payload), 'z');
  const resumed = session.resume().map((f) => decodeFrame(f).frame);
  assert.deepEqual(resumed.map((f) => [f.type, f.inputSeq, f.outputSeq]), [[6, 5, 1], [0, 4, 1]]);
  const big = session.input(new Uint8Array(40000));
  assert.equal(big.length, 3, 'input is cut into 16 KiB frames');
});

test('what was made before the first socket opened goes out in order', () => {
  const session = new ProtoSession();
  session.resize(24, 80);
  session.input(bytesOf('early'));
  const frames = session.pendingFrames().map((f) => decodeFrame(f).frame);
  assert.deepEqual(frames.map((f) => [f.type, f.inputSeq]), [[MessageType.Resize, 1], [MessageType.Input, 2]]);
  assert.equal(session.stats.resent, 0);
});

test('after Frozen the restarted gateway numbering starts afresh', () => {
  const session = new ProtoSession();
  for (let seq = 1; seq <= 5; seq += 1) session.receive(encodeFrame({ type: 1, outputSeq: seq, payload: bytesOf('.') }));
  session.receive(encodeFrame({ type: 5, payload: Uint8Array.of(8) }));
  const [sync] = session.resume().map((f) => decodeFrame(f).frame);
  assert.equal(sync.outputSeq, 0);
  assert.equal(session.receive(encodeFrame({ type: 1, outputSeq: 1, payload: bytesOf('new') })).output.length, 1);
});

test('a reconnect that lands on a new channel starts its numbering afresh', () => {
  const session = new ProtoSession();
  const out = (channelId, seq, s) => encodeFrame({ type: 1, channelId, outputSeq: seq, payload: bytesOf(s) });
  for (let seq = 1; seq <= 3; seq += 1) session.receive(out('c-old', seq, '.'));
  session.input(bytesOf('lost'));
  session.resume();
  assert.deepEqual(session.receive(out('c-new', 0, '')).output, []);
  assert.equal(session.channelId, 'c-new');
  assert.deepEqual(session.pending, []);
  assert.equal(text(session.receive(out('c-new', 1, 'fresh')).output[0]), 'fresh');
  assert.equal(session.stats.newChannels, 1);
});

const decoder = new TextDecoder();

/**
 * A small model of the gateway's half of schema 1.02 (§6.9): inputs applied once by number,
 * outputs numbered and kept until acknowledged, replayed on Sync, and a Sync back only when the
 * client sent inputs it lacks. A dropped socket loses everything in flight both ways; the
 * connection itself lives on.
 */
class FakeGateway {
  constructor(seed) {
    this.seed = seed * 7919 + 17;
    this.connected = true;
    this.outputSeq = 0;
    this.lastApplied = 0;
    this.kept = []; // [seq, payload]
    this.applied = [];
    this.produced = [];
    this.toClient = [this.#frame(MessageType.Output, 0, 0, new Uint8Array(0))];
  }

  /** A deterministic pseudo-random number, so a failing round can be run again. */
  random() {
    this.seed = (this.seed * 1103515245 + 12345) & 0x7fffffff;
    return this.seed >> 8;
  }

  #frame(type, inputSeq, outputSeq, payload) {
    return encodeFrame({ type, channelId: 'c-test', created: 1, inputSeq, outputSeq, payload });
  }

  /** One client message; lost when no socket is there. */
  fromClient(bytes) {
    if (!this.connected) return;
    const { frame, error } = decodeFrame(bytes);
    if (error) throw new Error(`the client sent a malformed frame: ${error}`);
    if (frame.type === MessageType.Input || frame.type === MessageType.Resize) {
      if (frame.inputSeq !== 0 && frame.inputSeq <= this.lastApplied) return; // a resend
      this.lastApplied = frame.inputSeq;
      if (frame.type === MessageType.Input && frame.payload.length > 0) {
        this.applied.push(decoder.decode(frame.payload));
      }
    }
    this.#acknowledge(frame.outputSeq);
    if (frame.type === MessageType.Sync) {
      for (const [seq, payload] of this.kept) {
        this.toClient.push(this.#frame(MessageType.Output, this.lastApplied, seq, payload));
      }
      if (frame.inputSeq > this.lastApplied) {
        this.toClient.push(this.#frame(MessageType.Sync, this.lastApplied + 1, this.outputSeq, new Uint8Array(0)));
      }
    }
  }

  #acknowledge(upTo) {
    while (this.kept.length > 0 && this.kept[0][0] <= upTo) this.kept.shift();
  }

  /** The agent's output: numbered, kept, and sent when a socket is there. */
  produce(text) {
    this.outputSeq += 1;
    const payload = new TextEncoder().encode(text);
    this.kept.push([this.outputSeq, payload]);
    this.produced.push(text);
    if (this.connected) {
      this.toClient.push(this.#frame(MessageType.Output, this.lastApplied, this.outputSeq, payload));
    }
  }

  drop() {
    this.connected = false;
    this.toClient = [];
  }

  /** A new socket on the same channel: the early empty Output first, as on every connection. */
  reconnect() {
    this.connected = true;
    this.toClient.push(this.#frame(MessageType.Output, 0, 0, new Uint8Array(0)));
  }
}

test('through random drops against a gateway that keeps §6.9, nothing is lost or doubled', () => {
  for (let round = 0; round < 40; round += 1) {
    const gateway = new FakeGateway(round);
    const client = new ProtoSession();
    const shown = [];
    const deliver = (frames) => {
      for (const f of frames) gateway.fromClient(f);
    };
    const pump = () => {
      for (const msg of gateway.toClient.splice(0)) {
        const result = client.receive(msg);
        shown.push(...result.output.map(text));
        deliver(result.send);
      }
    };
    deliver([client.resize(24, 80)]);
    const typed = [];
    for (let step = 0; step < 300; step += 1) {
      const r = gateway.random() % 10;
      if (r < 4) {
        const key = `k${step};`;
        typed.push(key);
        const frames = client.input(bytesOf(key));
        // A socket that is down loses what is sent on it.
        if (gateway.connected) deliver(frames);
      } else if (r < 8) {
        gateway.produce(`o${step};`);
      } else if (r === 8 && gateway.connected) {
        gateway.drop(); // output in flight is lost with the socket
      } else if (!gateway.connected) {
        gateway.reconnect();
        deliver(client.resume());
      }
      if (gateway.connected) pump();
      if (client.needsAck() && gateway.connected && gateway.random() % 3 === 0) deliver([client.ack()]);
    }
    if (!gateway.connected) {
      gateway.reconnect();
      deliver(client.resume());
    }
    pump();
    pump();
    assert.equal(shown.join(''), gateway.produced.join(''), `round ${round}: output`);
    assert.equal(gateway.applied.join(''), typed.join(''), `round ${round}: input`);
  }
});
