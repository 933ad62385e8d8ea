import { api, q } from '../api.js';
import { clear, facts, h, link, pre, route, stateBadge, table } from '../dom.js';
import { canWrite } from '../entity.js';
import * as format from '../format.js';

/** A job: its versions and aliases, the selected version's source, entrypoint and input schema, and the runs it launched. */
export async function jobPage(ctx) {
  const [project, name] = ctx.params;
  const ref = ctx.query.get('ref');
  const job = await api(`/api/v1/jobs/${q(project)}/${q(name)}${ref ? `?ref=${q(ref)}` : ''}`, { signal: ctx.signal });
  const selected = job.selected.artifact;
  const definition = job.selected.definition;
  ctx.title(`${name}:${selected.version}`);
  const runsBox = h('div');
  clear(ctx.main,
    h('div', { class: 'crumbs' }, link([], 'Projects'), ' / ', link(['projects', project], project), ' / ', link(['projects', project, 'jobs'], 'Jobs')),
    h('div', { class: 'actions' },
      h('h1', {}, `${name}:${selected.version}`),
      // A viewer may not launch (the API refuses it), so the page offers no Launch.
      canWrite() ? h('a', { class: 'button primary', id: 'launch', href: route(['projects', project, 'jobs', name, 'launch'], { ref: selected.version }) }, 'Launch') : null),
    h('h2', {}, 'Versions'),
    table(['Version', 'Aliases', 'Digest', 'Created'],
      job.versions.map(v => h('tr', { class: v.version === selected.version ? 'highlight' : null },
        h('td', {}, v.version === selected.version ? h('strong', {}, v.version) : h('a', { href: route(['projects', project, 'jobs', name], { ref: v.version }) }, v.version)),
        h('td', { class: 'wrap' }, v.aliases.join(', ') || '—'),
        h('td', { class: 'mono' }, v.digest.slice(0, 12)),
        h('td', {}, format.time(v.created_at))))),
    h('h2', {}, 'Source'),
    facts([
      ['Type', definition.source_type],
      ...sourceFacts(definition),
      ['Entrypoint', h('code', {}, (definition.entrypoint ?? []).join(' '))],
      definition.runtime?.python_version ? ['Python', definition.runtime.python_version] : null,
      definition.runtime?.base_image ? ['Base image', definition.runtime.base_image] : null,
    ]),
    definition.runtime?.requirements ? [h('h3', {}, 'Requirements'), pre(definition.runtime.requirements)] : null,
    h('h2', {}, 'Input schema'),
    schemaTable(definition.input_types),
    h('details', {}, h('summary', {}, 'Schema as JSON'), pre(definition.input_types ?? {})),
    h('h2', {}, 'Runs it launched'),
    runsBox);

  const refresh = async () => {
    const { runs, total } = await api(`/api/v1/runs?project=${q(project)}&job=${q(name)}&limit=20&count=true`, { signal: ctx.signal });
    clear(runsBox,
      table(['Run', 'State', 'Version', 'Queue', 'Created'],
        runs.map(r => h('tr', {},
          h('td', { class: 'wrap' }, link(['runs', r.id], r.name)),
          h('td', {}, stateBadge(r.state)),
          h('td', {}, r.job),
          h('td', {}, r.queue ? link(['queues', r.queue], r.queue) : '—'),
          h('td', {}, format.time(r.created_at)))),
        { empty: 'This job has launched no runs yet.' }),
      total > runs.length ? h('p', {}, h('a', { href: route(['projects', project, 'runs'], { job: name }) }, `All ${total} runs in the Runs tab`)) : null);
  };
  await refresh();
  ctx.every(4000, refresh);
}

function sourceFacts(definition) {
  const source = definition.source ?? {};
  switch (definition.source_type) {
    case 'artifact':
      return [['Code artifact', source.artifact], ['Digest', h('span', { class: 'mono' }, source.digest ?? '—')]];
    case 'repo':
      return [['Git remote', source.remote], ['Commit', h('span', { class: 'mono' }, source.commit)], source.subdir ? ['Sub-directory', source.subdir] : null];
    case 'image':
      return [['Image', source.image], source.digest ? ['Digest', h('span', { class: 'mono' }, source.digest)] : null];
    default:
      return [];
  }
}

function schemaTable(schema) {
  const properties = Object.entries(schema?.properties ?? {});
  if (properties.length === 0) {
    return h('p', { class: 'muted' }, 'The job accepts any config object.');
  }
  const required = new Set(schema.required ?? []);
  return table(['Key', 'Type', 'Default', 'Required', 'Constraints'],
    properties.map(([key, p]) => h('tr', {},
      h('td', { class: 'mono' }, key),
      h('td', {}, [p.type ?? 'any'].flat().join(' | ')),
      h('td', { class: 'mono wrap' }, 'default' in p ? format.value(p.default) : '—'),
      h('td', {}, required.has(key) ? 'yes' : 'no'),
      h('td', { class: 'wrap' }, constraints(p) || '—'))));
}

export function constraints(p) {
  const parts = [];
  if (p.enum) {
    parts.push(`one of ${p.enum.map(v => JSON.stringify(v)).join(', ')}`);
  }
  for (const [keyword, text] of [['minimum', '≥'], ['exclusiveMinimum', '>'], ['maximum', '≤'], ['exclusiveMaximum', '<'], ['multipleOf', 'multiple of']]) {
    if (keyword in p) {
      parts.push(`${text} ${p[keyword]}`);
    }
  }
  if ('minLength' in p) {
    parts.push(`at least ${p.minLength} characters`);
  }
  if ('maxLength' in p) {
    parts.push(`at most ${p.maxLength} characters`);
  }
  if ('pattern' in p) {
    parts.push(`matches ${p.pattern}`);
  }
  return parts.join('; ');
}
