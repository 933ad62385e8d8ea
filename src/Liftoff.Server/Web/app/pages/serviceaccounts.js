import { api, q } from '../api.js';
import { clear, h, table } from '../dom.js';
import { ROLES } from '../entity.js';
import * as format from '../format.js';
import { notify } from '../main.js';

/**
 * The "Service accounts" section of a team's page, for its admins only (the API refuses everyone else): each account
 * with its role and keys, and forms to create an account, create a key for one and revoke or delete. A new key's secret
 * is shown once in a read-only field and kept nowhere else: not in a variable of this module, not in the address.
 * `changed` reloads the page's data after an action.
 */
export function serviceAccounts(team, changed) {
  const base = `/api/v1/teams/${q(team)}/service-accounts`;
  const list = h('div', { id: 'sa-list' });
  const error = h('p', { class: 'errors', id: 'sa-error', hidden: true, role: 'alert' });
  const shownKey = h('div', { id: 'sa-new-key', hidden: true });
  const keyAccount = h('select', { id: 'key-account', required: true });

  const section = h('section', { id: 'service-accounts', 'aria-labelledby': 'sa-h' },
    h('h2', { id: 'sa-h' }, 'Service accounts'),
    h('p', { class: 'muted' }, `Identities of ${team} for agents and CI: they act in this team only, with their role.`),
    list,
    shownKey,
    error,
    accountForm(),
    keyForm());

  function accountForm() {
    const name = h('input', { id: 'sa-name', name: 'name', autocomplete: 'off', required: true });
    const role = h('select', { id: 'sa-role' }, ROLES.map(r => h('option', { value: r, selected: r === 'member' }, r)));
    return h('form', { class: 'toolbar', 'aria-labelledby': 'sa-create-h', onsubmit: async event => {
      event.preventDefault();
      const account = name.value.trim();
      if (await act(() => api(base, { method: 'POST', body: { name: account, role: role.value } }), `Service account ${account} created.`)) {
        name.value = '';
        keyAccount.value = account;
      }
    } },
    h('h3', { id: 'sa-create-h' }, 'Create a service account'),
    h('div', {}, h('label', { for: 'sa-name' }, 'Name'), name),
    h('div', {}, h('label', { for: 'sa-role' }, 'Role'), role),
    h('button', { type: 'submit', class: 'primary', id: 'sa-create' }, 'Create account'));
  }

  function keyForm() {
    const name = h('input', { id: 'key-name', name: 'key-name', autocomplete: 'off', placeholder: 'optional' });
    const queues = h('input', { id: 'key-queues', name: 'queues', autocomplete: 'off', placeholder: 'gpu, cpu', disabled: true });
    const agent = h('input', { type: 'checkbox', id: 'key-agent', onchange: () => { queues.disabled = !agent.checked; } });
    return h('form', { class: 'toolbar', 'aria-labelledby': 'key-create-h', onsubmit: async event => {
      event.preventDefault();
      const account = keyAccount.value;
      const body = { name: name.value.trim() || undefined };
      if (agent.checked) {
        body.agent = true;
        body.queues = queues.value.split(/[\s,]+/).filter(Boolean);
      }
      if (await act(async () => showKey(account, await api(`${base}/${q(account)}/keys`, { method: 'POST', body })), `Key created for ${account}.`)) {
        name.value = '';
      }
    } },
    h('h3', { id: 'key-create-h' }, 'Create a key'),
    h('div', {}, h('label', { for: 'key-account' }, 'Account'), keyAccount),
    h('div', {}, h('label', { for: 'key-name' }, 'Key name'), name),
    h('div', {}, h('label', { for: 'key-agent' }, 'Agent-only'), agent),
    h('div', {}, h('label', { for: 'key-queues' }, 'Queues (agent-only)'), queues),
    h('button', { type: 'submit', class: 'primary', id: 'key-create' }, 'Create key'));
  }

  /** The one time a key's secret is seen: a read-only field until Done, which removes it from the page. */
  function showKey(account, created) {
    const field = h('input', { id: 'new-key', readonly: true, value: created.key, size: 50, autocomplete: 'off', spellcheck: 'false', onfocus: event => event.target.select() });
    clear(shownKey,
      h('label', { for: 'new-key' }, `New key ${created.name} of ${account}`),
      h('div', { class: 'toolbar' }, field,
        h('button', { type: 'button', id: 'new-key-done', onclick: () => { clear(shownKey); shownKey.hidden = true; } }, 'Done')),
      h('p', { class: 'muted', id: 'new-key-hint' }, 'Copy this key now (select it and copy): it is not shown again.'));
    shownKey.hidden = false;
    field.focus();
  }

  /** Runs one change; a refusal is shown with the field it names. Reloads the section either way. */
  async function act(call, done) {
    error.hidden = true;
    try {
      await call();
      notify(done);
      return true;
    } catch (failure) {
      error.textContent = Object.values(failure.errors ?? {}).flat().join(' ') || failure.message;
      error.hidden = false;
      notify(error.textContent, true);
      return false;
    } finally {
      await changed();
    }
  }

  function accountBlock(account) {
    const path = `${base}/${q(account.name)}`;
    const remove = h('span', {});
    const askDelete = () => {
      const sure = h('button', { type: 'button', class: 'danger', id: `confirm-delete-${account.name}`, onclick: () =>
        act(() => api(path, { method: 'DELETE' }), `Service account ${account.name} deleted; its keys are revoked.`) }, `Delete ${account.name}`);
      clear(remove, `Delete ${account.name} and revoke all its keys? `, sure, ' ',
        h('button', { type: 'button', id: `keep-${account.name}`, onclick: () => clear(remove, deleteButton()) }, 'Keep'));
      sure.focus();
    };
    const deleteButton = () => h('button', { type: 'button', class: 'danger', id: `delete-${account.name}`, 'aria-label': `Delete service account ${account.name}`, onclick: askDelete }, 'Delete account');
    clear(remove, deleteButton());
    return h('article', { class: 'service-account', dataset: { account: account.name } },
      h('h3', {}, account.name, ' ', h('span', { class: 'muted' }, `${account.role} · created ${format.time(account.created_at)}`)),
      table(['Key', 'Created', 'Queues', 'Revoked', h('th', { scope: 'col' }, h('span', { class: 'muted' }, 'Actions'))],
        account.keys.map(key => h('tr', { dataset: { key: key.id } },
          h('td', { class: 'wrap' }, key.name, ' ', h('span', { class: 'muted' }, key.id)),
          h('td', {}, format.time(key.created_at)),
          h('td', { class: 'wrap' }, key.agent_queues ? `agent-only: ${key.agent_queues.join(', ')}` : 'full'),
          h('td', {}, key.revoked_at ? format.time(key.revoked_at) : '—'),
          h('td', {}, key.revoked_at ? null : h('button', { type: 'button', class: 'danger', id: `revoke-${key.id}`, 'aria-label': `Revoke key ${key.name} of ${account.name}`,
            onclick: () => act(() => api(`${path}/keys/${q(key.id)}`, { method: 'DELETE' }), `Key ${key.name} of ${account.name} revoked.`) }, 'Revoke')))),
        { empty: 'No keys yet.' }),
      remove);
  }

  return {
    section,
    /** The team's accounts, each with its keys (revoked ones too, with when). */
    async load(signal) {
      const { service_accounts: accounts } = await api(base, { signal });
      return Promise.all(accounts.map(async account => ({ ...account, keys: (await api(`${base}/${q(account.name)}/keys`, { signal })).keys })));
    },
    draw(accounts) {
      clear(list, accounts.length ? accounts.map(accountBlock) : h('p', { class: 'empty' }, 'This team has no service accounts.'));
      const chosen = keyAccount.value;
      clear(keyAccount, accounts.map(a => h('option', { value: a.name, selected: a.name === chosen }, a.name)));
    },
  };
}
