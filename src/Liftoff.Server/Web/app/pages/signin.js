import { api } from '../api.js';
import { clear, h } from '../dom.js';
import { signedIn } from '../main.js';

export async function signInPage(ctx) {
  ctx.title('Sign in');
  const error = h('p', { class: 'errors', id: 'signin-error', hidden: true });
  const key = h('input', { id: 'key', name: 'key', type: 'password', autocomplete: 'off', required: true, 'aria-describedby': 'key-hint signin-error' });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'signin', onsubmit: submit },
    h('h1', {}, 'Sign in to Liftoff'),
    h('div', { class: 'field' },
      h('label', { for: 'key' }, 'API key'),
      key,
      h('p', { class: 'hint', id: 'key-hint' }, 'The key liftoff up printed, or one from liftoff keys create. It is sent once; the browser keeps only a session cookie.')),
    error,
    h('div', { class: 'actions' }, button));
  clear(ctx.main, form);
  key.focus();

  async function submit(event) {
    event.preventDefault();
    button.disabled = true;
    error.hidden = true;
    try {
      const session = await api('/web/session', { method: 'POST', body: { key: key.value } });
      key.value = '';
      await signedIn(session);
      const next = ctx.query.get('next');
      location.hash = next && next.startsWith('#/') && !next.startsWith('#/signin') ? next : '#/';
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
      key.setAttribute('aria-invalid', 'true');
      key.focus();
    } finally {
      button.disabled = false;
    }
  }
}
