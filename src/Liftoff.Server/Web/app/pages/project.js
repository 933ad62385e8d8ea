import { clear, h, link, route } from '../dom.js';
import { runsTab } from './runs.js';
import { jobsTab } from './jobs.js';
import { artifactsTab } from './artifacts.js';

const tabs = [['runs', 'Runs', runsTab], ['jobs', 'Jobs', jobsTab], ['artifacts', 'Artifacts', artifactsTab]];

export async function projectPage(ctx) {
  const [project, tab = 'runs'] = ctx.params;
  ctx.title(`${project} · ${tab}`);
  const body = h('section', { 'aria-label': tab });
  clear(ctx.main,
    h('div', { class: 'crumbs' }, link([], 'Projects'), ' / '),
    h('h1', {}, project),
    h('nav', { class: 'tabs', 'aria-label': 'Project' },
      tabs.map(([id, label]) => h('a', { href: route(['projects', project, id]), 'aria-current': id === tab ? 'page' : null }, label))),
    body);
  const [, , render] = tabs.find(([id]) => id === tab);
  await render(ctx, project, body);
}
