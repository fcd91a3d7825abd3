// instances.js: the Instances view — DescribeInstances (simulated and managed instances alike)
// joined with DescribeCloudAssistantStatus for the agent's online state and version, refreshed
// every 5 s. Rows are updated in place, so a refresh never takes the focus from a button.

import * as api from './api.js';
import { clearError, el, showError } from './ui.js';
import { ConnectDialog } from './connect.js';

const REFRESH_MS = 5000;
/** DescribeCloudAssistantStatus pages at most 50; DescribeInstances at most 100. */
const STATUS_PAGE = 50;
const INSTANCE_PAGE = 100;

export class InstancesView {
  constructor({ region, onConnect, onHistory }) {
    this.region = region;
    this.onHistory = onHistory;
    this.tbody = document.querySelector('#instances-table tbody');
    this.rows = new Map(); // instance id → { tr, cells }
    this.timer = null;
    this.running = false;
    this.generation = 0;
    this.inFlight = false;
    this.again = false;
    this.dialog = new ConnectDialog({ onStarted: onConnect });
  }

  start() {
    this.stop();
    this.running = true;
    this.generation += 1;
    this.rows.clear();
    this.tbody.replaceChildren();
    this.refresh(this.generation);
  }

  stop() {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = null;
  }

  /** Refreshes now rather than at the next tick (after a session ended, say). */
  refreshSoon() {
    if (!this.running) return;
    clearTimeout(this.timer);
    this.refresh(this.generation);
  }

  async #pages(action, params, pageSize, listOf) {
    const all = [];
    for (let page = 1; page <= 20; page += 1) {
      const answer = await api.call('ecs', action, { ...params, PageSize: pageSize, PageNumber: page });
      const items = listOf(answer);
      all.push(...items);
      const total = Number(answer?.TotalCount ?? 0);
      if (items.length < pageSize || all.length >= total) break;
    }
    return all;
  }

  async refresh(generation) {
    if (!this.running || generation !== this.generation) return;
    if (this.inFlight) {
      this.again = true; // one chain of refreshes at a time
      return;
    }
    this.inFlight = true;
    this.again = false;
    clearTimeout(this.timer);
    const region = this.region();
    try {
      const instances = await this.#pages('DescribeInstances', { RegionId: region }, INSTANCE_PAGE,
        (a) => a?.Instances?.Instance ?? []);
      let statuses = null;
      try {
        const list = await this.#pages('DescribeCloudAssistantStatus', { RegionId: region },
          STATUS_PAGE, (a) => a?.InstanceCloudAssistantStatusSet?.InstanceCloudAssistantStatus ?? []);
        statuses = new Map(list.map((s) => [s.InstanceId, s]));
        clearError('assistant');
      } catch (error) {
        // The list still shows; the denial of the status call says why "Unknown".
        showError(error, 'assistant');
      }
      if (this.running && generation === this.generation) {
        this.#render(instances, statuses);
        clearError('instances');
      }
    } catch (error) {
      if (this.running && generation === this.generation) showError(error, 'instances');
    } finally {
      this.inFlight = false;
      this.#schedule(generation);
    }
  }

  #schedule(generation) {
    if (!this.running) return;
    if (this.again || generation !== this.generation) {
      // A refresh asked for while this one ran (a restart, or refreshSoon) runs now.
      this.refresh(this.generation);
    } else if (!document.hidden) {
      this.timer = setTimeout(() => this.refresh(generation), REFRESH_MS);
    } else {
      // A hidden tab polls nothing; it picks up again when shown.
      document.addEventListener('visibilitychange', () => this.refresh(generation), { once: true });
    }
  }

  #render(instances, statuses) {
    const seen = new Set();
    for (const instance of instances) {
      const id = instance.InstanceId;
      if (!id || seen.has(id)) continue;
      seen.add(id);
      const known = this.rows.get(id);
      const row = known ?? this.#newRow(id);
      const status = statuses?.get(id);
      const online = status ? String(status.CloudAssistantStatus) === 'true' : null;
      row.cells.name.textContent = instance.InstanceName ?? '';
      row.cells.state.textContent = instance.Status ?? '';
      row.cells.online.textContent = online === null ? 'Unknown' : online ? 'Online' : 'Offline';
      row.cells.online.className = online ? 'online' : online === false ? 'offline' : '';
      row.cells.version.textContent = status?.CloudAssistantVersion || '—';
      // New rows go at the end; a row is never moved, as moving a node takes its focus away.
      if (!known) this.tbody.append(row.tr);
    }
    for (const [id, row] of this.rows) {
      if (!seen.has(id)) {
        row.tr.remove();
        this.rows.delete(id);
      }
    }
    document.getElementById('instances-empty').hidden = this.rows.size > 0;
  }

  #newRow(id) {
    const cells = {
      name: el('td'),
      state: el('td'),
      online: el('td'),
      version: el('td'),
    };
    const connect = el('button', {
      type: 'button', 'aria-label': `Connect to ${id}`, onclick: () => this.dialog.open(id, this.region()),
    }, 'Connect');
    const history = el('button', {
      type: 'button', class: 'secondary', 'aria-label': `History of ${id}`, onclick: () => this.onHistory(id),
    }, 'History');
    const tr = el('tr', { 'data-instance-id': id },
      el('th', { scope: 'row' }, el('code', { text: id })),
      cells.name, cells.state, cells.online, cells.version,
      el('td', { class: 'actions' }, connect, ' ', history));
    const row = { tr, cells };
    this.rows.set(id, row);
    return row;
  }
}
