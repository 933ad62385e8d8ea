import { api, q } from '../api.js';
import { clear, h, link, route, table } from '../dom.js';
import * as format from '../format.js';

export async function artifactsTab(ctx, project, body) {
  const refresh = async () => {
    const { artifacts } = await api(`/api/v1/artifacts?project=${q(project)}`, { signal: ctx.signal });
    // Jobs are artifacts too, shown in their own tab.
    clear(body, table(['Artifact', 'Type', h('th', { scope: 'col', class: 'num' }, 'Versions'), 'Latest', 'Created'],
      artifacts.filter(a => a.type !== 'job').map(a => h('tr', {},
        h('td', { class: 'wrap' }, link(['projects', project, 'artifacts', a.name], a.name)),
        h('td', {}, a.type),
        h('td', { class: 'num' }, a.version_count),
        h('td', {}, a.latest ?? '—'),
        h('td', {}, format.time(a.created_at)))),
      { empty: 'No artifacts in this project yet: runs log them with log_artifact, or use liftoff artifact put.' }));
  };
  await refresh();
  ctx.every(5000, refresh);
}

/** An artifact's versions with aliases and producing runs, and the files of the version chosen. */
export async function artifactPage(ctx) {
  const [project, name] = ctx.params;
  const { versions } = await api(`/api/v1/artifacts/${q(project)}/${q(name)}`, { signal: ctx.signal });
  const ref = ctx.query.get('ref') ?? versions[versions.length - 1]?.version ?? 'latest';
  const selected = await api(`/api/v1/artifacts/${q(project)}/${q(name)}/${q(ref)}`, { signal: ctx.signal });
  ctx.title(`${name}:${selected.version}`);
  clear(ctx.main,
    h('div', { class: 'crumbs' }, link([], 'Projects'), ' / ', link(['projects', project], project), ' / ', link(['projects', project, 'artifacts'], 'Artifacts')),
    h('h1', {}, `${name}:${selected.version}`),
    h('p', { class: 'muted' }, `${selected.type} · ${format.bytes(selected.size)} in ${selected.file_count} files · digest ${selected.digest.slice(0, 16)}`),
    h('h2', {}, 'Versions'),
    table(['Version', 'Aliases', h('th', { scope: 'col', class: 'num' }, 'Size'), h('th', { scope: 'col', class: 'num' }, 'Files'), 'Produced by', 'Created'],
      [...versions].reverse().map(v => h('tr', { class: v.version === selected.version ? 'highlight' : null },
        h('td', {}, h('a', { href: route(['projects', project, 'artifacts', name], { ref: v.version }) }, v.version)),
        h('td', { class: 'wrap' }, v.aliases.join(', ') || '—'),
        h('td', { class: 'num' }, format.bytes(v.size)),
        h('td', { class: 'num' }, v.file_count),
        h('td', {}, v.produced_by ? link(['runs', v.produced_by], v.produced_by) : '—'),
        h('td', {}, format.time(v.created_at))))),
    h('h2', {}, `Files of ${selected.version}`),
    table(['Path', h('th', { scope: 'col', class: 'num' }, 'Size'), 'SHA-256'],
      (selected.files ?? []).map(f => h('tr', {},
        h('td', { class: 'wrap mono' }, f.path),
        h('td', { class: 'num' }, format.bytes(f.size)),
        h('td', { class: 'mono' }, f.sha256.slice(0, 16)))),
      { empty: 'No files.' }));
}
