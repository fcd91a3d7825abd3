// api.js: the console's HTTP surface as the page uses it — sign-in, the signed OpenAPI calls,
// sessions and recordings. JSON both ways; every POST carries the CSRF token the console gave
// at sign-in; a failure becomes an ApiError holding the Alibaba-style body as it came.

let csrf = '';
let onUnauthorized = () => {};

/** An API's refusal: HTTP status, `Code`, `Message`, `RequestId` and `AccessDeniedDetail`. */
export class ApiError extends Error {
  constructor(status, body, text) {
    const b = body && typeof body === 'object' ? body : {};
    // The gateway's own refusals spell their fields in lower case.
    const code = b.Code ?? b.code ?? `HTTP${status}`;
    const message = b.Message ?? b.message ?? (text || `the request failed with HTTP ${status}`);
    super(`${code}: ${message}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = String(code);
    this.apiMessage = String(message);
    this.requestId = b.RequestId ?? '';
    this.accessDenied = b.AccessDeniedDetail && typeof b.AccessDeniedDetail === 'object'
      ? b.AccessDeniedDetail
      : null;
  }
}

/** Called with the error when a request other than `/api/me` finds no console session. */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

async function request(method, path, body, { quiet401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') {
    headers['Content-Type'] = 'application/json';
    headers['X-Axt-Csrf'] = csrf;
  }
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (error) {
    throw new ApiError(0, { Code: 'ConsoleUnreachable', Message: `the console did not answer: ${error.message}` });
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, json, text.slice(0, 500));
    if (response.status === 401 && !quiet401) onUnauthorized(error);
    throw error;
  }
  return json ?? {};
}

function remember(answer) {
  csrf = typeof answer.csrf === 'string' ? answer.csrf : '';
  return answer.principal ?? {};
}

/** The signed-in principal, or null when there is no console session. */
export async function me() {
  try {
    return remember(await request('GET', '/api/me', undefined, { quiet401: true }));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

/** Signs in with an AccessKey (and an STS token when the key is temporary). */
export async function signIn(accessKeyId, accessKeySecret, securityToken) {
  const body = { accessKeyId, accessKeySecret };
  if (securityToken) body.securityToken = securityToken;
  return remember(await request('POST', '/api/signin', body, { quiet401: true }));
}

export async function signOut() {
  try {
    await request('POST', '/api/signout', {}, { quiet401: true });
  } finally {
    csrf = '';
  }
}

/** One OpenAPI call signed by the console as the principal. Parameter values go as strings. */
export function call(product, action, params = {}) {
  const strings = {};
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') strings[key] = String(value);
  }
  return request('POST', '/api/call', { product, action, params: strings });
}

/** StartTerminalSession as the principal: `{ sessionId, instanceId }`. */
export function startSession(instanceId, commandLine, username) {
  const body = { instanceId };
  if (commandLine) body.commandLine = commandLine;
  if (username) body.username = username;
  return request('POST', '/api/sessions', body);
}

/** ListTerminalSessionRecordings: `Recordings.Recording[]`. */
export async function recordings({ instanceId, sessionId } = {}) {
  const query = new URLSearchParams();
  if (instanceId) query.set('instanceId', instanceId);
  if (sessionId) query.set('sessionId', sessionId);
  const answer = await request('GET', `/api/recordings?${query}`);
  return answer?.Recordings?.Recording ?? [];
}

/** The URL of one recording's asciicast text. */
export function recordingUrl(sessionId, connectionId) {
  return `/api/recordings/${encodeURIComponent(sessionId)}/${encodeURIComponent(connectionId)}.cast`;
}

/** One recording's asciicast v2 text. */
export async function recordingText(sessionId, connectionId) {
  const response = await fetch(recordingUrl(sessionId, connectionId), {
    credentials: 'same-origin', cache: 'no-store',
  });
  const text = await response.text();
  if (!response.ok) {
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
    const error = new ApiError(response.status, json, text.slice(0, 500));
    if (response.status === 401) onUnauthorized(error);
    throw error;
  }
  return text;
}

/** The WebSocket URL of a console path, on this page's own origin. */
export function wsUrl(path) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${path}`;
}
