import { api } from '../api.js';
import { clear, h, link, table } from '../dom.js';
import * as format from '../format.js';

export async function projectsPage(ctx) {
  ctx.title('Projects');
  const body = h('div');
  clear(ctx.main, h('h1', {}, 'Projects'), body);
  const refresh = async () => {
    const { projects } = await api('/api/v1/projects', { signal: ctx.signal });
    clear(body, table(['Project', h('th', { scope: 'col', class: 'num' }, 'Runs'), 'Created'],
      projects.map(p => h('tr', {},
        h('td', { class: 'wrap' }, link(['projects', p.name], p.name)),
        h('td', { class: 'num' }, p.run_count.toLocaleString('en')),
        h('td', {}, format.time(p.created_at)))),
      { empty: 'No projects yet: a project appears with its first run (liftoff.init(project="...")).' }));
  };
  await refresh();
  ctx.every(5000, refresh);
}
