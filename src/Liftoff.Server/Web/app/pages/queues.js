import { api, q } from '../api.js';
import { clear, facts, h, link, pre, stateBadge, table } from '../dom.js';
import { canWrite, isAdmin } from '../entity.js';
import * as format from '../format.js';
import { notify } from '../main.js';

const ACTIVE = ['leased', 'starting', 'running', 'stopping'];
const ENDED = ['finished', 'failed', 'cancelled'];

export async function queuesPage(ctx) {
  ctx.title('Queues');
  const body = h('div');
  clear(ctx.main, h('h1', {}, 'Queues'), body);
  const refresh = async () => {
    const { queues } = await api('/api/v1/queues', { signal: ctx.signal });
    clear(body, table(['Queue', 'Resource', 'State', h('th', { scope: 'col', class: 'num' }, 'Pending'), 'Items', 'Oldest pending', 'Agents'],
      queues.map(x => h('tr', {},
        h('td', { class: 'wrap' }, link(['queues', x.name], x.name)),
        h('td', {}, x.resource),
        h('td', {}, x.paused ? stateBadge('paused') : 'active'),
        h('td', { class: 'num' }, x.depth),
        h('td', { class: 'wrap' }, counts(x.items)),
        h('td', {}, x.oldest_pending_seconds === null ? '—' : format.seconds(x.oldest_pending_seconds)),
        h('td', { class: 'wrap' }, x.agents.length === 0 ? h('span', { class: 'muted' }, 'none polling') : x.agents.map(a => a.state === 'offline' ? `${a.name} (offline)` : a.name).join(', ')))),
      { empty: 'No queues yet: liftoff queue create NAME --resource local-process (liftoff up makes "default").' }));
  };
  await refresh();
  ctx.every(3000, refresh);
}

function counts(items) {
  const parts = Object.entries(items).filter(([, n]) => n > 0).map(([state, n]) => `${n} ${state}`);
  return parts.length ? parts.join(', ') : '—';
}

/**
 * A queue: its items by state (pending in claim order, each with its place and why it waits), their runs and errors,
 * buttons to move pending items to the top or bottom and to cancel, pause and resume, and the agents polling it.
 */
