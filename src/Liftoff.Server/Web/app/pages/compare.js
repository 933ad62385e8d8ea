import { api, q } from '../api.js';
import { MetricCharts } from '../charts.js';
import { clear, h, link, stateBadge, table } from '../dom.js';
import * as format from '../format.js';

const ENDED = ['finished', 'failed', 'killed', 'crashed'];

/** Several runs side by side: their differing config and summary values, and every metric overlaid. */
export async function comparePage(ctx) {
  const ids = (ctx.query.get('runs') ?? '').split(',').filter(Boolean);
  ctx.title('Compare runs');
  if (ids.length === 0) {
    clear(ctx.main, h('h1', {}, 'Compare runs'), h('p', {}, 'Select runs in a project\'s Runs tab, then choose Compare selected.'));
    return;
  }
  const runs = await Promise.all(ids.map(id => api(`/api/v1/runs/${q(id)}`, { signal: ctx.signal })));
  const lastSteps = new Map(runs.map(r => [r.id, -1]));
  const overview = h('div');
  const chartBox = h('div', { class: 'charts', id: 'charts' });
  const charts = new MetricCharts(chartBox);
  ctx.signal.addEventListener('abort', () => charts.destroy());
  const project = runs[0].project;
  clear(ctx.main,
    h('div', { class: 'crumbs' }, link([], 'Projects'), ' / ', link(['projects', project], project), ' / '),
    h('h1', {}, `Compare ${runs.length} runs`),
    overview,
    h('h2', {}, 'Charts'),
    h('p', { class: 'muted' }, 'Each run is one line; drag to zoom, double-click to zoom out, hover to read every run\'s value.'),
    h('fieldset', { class: 'axis' }, h('legend', {}, 'X axis'),
      ['step', 'time'].map(x => h('label', {}, h('input', { type: 'radio', name: 'x-axis', value: x, checked: x === 'step', onchange: () => charts.setX(x) }), ` ${x}`))),
    chartBox);
  drawOverview();
  for (const run of runs) {
    await readHistory(run);
  }
  ctx.every(3000, async () => {
    for (const [i, run] of runs.entries()) {
      if (ENDED.includes(run.state)) {
        continue;
      }
      runs[i] = await api(`/api/v1/runs/${q(run.id)}`, { signal: ctx.signal });
      await readHistory(runs[i]);
    }
    drawOverview();
  });

  async function readHistory(run) {
    for (;;) {
      const page = await api(`/api/v1/runs/${q(run.id)}/history?after_step=${lastSteps.get(run.id)}&limit=10000`, { signal: ctx.signal });
      if (page.rows.length > 0) {
        lastSteps.set(run.id, page.rows[page.rows.length - 1].step);
        charts.add(run.id, run.name, page.rows);
      }
      if (page.next_after_step === null) {
        return;
      }
    }
  }

  function drawOverview() {
    // Only the keys whose values differ tell runs apart.
    const keys = new Set();
    for (const part of ['config', 'summary']) {
      const all = new Set(runs.flatMap(r => format.flatten(r[part]).map(([k]) => k)));
      for (const key of all) {
        const values = new Set(runs.map(r => JSON.stringify(format.at(r[part], key) ?? null)));
        if (values.size > 1 || runs.length === 1) {
          keys.add(`${part}.${key}`);
        }
      }
    }
    const columns = [...keys].slice(0, 12);
    clear(overview, table(['Run', 'State', ...columns.map(c => h('th', { scope: 'col', class: 'num' }, c))],
      runs.map(r => h('tr', {},
        h('td', { class: 'wrap' }, link(['runs', r.id], r.name)),
        h('td', {}, stateBadge(r.state)),
        columns.map(c => h('td', { class: 'num' }, format.value(format.at(c.startsWith('config.') ? r.config : r.summary, c.slice(c.indexOf('.') + 1)))))))));
  }
}
