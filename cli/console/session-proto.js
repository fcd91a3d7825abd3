// session-proto.js: the gateway's client framing in schema 1.02 (docs/protocol.md §6) and the
// reliability of one terminal connection (§6.9): numbered input kept until acknowledged, output
// applied once and in order, Sync and resume after a dropped WebSocket. Pure — no DOM, no
// sockets, no timers: the caller moves the bytes, so `node --test` drives it as the browser does.

/** Message types of the client framing (§6.4). */
export const MessageType = Object.freeze({
  Input: 0, Output: 1, Resize: 2, Close: 3, Open: 4, Status: 5, Sync: 6,
});
/** Channel states of a Status frame (§6.7). */
export const ChannelState = Object.freeze({
  Initial: 0, Opening: 1, Aborted: 2, Opened: 3, Closing: 4, Closed: 5, Exited: 6, Stream: 7,
  Frozen: 8,
});

const TYPE_NAMES = ['Input', 'Output', 'Resize', 'Close', 'Open', 'Status', 'Sync'];
export const SCHEMA = '1.02';
/** The fixed part of a frame: everything but the two ids and the payload (§6.2). */
export const SKELETON_BYTES = 30;
/** A 1.02 payload length is 16 bits (§6.3). */
export const MAX_PAYLOAD = 65535;
/** Input is cut into frames of at most this much, well under the 16-bit limit. */
export const INPUT_CHUNK = 16384;
/** Inputs kept for resending at most: past it the oldest go (a resume may then lose them). */
export const MAX_PENDING = 4096;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

/** The name of a message type, or `Type<n>` for one the framing does not define. */
export function typeName(type) {
  return TYPE_NAMES[type] ?? `Type${type}`;
}

/** Encodes one 1.02 frame. Throws only on the caller's own mistakes (ids or payload too long). */
export function encodeFrame({
  type, channelId = '', instanceId = '', created = Date.now(), inputSeq = 0, outputSeq = 0,
  payload = new Uint8Array(0),
}) {
  const id1 = encoder.encode(channelId);
  const id2 = encoder.encode(instanceId);
  if (id1.length > 255 || id2.length > 255) throw new RangeError('an id is longer than 255 bytes');
  if (payload.length > MAX_PAYLOAD) throw new RangeError('a 1.02 payload is at most 65535 bytes');
  const bytes = new Uint8Array(SKELETON_BYTES + id1.length + id2.length + payload.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, type, true);
  bytes.set(encoder.encode(SCHEMA), 4);
  bytes[8] = id1.length;
  bytes.set(id1, 9);
  bytes[9 + id1.length] = id2.length;
  bytes.set(id2, 10 + id1.length);
  const b = 10 + id1.length + id2.length;
  view.setBigUint64(b, BigInt(Math.max(0, Math.trunc(created))), true);
  view.setUint32(b + 8, inputSeq >>> 0, true);
  view.setUint32(b + 12, outputSeq >>> 0, true);
  view.setUint16(b + 16, payload.length, true);
  // b + 18: encoding 0 (raw); b + 19: reserved 0 — already zero.
  bytes.set(payload, b + 20);
  return bytes;
}

/** The bytes of a WebSocket message, or null when it is no kind of message. */
function asBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  // The gateway reads text messages like binary ones (§6.3); so does this reader.
  if (typeof data === 'string') return encoder.encode(data);
  return null;
}

/**
 * Decodes one frame in the 1.02 layout, whatever its schema field says (as the web client does:
 * a 1.01 frame reads with its 8-byte sequence split in two and its payload in the same place).
 * Never throws: returns `{ frame }` or `{ error }`.
 */
export function decodeFrame(data) {
  const bytes = asBytes(data);
  if (bytes === null) return { error: 'not a binary message' };
  if (bytes.length < 10) return { error: `a frame of ${bytes.length} bytes is too short` };
  const l1 = bytes[8];
  if (9 + l1 >= bytes.length) return { error: 'the first id runs past the frame' };
  const l2 = bytes[9 + l1];
  if (bytes.length < SKELETON_BYTES + l1 + l2) {
    return { error: `a frame of ${bytes.length} bytes is shorter than its ids allow` };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const b = 10 + l1 + l2;
  return {
    frame: {
      type: view.getUint32(0, true),
      schema: String.fromCharCode(...bytes.subarray(4, 8)),
      channelId: decoder.decode(bytes.subarray(9, 9 + l1)),
      instanceId: decoder.decode(bytes.subarray(10 + l1, b)),
      created: Number(view.getBigUint64(b, true)),
      inputSeq: view.getUint32(b + 8, true),
      outputSeq: view.getUint32(b + 12, true),
      declaredLength: view.getUint16(b + 16, true),
      encoding: bytes[b + 18],
      // The payload is the rest of the message, whatever the length field says (§6.3).
      payload: bytes.subarray(b + 20),
    },
  };
}

/** A Resize payload: rows then cols, each i16 LE (§6.5). */
export function resizePayload(rows, cols) {
  const bytes = new Uint8Array(4);
  const view = new DataView(bytes.buffer);
  view.setInt16(0, rows, true);
  view.setInt16(2, cols, true);
  return bytes;
}

/** A Status payload: `{ state, reason }`, or `{ state, rate }` for Stream (§6.7), or `{ error }`. */
export function parseStatus(payload) {
  if (!payload || payload.length === 0) return { error: 'an empty Status' };
  const state = payload[0];
  if (state === ChannelState.Stream) {
    let rate = 0;
    for (const byte of payload.subarray(1, 5)) rate = rate * 256 + byte;
    return { state, rate };
  }
  return { state, reason: decoder.decode(payload.subarray(1)) };
}

/**
 * What the banner says for each Status 5 reason (§7.2), each refusal of a reconnect (§6.1, which
 * the console passes on as the reason of a 4403 close) and the console's own ends.
 */
const ENDINGS = {
  Exit: 'the shell exited',
  SessionEnded: 'ended by EndTerminalSession',
  AgentTimeout: 'idle timeout',
  AgentSocketClosed: 'agent lost',
  AgentNotOnline: 'agent not online',
  InstanceNotRunning: 'instance stopped',
  GatewayShutdown: 'gateway shut down',
  KickRefused: 'agent busy (kick refused)',
  OutputLost: 'output lost (no longer kept by the gateway)',
  SyncStorm: 'sync storm',
  FlowExceedLimit: 'flow limit exceeded',
  InitChannelFailed: 'the agent could not start the channel',
  OpenChannelFailed: 'the agent could not open the data channel',
  SessionIdDuplicated: 'duplicate session id',
  ProcessDataError: 'the agent could not process the data',
  OpenPtyFailed: 'the agent could not open a terminal',
  KeyExchangeFailed: 'key exchange failed',
  UrlExpired: 'the session URL expired',
  InvalidToken: 'the session token was refused',
  ChannelNotFound: 'the connection is gone',
  // The console's own close reasons (close code 4401): its sign-in ended.
  SignedOut: 'signed out',
  ConsoleSessionExpired: 'the console sign-in expired',
};

/** The banner text of an ended session: `Session ended: <why>`. Unknown reasons show verbatim. */
export function endedText(reason) {
  const why = ENDINGS[reason] ?? (reason ? String(reason) : 'connection closed');
  return `Session ended: ${why}`;
}
