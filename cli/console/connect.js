// connect.js: the Connect dialog — optional Command line and Username, then StartTerminalSession
// through the console (which keeps the session's WebSocketUrl and token to itself). A native
// <dialog> opened modally: focus moves into it, Escape closes it, focus returns to the button.

import * as api from './api.js';
import { clearError, showError } from './ui.js';

export class ConnectDialog {
  constructor({ onStarted }) {
    this.onStarted = onStarted;
    this.dialog = document.getElementById('connect-dialog');
    this.form = document.getElementById('connect-form');
    this.openButton = document.getElementById('connect-open');
    this.instanceId = '';
    this.returnFocus = null;
    this.busy = false;
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.#start();
    });
    document.getElementById('connect-cancel').addEventListener('click', () => this.close());
    this.dialog.addEventListener('close', () => {
      if (this.returnFocus?.isConnected) this.returnFocus.focus();
      this.returnFocus = null;
    });
  }

  open(instanceId) {
    this.instanceId = instanceId;
    this.returnFocus = document.activeElement;
    document.getElementById('connect-title').textContent = `Connect to ${instanceId}`;
    this.form.reset();
    this.dialog.showModal();
    document.getElementById('connect-command').focus();
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  async #start() {
    if (this.busy) return;
    this.busy = true;
    this.openButton.disabled = true;
    const commandLine = document.getElementById('connect-command').value.trim();
    const username = document.getElementById('connect-username').value.trim();
    try {
      const started = await api.startSession(this.instanceId, commandLine, username);
      clearError();
      this.returnFocus = null; // the terminal takes the focus
      this.close();
      this.onStarted(this.instanceId, {
        sessionId: started.sessionId ?? started.SessionId,
        commandLine,
        username,
      });
    } catch (error) {
      // The page behind a modal dialog is inert: the alert shows once the dialog is closed.
      this.close();
      showError(error, 'connect');
    } finally {
      this.busy = false;
      this.openButton.disabled = false;
    }
  }
}
