import { api } from '../api.js';
import { clear, h, route, table } from '../dom.js';
import { entity } from '../entity.js';
import * as format from '../format.js';

const FILTERS = [['actor', 'Actor', 'alice'], ['action', 'Action', 'item.enqueue'], ['object', 'Object', 'an item id, a user, project/job']];
const PAGE = 100;

/**
 * The entity's audit log (GET /api/v1/audit, which only its admins may read), newest first, filtered by actor, action,
 * object and time. The filters are kept in the address; Older pages on with the server's cursor.
 */
export async function auditPage(ctx) {
  ctx.title(`Audit · ${entity()}`);
  const inputs = new Map(FILTERS.map(([key, , placeholder]) =>
    [key, h('input', { id: `audit-${key}`, name: key, value: ctx.query.get(key) ?? '', placeholder, autocomplete: 'off' })]));
  const since = h('input', { id: 'audit-since', name: 'since', type: 'datetime-local', step: 1, value: local(ctx.query.get('since')) });
  const until = h('input', { id: 'audit-until', name: 'until', type: 'datetime-local', step: 1, value: local(ctx.query.get('until')) });
  const error = h('p', { class: 'errors', id: 'audit-error', hidden: true, role: 'alert' });
  const rows = h('div', { id: 'audit-entries' });
  const older = h('button', { type: 'button', id: 'audit-older', hidden: true, onclick: () => load(cursor) }, 'Older entries');
  let cursor = null;
  let shown = [];

  clear(ctx.main,
    h('h1', {}, `Audit log of ${entity()}`),
    h('form', { class: 'toolbar', 'aria-label': 'Filter the audit log', onsubmit: apply },
      FILTERS.map(([key, label]) => h('div', {}, h('label', { for: `audit-${key}` }, label), inputs.get(key))),
      h('div', {}, h('label', { for: 'audit-since' }, 'Since'), since),
      h('div', {}, h('label', { for: 'audit-until' }, 'Until'), until),
      h('button', { type: 'submit', class: 'primary' }, 'Filter')),
    error,
    rows,
    h('div', { class: 'pager' }, older));
  await load(null);

  /** The filters as the address and the API take them: exact names, and times in UTC. */
  function filters() {
    const query = new URLSearchParams();
    for (const [key, input] of inputs) {
      if (input.value.trim()) {
        query.set(key, input.value.trim());
      }
    }
    for (const [key, input] of [['since', since], ['until', until]]) {
      if (input.value) {
        query.set(key, new Date(input.value).toISOString());
      }
    }
    return query;
  }

  function apply(event) {
    event.preventDefault();
    // A new address is a new page: hashchange renders it with these filters.
    location.hash = route(['audit'], filters());
  }

  async function load(from) {
    const query = new URLSearchParams(ctx.query);
    query.delete('entity');
    query.set('limit', PAGE);
    if (from) {
      query.set('cursor', from);
    }
    let page;
    try {
      page = await api(`/api/v1/audit?${query}`, { signal: ctx.signal });
    } catch (e) {
      error.textContent = Object.entries(e.errors ?? {}).map(([field, messages]) => `${field}: ${messages.join(' ')}`).join(' ') || e.message;
      error.hidden = false;
      return;
    }
    error.hidden = true;
    shown = from ? [...shown, ...page.entries] : page.entries;
    cursor = page.next_cursor;
    older.hidden = !cursor;
    clear(rows, table(['When', 'Actor', 'Address', 'Action', 'Object', 'Outcome', 'Detail'],
      shown.map(entry => h('tr', { dataset: { entry: entry.id } },
        h('td', {}, format.time(entry.at)),
        h('td', { class: 'wrap' }, entry.actor, entry.actor_kind === 'user' ? null : h('span', { class: 'muted' }, ` (${entry.actor_kind})`)),
        h('td', { class: 'mono' }, entry.address ?? '—'),
        h('td', { class: 'mono' }, entry.action),
        h('td', { class: 'wrap mono' }, entry.object ?? '—'),
        h('td', {}, h('span', { class: `outcome outcome-${entry.outcome}` }, entry.outcome), ` ${entry.status}`),
        h('td', { class: 'wrap mono' }, entry.detail === null || entry.detail === undefined ? '—' : JSON.stringify(entry.detail)))),
      { empty: 'No entries match these filters.' }));
  }
}

/** An ISO time as a datetime-local field's value, in the browser's time zone. */
function local(iso) {
  if (!iso || Number.isNaN(Date.parse(iso))) {
    return '';
  }
  const d = new Date(iso);
  const pad = n => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
