import { api } from '../api.js';
import { entity } from '../entity.js';
import { clear, h, link, route, stateBadge } from '../dom.js';
import * as format from '../format.js';

const PAGE = 50;
const STATES = ['pending', 'running', 'finished', 'failed', 'killed', 'crashed'];
const OPERATORS = [['=', '='], ['!=', '≠'], ['<', '<'], ['<=', '≤'], ['>', '>'], ['>=', '≥'], ['~', 'contains']];

/**
 * The runs of a project: sorted, filtered and paged by the server (GET /api/v1/runs with sort, filter, offset), so a
 * project with 10,000 runs sends one page at a time. The view is kept in the address, so back and reload keep it.
 */
export async function runsTab(ctx, project, body) {
  const view = {
    state: ctx.query.get('state') ?? '',
    sort: ctx.query.get('sort') ?? '',
    filters: ctx.query.getAll('filter'),
    job: ctx.query.get('job') ?? '',
    page: Math.max(0, Number(ctx.query.get('page') ?? 0) || 0),
  };
  const selected = new Map();
  const known = new Set();
  const columnsKey = `liftoff.columns.${entity()}/${project}`;
  let columns = JSON.parse(localStorage.getItem(columnsKey) ?? 'null');
  let last = { runs: [], total: 0 };

  const stateSelect = h('select', { id: 'state-filter', onchange: () => { view.state = stateSelect.value; view.page = 0; changed(); } },
    h('option', { value: '' }, 'any'), STATES.map(s => h('option', { value: s, selected: s === view.state }, s)));
  const fieldInput = h('input', { id: 'filter-field', list: 'run-fields', placeholder: 'config.lr', size: 18, autocomplete: 'off' });
  const fields = h('datalist', { id: 'run-fields' });
  const opSelect = h('select', { id: 'filter-op' }, OPERATORS.map(([value, text]) => h('option', { value }, text)));
  const valueInput = h('input', { id: 'filter-value', size: 12, autocomplete: 'off' });
  const filterError = h('p', { class: 'errors', id: 'filter-error', hidden: true, role: 'alert' });
  const chips = h('div', { class: 'chips', 'aria-label': 'Active filters' });
  const columnsBox = h('div', { class: 'columns' });
  const compare = h('button', { type: 'button', id: 'compare', disabled: true, onclick: () => {
    location.hash = route(['compare'], { runs: [...selected.keys()].join(',') });
  } }, 'Compare selected');
  const summaryLine = h('p', { class: 'muted', id: 'runs-count', 'aria-live': 'polite' });
  const tableHolder = h('div');
  const pager = h('div', { class: 'pager' });

  clear(body,
    h('form', { class: 'toolbar', 'aria-label': 'Filter runs', onsubmit: addFilter },
      h('div', {}, h('label', { for: 'state-filter' }, 'State'), stateSelect),
      h('div', {}, h('label', { for: 'filter-field' }, 'Filter field'), fieldInput, fields),
      h('div', {}, h('label', { for: 'filter-op' }, 'Operator'), opSelect),
      h('div', {}, h('label', { for: 'filter-value' }, 'Value'), valueInput),
      h('button', { type: 'submit' }, 'Add filter'),
      compare),
    filterError,
    chips,
    h('details', {}, h('summary', {}, 'Columns'), h('fieldset', {}, h('legend', {}, 'Config and summary columns'), columnsBox)),
    summaryLine,
    tableHolder,
    pager);

  await load();
  ctx.every(3000, load);

  function addFilter(event) {
    event.preventDefault();
    const field = fieldInput.value.trim();
    const value = valueInput.value;
    const problem = !field ? 'Name the field to filter on, e.g. config.lr or summary.loss.'
      : !(field === 'name' || /^(config|summary)\.[^.].*$/.test(field)) ? `"${field}" cannot be filtered on: use name, config.KEY or summary.KEY.`
      : value === '' ? 'Give a value to compare with.' : null;
    filterError.textContent = problem ?? '';
    filterError.hidden = !problem;
    if (problem) {
      (field ? valueInput : fieldInput).focus();
      return;
    }
    view.filters.push(`${field}${opSelect.value}${value}`);
    view.page = 0;
    valueInput.value = '';
    changed();
  }

  function changed() {
    const query = new URLSearchParams();
    for (const [name, value] of [['state', view.state], ['sort', view.sort], ['job', view.job], ['page', view.page || '']]) {
      if (value) {
        query.set(name, value);
      }
    }
    view.filters.forEach(f => query.append('filter', f));
    // Keep the view in the address without leaving the page (which hashchange would do).
    history.replaceState(null, '', route(['projects', project, 'runs'], query));
    load().catch(error => showError(error));
  }

  function showError(error) {
    filterError.textContent = Object.values(error.errors ?? {}).flat().join(' ') || error.message;
    filterError.hidden = false;
  }

  async function load() {
    const query = new URLSearchParams({ project, limit: PAGE, offset: view.page * PAGE, count: 'true' });
    if (view.state) {
      query.set('state', view.state);
    }
    if (view.sort) {
      query.set('sort', view.sort);
    }
    if (view.job) {
      query.set('job', view.job);
    }
    view.filters.forEach(f => query.append('filter', f));
    try {
      last = await api(`/api/v1/runs?${query}`, { signal: ctx.signal });
    } catch (error) {
      if (error.status === 400) {
        // A filter the server refused: say which, drop it, and show the rest.
        showError(error);
        const bad = Object.keys(error.errors ?? {}).map(k => /^filter\[(\d+)\]$/.exec(k)?.[1]).filter(i => i !== undefined).map(Number);
        if (bad.length > 0) {
          view.filters = view.filters.filter((_, i) => !bad.includes(i));
          return changed();
        }
      }
      throw error;
    }
    for (const run of last.runs) {
      for (const [key] of format.flatten(run.config, 'config')) {
        known.add(key);
      }
      for (const [key] of format.flatten(run.summary, 'summary')) {
        known.add(key);
      }
    }
    if (columns === null && known.size > 0) {
      const all = [...known];
      columns = [...all.filter(k => k.startsWith('config.')).slice(0, 3), ...all.filter(k => k.startsWith('summary.')).slice(0, 4)];
    }
    draw();
  }

  function draw() {
    const focused = document.activeElement?.id;
    clear(fields, ['name', ...known].map(k => h('option', { value: k })));
    clear(chips, [
      view.job ? chip(`job = ${view.job}`, () => { view.job = ''; }) : null,
      ...view.filters.map((f, i) => chip(f, () => { view.filters.splice(i, 1); })),
    ]);
    clear(columnsBox, [...known].sort().map(k => h('label', {},
      h('input', { type: 'checkbox', id: `col-${k}`, checked: (columns ?? []).includes(k), onchange: e => {
        columns = e.target.checked ? [...(columns ?? []), k] : (columns ?? []).filter(c => c !== k);
        localStorage.setItem(columnsKey, JSON.stringify(columns));
        draw();
      } }), k)));
    const first = view.page * PAGE;
    summaryLine.textContent = last.total === 0 ? 'No runs match.' : `Runs ${first + 1}–${first + last.runs.length} of ${last.total.toLocaleString('en')}`;
    const chosen = columns ?? [];
    const allOnPage = last.runs.length > 0 && last.runs.every(r => selected.has(r.id));
    const header = h('tr', {},
      h('th', { scope: 'col' }, h('input', { type: 'checkbox', id: 'select-page', 'aria-label': 'Select every run on this page', checked: allOnPage, onchange: e => {
        for (const run of last.runs) {
          e.target.checked ? selected.set(run.id, run.name) : selected.delete(run.id);
        }
        draw();
      } })),
      sortHeader('Name', 'name'), sortHeader('State', 'state'), h('th', { scope: 'col' }, 'Job'), h('th', { scope: 'col' }, 'Queue'),
      sortHeader('Created', 'created_at'), sortHeader('Duration', 'duration', 'num'),
      chosen.map(c => sortHeader(c, c, 'num')));
    const rows = last.runs.map(run => h('tr', { dataset: { run: run.id } },
      h('td', {}, h('input', { type: 'checkbox', id: `select-${run.id}`, 'aria-label': `Select run ${run.name}`, checked: selected.has(run.id), onchange: e => {
        e.target.checked ? selected.set(run.id, run.name) : selected.delete(run.id);
        draw();
      } })),
      h('td', { class: 'wrap' }, link(['runs', run.id], run.name)),
      h('td', {}, stateBadge(run.state)),
      h('td', {}, run.job ? link(['projects', project, 'jobs', run.job.split(':')[0]], run.job) : '—'),
      h('td', {}, run.queue ? link(['queues', run.queue], run.queue) : '—'),
      h('td', {}, format.time(run.created_at)),
      h('td', { class: 'num' }, format.seconds(format.runDuration(run))),
      chosen.map(c => h('td', { class: 'num' }, format.value(columnValue(run, c))))));
    clear(tableHolder, h('div', { class: 'table-wrap' }, h('table', { id: 'runs-table' }, h('thead', {}, header), h('tbody', {}, rows))));
    if (last.runs.length === 0) {
      tableHolder.append(h('p', { class: 'empty' }, view.filters.length || view.state || view.job ? 'No runs match these filters.' : 'No runs in this project yet.'));
    }
    compare.disabled = selected.size === 0;
    compare.textContent = selected.size === 0 ? 'Compare selected' : `Compare selected (${selected.size})`;
    const pages = Math.max(1, Math.ceil(last.total / PAGE));
    clear(pager,
      h('button', { type: 'button', id: 'prev-page', disabled: view.page === 0, onclick: () => { view.page--; changed(); } }, 'Previous'),
      h('span', {}, `Page ${view.page + 1} of ${pages.toLocaleString('en')}`),
      h('button', { type: 'button', id: 'next-page', disabled: view.page + 1 >= pages, onclick: () => { view.page++; changed(); } }, 'Next'));
    // The table is redrawn on every refresh; keep the keyboard where it was.
    if (focused && document.activeElement === document.body) {
      document.getElementById(focused)?.focus();
    }
  }

  function columnValue(run, column) {
    const dot = column.indexOf('.');
    return format.at(column.startsWith('config.') ? run.config : run.summary, column.slice(dot + 1));
  }

  function chip(text, remove) {
    return h('span', { class: 'chip' }, text, h('button', { type: 'button', 'aria-label': `Remove filter ${text}`, onclick: () => { remove(); view.page = 0; changed(); } }, '×'));
  }

  function sortHeader(text, field, cls) {
    const dir = view.sort === field ? 'ascending' : view.sort === `-${field}` ? 'descending' : null;
    return h('th', { scope: 'col', class: cls, 'aria-sort': dir ?? 'none' },
      h('button', { type: 'button', class: 'sort', id: `sort-${field}`, title: `Sort by ${text}`, onclick: () => {
        view.sort = dir === null ? field : dir === 'ascending' ? `-${field}` : '';
        view.page = 0;
        changed();
      } }, text, dir ? h('span', { class: 'dir', 'aria-hidden': 'true' }, dir === 'ascending' ? ' ▲' : ' ▼') : null));
  }
}