export async function queuePage(ctx) {
  const [name] = ctx.params;
  const highlight = ctx.query.get('item');
  ctx.title(`Queue ${name}`);
  const head = h('div');
  const pending = h('div');
  const active = h('div');
  const ended = h('div');
  const agents = h('div');
  clear(ctx.main,
    h('div', { class: 'crumbs' }, link(['queues'], 'Queues'), ' / '),
    h('h1', {}, `Queue ${name}`),
    head,
    h('section', { 'aria-labelledby': 'pending-h' }, h('h2', { id: 'pending-h' }, 'Pending, in claim order'), pending),
    h('section', { 'aria-labelledby': 'active-h' }, h('h2', { id: 'active-h' }, 'Active'), active),
    h('section', { 'aria-labelledby': 'ended-h' }, h('h2', { id: 'ended-h' }, 'Ended'), ended),
    h('section', { 'aria-labelledby': 'agents-h' }, h('h2', { id: 'agents-h' }, 'Agents polling this queue'), agents));

  const refresh = async () => {
    const [queue, { items }] = await Promise.all([
      api(`/api/v1/queues/${q(name)}`, { signal: ctx.signal }),
      api(`/api/v1/queues/${q(name)}/items?limit=200`, { signal: ctx.signal }),
    ]);
    const focused = document.activeElement?.id;
    clear(head,
      facts([
        ['State', queue.paused ? h('span', {}, stateBadge('paused'), ' agents claim nothing until it resumes') : 'active'],
        ['Resource', queue.resource],
        ['Items', counts(queue.items)],
        ['Max attempts', queue.max_attempts],
        ['Start timeout', format.seconds(queue.start_timeout_seconds)],
        ['Template variables', queue.template_variables.length === 0 ? 'none' : queue.template_variables.map(v => v.type === 'string'
          ? `${v.name}: ${v.choices ? v.choices.join(' | ') : 'string'}` : `${v.name}: ${v.type} ${v.min ?? ''}..${v.max ?? ''}`).join('; ')],
      ]),
      h('details', {}, h('summary', {}, 'Default resource config'), pre(queue.config)),
      isAdmin() ? h('p', {}, queue.paused
        ? h('button', { type: 'button', id: 'resume-queue', onclick: () => pause(false) }, 'Resume queue')
        : h('button', { type: 'button', id: 'pause-queue', onclick: () => pause(true) }, 'Pause queue')) : null);
    const pendingItems = items.filter(i => i.state === 'pending');
    clear(pending, itemTable(pendingItems, true, 'Nothing waiting.'));
    clear(active, itemTable(items.filter(i => ACTIVE.includes(i.state)), false, 'Nothing running.'));
    clear(ended, itemTable(items.filter(i => ENDED.includes(i.state)), false, 'Nothing has ended yet.'));
    clear(agents, table(['Agent', 'State', 'Host', 'Version', h('th', { scope: 'col', class: 'num' }, 'Running'), 'Last heartbeat'],
      queue.agents.map(a => h('tr', {},
        h('td', { class: 'wrap' }, a.name),
        h('td', {}, stateBadge(a.stop_requested && a.state !== 'stopped' && a.state !== 'offline' ? 'stopping' : a.state)),
        h('td', {}, a.host ?? '—'),
        h('td', {}, a.version ?? '—'),
        // An offline agent's last report is stale: its items went back to the queue when their leases ran out.
        h('td', { class: 'num' }, a.state === 'offline' ? '—' : `${a.running_items} / ${a.max_jobs}`),
        h('td', {}, `${a.state === 'offline' ? 'last seen ' : ''}${format.ago(a.last_heartbeat_at)} (${format.time(a.last_heartbeat_at)})`))),
      { empty: 'No agent is polling this queue: start one with liftoff agent --queue ' + name + ' (liftoff up runs one on "default").' }));
    if (focused && document.activeElement === document.body) {
      document.getElementById(focused)?.focus();
    }
  };

  function itemTable(items, pending, empty) {
    const movable = pending && canWrite();
    return table([pending ? h('th', { scope: 'col', class: 'num' }, '#') : null, 'Item', 'State', 'Job', 'Priority', 'Attempt', 'Run', pending ? 'Waiting for' : 'Error', 'Created', h('th', { scope: 'col' }, h('span', { class: 'muted' }, 'Actions'))].filter(Boolean),
      items.map(item => h('tr', { class: item.id === highlight ? 'highlight' : null, dataset: { item: item.id } },
        pending ? h('td', { class: 'num pos' }, item.place ? item.place.position : '—') : null,
        h('td', { class: 'mono' }, item.id),
        h('td', {}, stateBadge(item.state), item.cancel_requested && item.state !== 'cancelled' ? h('span', { class: 'muted' }, ' (cancel requested)') : null),
        h('td', {}, link(['projects', item.project, 'jobs', item.job.split(':')[0]], item.job)),
        h('td', {}, item.priority),
        h('td', {}, `${item.attempt} / ${item.max_attempts}`),
        h('td', {}, item.run_id ? link(['runs', item.run_id], item.run_id) : '—'),
        pending ? h('td', { class: 'wrap reason' }, item.place ? item.place.message : '—')
          : h('td', { class: 'wrap' }, item.error ? `${item.phase ? `${item.phase}: ` : ''}${item.error}` : '—'),
        h('td', {}, format.time(item.created_at)),
        h('td', {},
          movable ? h('button', { type: 'button', id: `top-${item.id}`, 'aria-label': `Move item ${item.id} to the top of its priority`, onclick: () => move(item, 'top') }, 'Top') : null,
          movable ? ' ' : null,
          movable ? h('button', { type: 'button', id: `bottom-${item.id}`, 'aria-label': `Move item ${item.id} to the bottom of its priority`, onclick: () => move(item, 'bottom') }, 'Bottom') : null,
          movable ? ' ' : null,
          ENDED.includes(item.state) || item.cancel_requested || !canWrite() ? null
            : h('button', { type: 'button', class: 'danger', id: `cancel-${item.id}`, 'aria-label': `Cancel item ${item.id}`, onclick: () => cancel(item) }, 'Cancel')))),
      { empty });
  }

  async function move(item, to) {
    try {
      const moved = await api(`/api/v1/items/${q(item.id)}/move`, { method: 'POST', body: { to } });
      notify(`Moved item ${item.id} to the ${to}: ${moved.place ? moved.place.message : moved.state}.`);
      await refresh();
    } catch (error) {
      notify(error.message, true);
    }
  }

  async function pause(paused) {
    try {
      await api(`/api/v1/queues/${q(name)}/${paused ? 'pause' : 'resume'}`, { method: 'POST' });
      notify(paused ? `Paused queue ${name}: agents claim nothing from it.` : `Resumed queue ${name}.`);
      await refresh();
    } catch (error) {
      notify(error.message, true);
    }
  }

  async function cancel(item) {
    try {
      await api(`/api/v1/items/${q(item.id)}/cancel`, { method: 'POST' });
      notify(`Cancelling item ${item.id}.`);
      await refresh();
    } catch (error) {
      notify(error.message, true);
    }
  }

  await refresh();
  ctx.every(2000, refresh);
}
