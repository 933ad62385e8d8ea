import { api, q } from '../api.js';
import { clear, h, table } from '../dom.js';
import { isAdmin, ROLES } from '../entity.js';
import * as format from '../format.js';
import { notify } from '../main.js';
import { serviceAccounts } from './serviceaccounts.js';

/**
 * A team: its members and their roles. The team's admins add and remove members and change roles here (the server
 * applies a change to the member's next request); viewers and members see the list read-only. Its admins also manage
 * the team's service accounts here.
 */
export async function teamPage(ctx) {
  const [name] = ctx.params;
  ctx.title(`Team ${name}`);
  const members = h('div');
  const formError = h('p', { class: 'errors', id: 'member-error', hidden: true, role: 'alert' });
  const accounts = isAdmin() ? serviceAccounts(name, () => refresh()) : null;
  clear(ctx.main,
    h('h1', {}, `Team ${name}`),
    h('section', { 'aria-labelledby': 'members-h' }, h('h2', { id: 'members-h' }, 'Members'), members),
    isAdmin() ? addForm() : h('p', { class: 'muted', id: 'members-readonly' }, 'Only the team\'s admins change its members and roles.'),
    accounts?.section);

  // What is drawn, to redraw only on a change.
  let drawn = null;
  /**
   * Reads the team (and its service accounts) and draws them. The periodic reload redraws only what changed, and not
   * while a control of the page has focus: redrawing would close a role choice someone has open or empty a field.
   */
  const refresh = async (periodic = false) => {
    const [team, accountList] = await Promise.all([
      api(`/api/v1/teams/${q(name)}`, { signal: ctx.signal }),
      accounts?.load(ctx.signal) ?? null]);
    const data = JSON.stringify([team, accountList]);
    if (periodic && (data === drawn || inUse())) {
      return;
    }
    drawn = data;
    const focused = document.activeElement?.id;
    accounts?.draw(accountList);
    clear(members, table(['User', 'Role', 'Joined', isAdmin() ? h('th', { scope: 'col' }, h('span', { class: 'muted' }, 'Actions')) : null].filter(Boolean),
      team.members.map(m => h('tr', { dataset: { member: m.user } },
        h('td', { class: 'wrap' }, m.user),
        h('td', {}, isAdmin() ? roleSelect(m) : m.role),
        h('td', {}, format.time(m.joined_at)),
        isAdmin() ? h('td', {}, h('button', { type: 'button', class: 'danger', id: `remove-${m.user}`, 'aria-label': `Remove ${m.user}`, onclick: () => remove(m.user) }, 'Remove')) : null)),
      { empty: 'This team has no members.' }));
    if (focused && document.activeElement === document.body) {
      document.getElementById(focused)?.focus();
    }
  };

  function roleSelect(member) {
    const select = h('select', { id: `role-${member.user}`, 'aria-label': `Role of ${member.user}`, onchange: () => setRole(member.user, select.value, select) },
      ROLES.map(r => h('option', { value: r, selected: r === member.role }, r)));
    return select;
  }

  function addForm() {
    const user = h('input', { id: 'member-user', name: 'user', autocomplete: 'off', required: true });
    const role = h('select', { id: 'member-role' }, ROLES.map(r => h('option', { value: r, selected: r === 'member' }, r)));
    return h('form', { class: 'toolbar', 'aria-labelledby': 'add-h', onsubmit: async event => {
      event.preventDefault();
      if (await setRole(user.value.trim(), role.value, null)) {
        user.value = '';
      }
    } },
    h('h2', { id: 'add-h' }, 'Add a member'),
    h('div', {}, h('label', { for: 'member-user' }, 'User'), user),
    h('div', {}, h('label', { for: 'member-role' }, 'Role'), role),
    h('button', { type: 'submit', class: 'primary', id: 'add-member' }, 'Add'),
    formError);
  }

  async function setRole(user, role, select) {
    formError.hidden = true;
    if (!user) {
      return showError(new Error('Name the user to add.'));
    }
    try {
      await api(`/api/v1/teams/${q(name)}/members/${q(user)}`, { method: 'PUT', body: { role } });
      notify(`${user} is now a ${role} of ${name}.`);
      await refresh();
      return true;
    } catch (error) {
      showError(error);
      // A refused change (the team's last admin, say) leaves the role as it was.
      await refresh();
      select?.focus();
      return false;
    }
  }

  async function remove(user) {
    try {
      await api(`/api/v1/teams/${q(name)}/members/${q(user)}`, { method: 'DELETE' });
      notify(`${user} is no longer a member of ${name}.`);
    } catch (error) {
      showError(error);
    }
    await refresh();
  }

  function showError(error) {
    const message = Object.values(error.errors ?? {}).flat().join(' ') || error.message;
    if (isAdmin()) {
      formError.textContent = message;
      formError.hidden = false;
    }
    notify(message, true);
    return false;
  }

  function inUse() {
    const active = document.activeElement;
    return active !== null && ctx.main.contains(active) && active.matches('input, select, textarea, button');
  }

  await refresh();
  ctx.every(5000, () => refresh(true));
}
