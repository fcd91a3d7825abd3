'use strict';
// The Node Tea SDKs never use a proxy: @darabonba/typescript's doAction hands httpx neither
// Config.httpsProxy nor HTTPS_PROXY, and httpx connects through its own https.Agent. Reaching
// the lab by the public names is then the process's business, as it is for any unmodified
// program behind a proxy (a preloaded proxy agent): here every https.Agent tunnels through an
// HTTP CONNECT proxy. And no name is resolved while it is in place, so that a client which went
// around it fails at once instead of reaching out. Not a test file.

const dns = require('node:dns');
const https = require('node:https');
const net = require('node:net');
const tls = require('node:tls');

const HEAD_LIMIT = 16 * 1024;

const isLoopback = (host) => host === 'localhost' || (net.isIP(host) !== 0 && /^(127\.|::1$)/.test(host));

/** Opens a CONNECT tunnel to host:port through `proxy` (a URL); `callback(error, socket)`. */
function connectThrough(proxy, host, port, callback) {
  const socket = net.connect({ host: proxy.hostname, port: Number(proxy.port) });
  let head = Buffer.alloc(0);
  const fail = (error) => {
    socket.destroy();
    callback(error);
  };
  const onData = (chunk) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) {
      if (head.length > HEAD_LIMIT) fail(new Error(`the proxy's answer to CONNECT ${host}:${port} has no end`));
      return;
    }
    socket.removeListener('data', onData);
    socket.removeListener('error', fail);
    socket.pause();
    const answer = head.subarray(0, end).toString('latin1');
    if (!/^HTTP\/1\.[01] 200 /.test(answer)) {
      fail(new Error(`the proxy refused CONNECT ${host}:${port}: ${answer.split('\r\n')[0]}`));
    } else if (end + 4 !== head.length) {
      // A TLS server speaks second: bytes before the ClientHello are not its.
      fail(new Error(`the proxy sent bytes after its answer to CONNECT ${host}:${port}`));
    } else {
      callback(null, socket);
    }
  };
  socket.once('error', fail);
  socket.on('data', onData);
  socket.once('connect', () => socket.write(`CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`));
}

/** Makes every name lookup of this process fail, until the function returned is called. */
function refuseLookups() {
  const lookup = dns.lookup;
  dns.lookup = function refused(hostname, ...rest) {
    const callback = rest[rest.length - 1];
    const error = Object.assign(new Error(`${hostname}: only loopback is reached in these tests`), { code: 'ENOTFOUND', hostname });
    process.nextTick(callback, error);
  };
  return () => { dns.lookup = lookup; };
}

/** Makes every https.Agent of this process tunnel through `proxyUrl` (loopback excepted) and
 * refuses every name lookup, until `uninstall()`. `targets` lists each host:port tunnelled to. */
function install(proxyUrl) {
  const proxy = new URL(proxyUrl);
  const targets = [];
  const createConnection = https.Agent.prototype.createConnection;

  // The Agent passes every TLS option of the request (ca, servername, …) here, and takes the
  // socket through the callback when none is returned.
  https.Agent.prototype.createConnection = function tunnelled(options, oncreate) {
    if (isLoopback(options.host)) return createConnection.call(this, options, oncreate);
    targets.push(`${options.host}:${options.port}`);
    connectThrough(proxy, options.host, options.port, (error, socket) => {
      if (error) return oncreate(error);
      return oncreate(null, tls.connect({ ...options, socket, servername: options.servername || options.host }));
    });
    return undefined;
  };
  const allowLookups = refuseLookups();
  return {
    targets,
    uninstall() {
      https.Agent.prototype.createConnection = createConnection;
      allowLookups();
    },
  };
}

module.exports = { install, refuseLookups };
