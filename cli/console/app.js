// app.js: the console's entry point — which view shows, who is signed in, the region, and the
// hooks the browser tests use (`window.axtConsole`). Only what the sign-in page needs loads with
// it: xterm and the player are imported when a terminal or a recording is first opened.

import * as api from './api.js';
import { clearError, showError } from './ui.js';
import { initSignin } from './signin.js';
import { InstancesView } from './instances.js';
import { HistoryView } from './history.js';
import { SessionView } from './session-view.js';

const VIEWS = ['loading', 'signin', 'instances', 'session', 'history'];
const REGION_KEY = 'axtConsole.region';
const DEFAULT_REGION = 'cn-hangzhou';

const state = { principal: null, view: 'loading' };
const $ = (id) => document.getElementById(id);

function region() {
  return $('region').value || DEFAULT_REGION;
}

/** Shows one view and moves focus to its heading, so keyboard and screen-reader users follow. */
function show(name, { focus = true } = {}) {
  if (state.view === 'instances' && name !== 'instances') instances.stop();
  if (state.view === 'session' && name !== 'session') session.close();
  if (state.view === 'history' && name !== 'history') historyView.close();
  state.view = name;
  for (const view of VIEWS) $(`view-${view}`).hidden = view !== name;
  $('nav-instances').toggleAttribute('aria-current', name === 'instances');
  if (focus) {
    const heading = $(`view-${name}`).querySelector('h1');
    if (heading) {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: false });
    }
  }
}

const instances = new InstancesView({
  region,
  onConnect: (instanceId, started) => openSession(instanceId, started),
  onHistory: (instanceId) => openHistory(instanceId),
});
const historyView = new HistoryView({ region });
const session = new SessionView({
  region,
  principal: () => state.principal,
  onEnded: () => instances.refreshSoon(),
});

function openSession(instanceId, started) {
  show('session', { focus: false });
  session.open({ instanceId, sessionId: started.sessionId });
}

function openHistory(instanceId) {
  show('history');
  historyView.open(instanceId);
}

function showInstances() {
  show('instances');
  instances.start();
}

async function loadRegions() {
  const select = $('region');
  const saved = localStorage.getItem(REGION_KEY) || DEFAULT_REGION;
  let ids = [saved];
  try {
    const answer = await api.call('ecs', 'DescribeRegions', { RegionId: saved });
    const listed = (answer?.Regions?.Region ?? []).map((r) => r.RegionId).filter(Boolean);
    if (listed.length > 0) ids = listed.includes(saved) ? listed : [saved, ...listed];
  } catch (error) {
    // A principal that may not list regions still works in the default one.
    if (!(error instanceof api.ApiError) || error.status !== 403) showError(error, 'regions');
  }
  select.replaceChildren(...ids.map((id) => new Option(id, id, id === saved, id === saved)));
}

async function signedIn(principal) {
  state.principal = principal;
  $('principal').textContent = principal.arn ?? principal.Arn ?? '(unknown principal)';
  $('account').hidden = false;
  await loadRegions();
  showInstances();
}

function signedOut() {
  state.principal = null;
  $('account').hidden = true;
  show('signin', { focus: false });
  $('ak-id').focus();
}

async function signOut() {
  clearError();
  try {
    await api.signOut();
  } catch (error) {
    showError(error, 'signout');
  }
  signedOut();
}

function wire() {
  initSignin({
    onSignedIn: (principal) => {
      clearError();
      $('signin-form').reset();
      signedIn(principal);
    },
  });
  $('signout').addEventListener('click', signOut);
  $('nav-instances').addEventListener('click', () => {
    clearError();
    showInstances();
  });
  $('region').addEventListener('change', () => {
    localStorage.setItem(REGION_KEY, region());
    clearError();
    showInstances();
  });
  api.setUnauthorizedHandler((error) => {
    if (!state.principal) return;
    signedOut();
    showError(Object.assign(error, {
      apiMessage: `${error.apiMessage} — the console session ended (sign-out, or 30 minutes idle, or 8 hours); sign in again.`,
    }), 'session');
  });
  // The hooks of the browser tests (and of curious users in the devtools console).
  window.axtConsole = {
    /** Closes the terminal's WebSocket abruptly; the page reconnects and resumes by itself. */
    dropSocket: () => session.dropSocket(),
    /** The terminal's protocol counters: applied, duplicates, gaps, resumes, resent, … */
    stats: () => session.stats(),
    /** The terminal's text, scrollback included (what a test checks for lost or doubled lines). */
    terminalText: () => session.text(),
  };
}

async function boot() {
  wire();
  try {
    const principal = await api.me();
    if (principal) await signedIn(principal);
    else signedOut();
  } catch (error) {
    signedOut();
    showError(error, 'me');
  }
}

boot();
