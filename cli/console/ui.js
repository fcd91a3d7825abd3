// ui.js: small DOM helpers shared by the views, and the one error alert of the page: an API's
// refusal shown with its Code, Message and AccessDeniedDetail, so a denied principal sees why.

/** Creates an element: `el('td', { class: 'x', 'aria-label': 'y' }, child, 'text', …)`. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2), value);
    } else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** The AccessDeniedDetail fields worth showing, in this order; the rest follow. */
const DENIAL_FIELDS = ['AuthAction', 'AuthResource', 'NoPermissionType', 'PolicyType',
  'AuthPrincipalType', 'AuthPrincipalDisplayName', 'AuthPrincipalOwnerId'];

let current = null; // { source, node, key }

/**
 * Shows `error` in the page's alert (one at a time: a new error replaces the old). `source`
 * names what failed, so that its next success can clear it (`clearError(source)`).
 */
export function showError(error, source = 'action') {
  const host = document.getElementById('alerts');
  if (!host) return;
  const code = error?.code ?? 'Error';
  const message = error?.apiMessage ?? error?.message ?? String(error);
  // The same refusal again (a poll that keeps being denied) leaves the alert as it is: no
  // second announcement, and an opened diagnostic stays open.
  const key = `${source}\n${code}\n${message}`;
  if (current?.key === key && current.node.isConnected) return;
  const parts = [
    el('p', { class: 'alert-head' }, el('strong', { text: code }), ': ', el('span', { text: message })),
  ];
  const denial = error?.accessDenied;
  if (denial) {
    const keys = [...DENIAL_FIELDS.filter((k) => k in denial),
      ...Object.keys(denial).filter((k) => !DENIAL_FIELDS.includes(k) && k !== 'EncodedDiagnosticMessage')];
    const list = el('dl', { class: 'denial' });
    for (const key of keys) list.append(el('dt', { text: key }), el('dd', { text: String(denial[key]) }));
    parts.push(list);
    if (denial.EncodedDiagnosticMessage) {
      parts.push(el('details', {}, el('summary', { text: 'EncodedDiagnosticMessage' }),
        el('code', { class: 'diagnostic', text: String(denial.EncodedDiagnosticMessage) })));
    }
  }
  if (error?.requestId) parts.push(el('p', { class: 'request-id', text: `RequestId ${error.requestId}` }));
  const dismiss = el('button', { type: 'button', class: 'dismiss', onclick: () => clearError() }, 'Dismiss');
  const node = el('div', { role: 'alert', class: 'alert' }, ...parts, dismiss);
  host.replaceChildren(node);
  current = { source, node, key };
}

/** Clears the alert; with a `source`, only the alert that source raised. */
export function clearError(source) {
  if (!current || (source && current.source !== source)) return;
  current.node.remove();
  current = null;
}

/** `2026-11-30 21:00:03` in local time, or '' for no time. */
export function formatTime(iso) {
  if (!iso) return '';
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return String(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
}

/** `1 h 2 min`, `3 min 4 s`, `5 s` between two ISO times. */
export function formatDuration(startIso, endIso) {
  const start = Date.parse(startIso);
  const end = endIso ? Date.parse(endIso) : Date.now();
  if (Number.isNaN(start) || Number.isNaN(end)) return '';
  const s = Math.max(0, Math.round((end - start) / 1000));
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${s} s`;
}

/** Adds a stylesheet once (xterm's and the player's are loaded with their scripts, not before). */
export function ensureStylesheet(href) {
  if (document.querySelector(`link[rel="stylesheet"][href="${href}"]`)) return;
  document.head.append(el('link', { rel: 'stylesheet', href }));
}

/** Loads a classic script once; resolves when it ran. */
const scripts = new Map();
export function loadScript(src) {
  if (!scripts.has(src)) {
    scripts.set(src, new Promise((resolve, reject) => {
      const node = el('script', { src });
      node.addEventListener('load', resolve);
      node.addEventListener('error', () => {
        scripts.delete(src);
        reject(new Error(`could not load ${src}`));
      });
      document.head.append(node);
    }));
  }
  return scripts.get(src);
}
