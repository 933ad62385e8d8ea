import { api, useSession } from './api.js';
import { clear, h, route } from './dom.js';
import { isAdmin, useEntity } from './entity.js';
import { signInPage } from './pages/signin.js';
import { projectsPage } from './pages/projects.js';
import { projectPage } from './pages/project.js';
import { jobPage } from './pages/job.js';
import { launchPage } from './pages/launch.js';
import { artifactPage } from './pages/artifacts.js';
import { runPage } from './pages/run.js';
import { comparePage } from './pages/compare.js';
import { queuesPage, queuePage } from './pages/queues.js';
import { teamPage } from './pages/team.js';
import { auditPage } from './pages/audit.js';

const routes = [
  [/^\/$/, projectsPage],
  [/^\/projects\/([^/]+)(?:\/(runs|jobs|artifacts))?$/, projectPage],
  [/^\/projects\/([^/]+)\/jobs\/([^/]+)$/, jobPage],
  [/^\/projects\/([^/]+)\/jobs\/([^/]+)\/launch$/, launchPage],
  [/^\/projects\/([^/]+)\/artifacts\/([^/]+)$/, artifactPage],
  [/^\/runs\/([^/]+)$/, runPage],
  [/^\/compare$/, comparePage],
  [/^\/queues$/, queuesPage],
  [/^\/queues\/([^/]+)$/, queuePage],
  [/^\/teams\/([^/]+)$/, teamPage],
  [/^\/audit$/, auditPage],
];

const main = document.getElementById('main');
let session = null;
let current = null;
// Where requests naming no entity act (GET /api/v1/viewer), and the caller's teams with their role (GET /api/v1/teams).
let defaultEntity = null;
let teams = [];

function parseHash() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, search = ''] = hash.split('?');
  return { path, query: new URLSearchParams(search) };
}

/** What a page gets: its route parameters, the query, and a lifetime that ends when the user leaves it. */
function context(params, query) {
  const controller = new AbortController();
  const signal = controller.signal;
  return {
    params,
    query,
    signal,
    main,
    session,
    leave: () => controller.abort(),
    title: text => { document.title = `${text} · Liftoff`; },
    /** Calls fn every ms while the page is shown; skips beats while the tab is hidden. */
    every(ms, fn) {
      const beat = async () => {
        if (signal.aborted) {
          return;
        }
        if (!document.hidden) {
          try {
            await fn();
          } catch (error) {
            if (!signal.aborted) {
              notify(error.message, true);
            }
          }
        }
        if (!signal.aborted) {
          setTimeout(beat, ms);
        }
      };
      setTimeout(beat, ms);
    },
  };
}

export function notify(message, error = false) {
  const status = document.getElementById('status');
  status.className = error ? 'status error' : 'status';
  status.textContent = message;
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => { status.textContent = ''; }, error ? 8000 : 4000);
}

function signedOut() {
  session = null;
  showChrome();
  if (!location.hash.startsWith('#/signin')) {
    location.hash = '#/signin?next=' + encodeURIComponent(location.hash || '#/');
  }
}

function showChrome() {
  document.getElementById('nav').hidden = !session;
  document.getElementById('who').hidden = !session;
  document.getElementById('entity').textContent = session ? `Signed in as ${session.entity}` : '';
}

export async function signedIn(newSession) {
  session = newSession;
  useSession(session, signedOut);
  defaultEntity = (await api('/api/v1/viewer')).default_entity;
  showChrome();
}

/**
 * The entity of this address (?entity=, else the default entity, else the user) and the caller's role there, read
 * afresh on every page change so that a role an admin just changed shows at once.
 */
async function chooseEntity(query) {
  ({ teams } = await api('/api/v1/teams'));
  const name = query.get('entity') || defaultEntity || session.entity;
  const team = teams.find(t => t.name === name);
  const role = name === session.entity || session.admin ? 'admin' : team?.role ?? null;
  useEntity(name, role);
  document.querySelector('header a.brand').href = route([]);
  drawSwitcher(name);
  drawNav(name, team !== undefined);
}

/** The entity switcher: the user and their teams; choosing one opens its projects. */
function drawSwitcher(name) {
  const select = document.getElementById('entity-switch');
  const names = [session.entity, ...teams.map(t => t.name)];
  clear(select,
    names.includes(name) ? null : h('option', { value: name, selected: true }, name),
    h('option', { value: session.entity, selected: name === session.entity }, `${session.entity} (you)`),
    teams.map(t => h('option', { value: t.name, selected: t.name === name }, t.role ? `${t.name} (${t.role})` : t.name)));
}

/** Projects and Queues; the team page on a team; the audit page where the API lets the caller read it (admins). */
function drawNav(name, isTeam) {
  const items = [[[], 'Projects'], [['queues'], 'Queues']];
  if (isTeam) {
    items.push([['teams', name], 'Team']);
  }
  if (isAdmin()) {
    items.push([['audit'], 'Audit']);
  }
  clear(document.getElementById('nav'), items.map(([segments, text]) =>
    h('a', { href: route(segments), dataset: { path: '/' + segments.join('/') } }, text)));
}

document.getElementById('entity-switch').addEventListener('change', event => {
  location.hash = route([], { entity: event.target.value });
});

let renders = 0;

async function render() {
  current?.leave();
  current = null;
  const rendering = ++renders;
  const { path, query } = parseHash();
  if (path === '/signin' || !session) {
    if (path !== '/signin') {
      location.replace('#/signin?next=' + encodeURIComponent(location.hash || '#/'));
      return;
    }
    current = context([], query);
    return show(signInPage, current);
  }
  try {
    await chooseEntity(query);
  } catch (error) {
    return clear(main, h('h1', {}, 'Something went wrong'), h('p', { class: 'errors' }, error.message));
  }
  if (rendering !== renders) {
    // The address changed while the entity was being read: that later render shows its page.
    return;
  }
  for (const a of document.querySelectorAll('nav#nav a')) {
    const target = a.dataset.path;
    a.toggleAttribute('aria-current', target === '/' ? path === '/' || path.startsWith('/projects') : path.startsWith(target));
    if (a.hasAttribute('aria-current')) {
      a.setAttribute('aria-current', 'page');
    }
  }
  for (const [pattern, page] of routes) {
    const match = pattern.exec(path);
    if (match) {
      current = context(match.slice(1).map(p => p === undefined ? undefined : decodeURIComponent(p)), query);
      return show(page, current);
    }
  }
  clear(main, h('h1', {}, 'Not found'), h('p', {}, 'No page has this address. ', h('a', { href: route([]) }, 'Go to the projects.')));
}

async function show(page, ctx) {
  clear(main, h('p', { class: 'muted' }, 'Loading…'));
  try {
    await page(ctx);
  } catch (error) {
    if (!ctx.signal.aborted && error.name !== 'AbortError') {
      clear(main, h('h1', {}, 'Something went wrong'), h('p', { class: 'errors' }, error.message));
    }
  }
}

document.getElementById('signout').addEventListener('click', async () => {
  try {
    await api('/web/session', { method: 'DELETE' });
  } finally {
    session = null;
    useSession(null);
    useEntity(null, null);
    showChrome();
    location.hash = '#/signin';
  }
});

window.addEventListener('hashchange', render);

// 204 (null) when the cookie holds no session.
const existing = await api('/web/session').catch(() => null);
if (existing) {
  await signedIn(existing);
} else {
  showChrome();
}
render();
