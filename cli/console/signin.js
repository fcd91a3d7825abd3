// signin.js: the sign-in form. The key goes to the console once, over its own origin; the
// console checks it with GetCallerIdentity and keeps it server-side behind an HttpOnly cookie.

import * as api from './api.js';
import { clearError, showError } from './ui.js';

/** Wires the form; `onSignedIn(principal)` runs when the console accepted the key. */
export function initSignin({ onSignedIn }) {
  const form = document.getElementById('signin-form');
  const button = document.getElementById('signin-button');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const id = String(data.get('accessKeyId') ?? '').trim();
    const secret = String(data.get('accessKeySecret') ?? '');
    const token = String(data.get('securityToken') ?? '').trim();
    if (!id || !secret) return;
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    clearError();
    try {
      const principal = await api.signIn(id, secret, token);
      onSignedIn(principal);
    } catch (error) {
      showError(error, 'signin');
      document.getElementById('ak-secret').select();
    } finally {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  });
}
