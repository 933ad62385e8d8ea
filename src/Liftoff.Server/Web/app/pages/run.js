import { api, ndjson, q } from '../api.js';
import { canWrite } from '../entity.js';
import { MetricCharts } from '../charts.js';
import { clear, facts, h, link, route, stateBadge, table } from '../dom.js';
import * as format from '../format.js';
import { notify } from '../main.js';

const ENDED = ['finished', 'failed', 'killed', 'crashed'];

/** A run: overview, config, summary, a chart per metric and the console, all following the run while it is live. */
export async function runPage(ctx) {
  const [id] = ctx.params;
  let run = await api(`/api/v1/runs/${q(id)}`, { signal: ctx.signal });
  ctx.title(run.name);
  const heading = h('h1', {});
  const stop = h('button', { type: 'button', class: 'danger', id: 'stop-run', onclick: stopRun }, 'Stop');
  const overview = h('div');
  const config = h('div');
  const summary = h('div');
  const chartBox = h('div', { class: 'charts', id: 'charts' });
  const charts = new MetricCharts(chartBox);
  ctx.signal.addEventListener('abort', () => charts.destroy());
  const axis = h('fieldset', { class: 'axis' }, h('legend', {}, 'X axis'),
    ['step', 'time'].map(x => h('label', {}, h('input', { type: 'radio', name: 'x-axis', value: x, checked: x === 'step', onchange: () => charts.setX(x) }), ` ${x}`)));
  const consoleBox = h('pre', { class: 'console', id: 'console', tabindex: 0, 'aria-label': 'Console output' });
  const consoleState = h('p', { class: 'muted', id: 'console-state' });

  clear(ctx.main,
    h('div', { class: 'crumbs' }, link([], 'Projects'), ' / ', link(['projects', run.project], run.project), ' / ',
      link(['projects', run.project, 'runs'], 'Runs')),
    h('div', { class: 'actions' }, heading, stop),
    h('section', { 'aria-labelledby': 'overview-h' }, h('h2', { id: 'overview-h' }, 'Overview'), overview),
    h('div', { class: 'grid2' },
      h('section', { 'aria-labelledby': 'config-h' }, h('h2', { id: 'config-h' }, 'Config'), config),
      h('section', { 'aria-labelledby': 'summary-h' }, h('h2', { id: 'summary-h' }, 'Summary'), summary)),
    h('section', { 'aria-labelledby': 'charts-h' }, h('h2', { id: 'charts-h' }, 'Charts'),
      h('p', { class: 'muted' }, 'Drag across a chart to zoom in, double-click to zoom out; hover to read values.'), axis, chartBox),
    h('section', { 'aria-labelledby': 'console-h' }, h('h2', { id: 'console-h' }, 'Console'), consoleState, consoleBox));

  drawRun();
  let lastStep = -1;
  await readHistory();
  followLogs();
  ctx.every(2000, async () => {
    run = await api(`/api/v1/runs/${q(id)}`, { signal: ctx.signal });
    drawRun();
    if (run.last_step !== null && run.last_step > lastStep) {
      await readHistory();
    }
  });

  function drawRun() {
    clear(heading, run.name, ' ', stateBadge(run.state));
    // Viewers read runs; stopping one is a member's.
    stop.hidden = ENDED.includes(run.state) || !canWrite();
    stop.disabled = run.stop_requested;
    stop.textContent = run.stop_requested ? 'Stop requested' : 'Stop';
    const job = run.job ? run.job.split(':')[0] : null;
    clear(overview, facts([
      ['Run id', h('span', { class: 'mono' }, run.id)],
      ['State', stateBadge(run.state)],
      ['Exit code', run.exit_code ?? '—'],
      ['Host', run.host],
      ['OS', run.os],
      ['Program', run.program],
      ['Python', run.python_version],
      ['Job version', job ? link(['projects', run.project, 'jobs', job], run.job) : 'not launched from a job'],
      ['Queue', run.queue ? link(['queues', run.queue], run.queue) : '—'],
      ['Queue item', run.item_id ? h('a', { href: route(['queues', run.queue], { item: run.item_id }), class: 'mono' }, run.item_id) : '—'],
      ['Created', format.time(run.created_at)],
      ['Started', format.time(run.started_at)],
      ['Ended', format.time(run.ended_at)],
      ['Duration', format.seconds(format.runDuration(run))],
      ['Last heartbeat', run.heartbeat_at ? `${format.time(run.heartbeat_at)} (${format.ago(run.heartbeat_at)})` : '—'],
      ['Last step', run.last_step ?? '—'],
      run.stop_requested ? ['Stop', 'requested'] : null,
    ], true));
    clear(config, keyValues(run.config, 'No config.'));
    clear(summary, keyValues(run.summary, 'No summary yet.'));
  }

  async function readHistory() {
    for (;;) {
      const page = await api(`/api/v1/runs/${q(id)}/history?after_step=${lastStep}&limit=10000`, { signal: ctx.signal });
      if (page.rows.length > 0) {
        lastStep = page.rows[page.rows.length - 1].step;
        charts.add(run.id, run.name, page.rows);
      }
      if (page.next_after_step === null) {
        return;
      }
    }
  }

  /** Follows the console over the NDJSON stream; reconnects from the last line if the stream drops while the run lives. */
  async function followLogs() {
    let after = -1;
    let atBottom = true;
    consoleBox.addEventListener('scroll', () => {
      atBottom = consoleBox.scrollTop + consoleBox.clientHeight >= consoleBox.scrollHeight - 4;
    });
    while (!ctx.signal.aborted) {
      consoleState.textContent = ENDED.includes(run.state) ? '' : 'Following the console while the run is live.';
      try {
        await ndjson(`/api/v1/runs/${q(id)}/logs?after=${after}&follow=true`, line => {
          after = line.line;
          consoleBox.append(h('span', { class: line.stream === 'stderr' ? 'stderr' : null }, line.text, '\n'));
          if (atBottom) {
            consoleBox.scrollTop = consoleBox.scrollHeight;
          }
        }, ctx.signal);
      } catch (error) {
        if (ctx.signal.aborted) {
          return;
        }
      }
      run = await api(`/api/v1/runs/${q(id)}`, { signal: ctx.signal });
      if (ENDED.includes(run.state)) {
        consoleState.textContent = after < 0 ? 'The run wrote no console output.' : '';
        return;
      }
      await new Promise(resolve => setTimeout(resolve, 2000));
    }
  }

  async function stopRun() {
    stop.disabled = true;
    try {
      run = await api(`/api/v1/runs/${q(id)}/stop`, { method: 'POST' });
      notify(`Asked run ${run.name} to stop.`);
      drawRun();
    } catch (error) {
      notify(error.message, true);
      stop.disabled = false;
    }
  }
}

export function keyValues(obj, empty) {
  return table([h('th', { scope: 'col' }, 'Key'), h('th', { scope: 'col' }, 'Value')],
    format.flatten(obj).map(([key, value]) => h('tr', {}, h('td', { class: 'mono' }, key), h('td', { class: 'wrap mono' }, format.value(value)))),
    { empty });
}
