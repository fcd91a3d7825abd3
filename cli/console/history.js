// history.js: the Sessions view of one instance — DescribeTerminalSessions (who, when, how long,
// how each connection ended and why) with a "Play recording" button on every connection the
// gateway recorded (ListTerminalSessionRecordings).

import * as api from './api.js';
import { clearError, el, formatDuration, formatTime, showError } from './ui.js';
import { Player } from './player.js';

const PAGE = 20;

/** The recording of each connection: by ConnectionId when the API names it, else by time. */
function matchRecordings(connections, recordings) {
  const left = [...recordings];
  return connections.map((c) => {
    let index = c.ConnectionId ? left.findIndex((r) => r.ConnectionId === c.ConnectionId) : -1;
    if (index < 0 && !c.ConnectionId) {
      // DescribeTerminalSessions names no connection: take the recording made closest to its start.
      const start = Date.parse(c.StartTime);
      let best = Infinity;
      left.forEach((r, i) => {
        const distance = Math.abs(Date.parse(r.CreationTime) - start);
        if (distance < best) {
          best = distance;
          index = i;
        }
      });
    }
    return index < 0 ? null : left.splice(index, 1)[0];
  });
}

/** "Terminated — ClientClosed", with the FailedDetail of a failure. */
function ending(c) {
  const live = c.Status === 'Connecting' || c.Status === 'Connected';
  if (live) return c.Status;
  const parts = [c.Status || '?'];
  if (c.ClosedReason) parts.push(c.ClosedReason);
  let text = parts.join(' — ');
  if (c.FailedDetail) text += ` (${c.FailedDetail})`;
  return text;
}

export class HistoryView {
  constructor({ region }) {
    this.region = region;
    this.tbody = document.querySelector('#history-table tbody');
    this.more = document.getElementById('history-more');
    this.player = new Player({
      host: document.getElementById('player'),
      caption: document.getElementById('player-caption'),
      speed: document.getElementById('player-speed'),
    });
    this.instanceId = null;
    this.nextToken = '';
    this.generation = 0;
    this.more.addEventListener('click', () => this.#load(false));
  }

  open(instanceId) {
    this.instanceId = instanceId;
    document.getElementById('history-instance').textContent = instanceId;
    this.tbody.replaceChildren();
    this.nextToken = '';
    this.player.reset();
    this.#load(true);
  }

  close() {
    this.generation += 1;
    this.instanceId = null;
    this.player.reset();
  }

  async #load(first) {
    const generation = ++this.generation;
    const instanceId = this.instanceId;
    this.more.disabled = true;
    try {
      const params = { RegionId: this.region(), InstanceId: instanceId, MaxResults: PAGE };
      if (!first && this.nextToken) params.NextToken = this.nextToken;
      const [answer, recordings] = await Promise.all([
        api.call('ecs', 'DescribeTerminalSessions', params),
        api.recordings({ instanceId }).catch((error) => {
          showError(error, 'recordings'); // the sessions still show, without Play buttons
          return [];
        }),
      ]);
      if (generation !== this.generation) return;
      clearError('history');
      this.nextToken = answer?.NextToken ?? '';
      for (const session of answer?.Sessions?.Session ?? []) this.#renderSession(session, recordings);
      document.getElementById('history-empty').hidden = this.tbody.childElementCount > 0;
      this.more.hidden = !this.nextToken;
    } catch (error) {
      if (generation === this.generation) showError(error, 'history');
    } finally {
      this.more.disabled = false;
    }
  }

  #renderSession(session, recordings) {
    const connections = session?.Connections?.Connection ?? [];
    const who = [session.IdentityType, session.PrincipalId].filter(Boolean).join(' ') || '—';
    const mine = recordings.filter((r) => r.SessionId === session.SessionId);
    const matched = matchRecordings(connections, mine);
    const rows = connections.length > 0 ? connections : [null];
    rows.forEach((c, i) => {
      const recording = c ? matched[i] : null;
      const play = recording
        ? el('button', {
          type: 'button',
          onclick: () => this.player.play(recording.SessionId, recording.ConnectionId),
        }, 'Play recording')
        : el('span', { class: 'muted', text: c ? 'not recorded' : '—' });
      const sessionCell = el('th', { scope: 'row' }, el('code', { text: session.SessionId }));
      if (connections.length > 1) sessionCell.append(el('span', { class: 'muted', text: ` #${i + 1}` }));
      this.tbody.append(el('tr', {},
        sessionCell,
        el('td', { text: who }),
        el('td', {}, el('time', { datetime: c?.StartTime ?? session.CreationTime, text: formatTime(c?.StartTime ?? session.CreationTime) })),
        el('td', { text: c ? formatDuration(c.StartTime, c.EndTime) : '—' }),
        el('td', { text: c ? ending(c) : 'no connection' }),
        el('td', {}, play)));
    });
  }
}
