import { api, q } from '../api.js';
import { clear, h, link, table } from '../dom.js';
import { canWrite } from '../entity.js';
import * as format from '../format.js';

export async function jobsTab(ctx, project, body) {
  const refresh = async () => {
    const { jobs } = await api(`/api/v1/jobs?project=${q(project)}`, { signal: ctx.signal });
    clear(body, table(['Job', h('th', { scope: 'col', class: 'num' }, 'Versions'), 'Latest', 'Created', canWrite() ? h('th', { scope: 'col' }, h('span', { class: 'muted' }, 'Actions')) : null].filter(Boolean),
      jobs.map(j => h('tr', {},
        h('td', { class: 'wrap' }, link(['projects', project, 'jobs', j.name], j.name)),
        h('td', { class: 'num' }, j.version_count),
        h('td', {}, j.latest ?? '—'),
        h('td', {}, format.time(j.created_at)),
        canWrite() ? h('td', {}, link(['projects', project, 'jobs', j.name, 'launch'], `Launch ${j.name}`, { class: 'button' })) : null)),
      { empty: 'No jobs in this project yet: make one with liftoff job create.' }));
  };
  await refresh();
  ctx.every(5000, refresh);
}
