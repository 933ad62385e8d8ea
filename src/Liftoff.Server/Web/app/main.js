import { api, useSession } from './api.js';
import { clear, h } from './dom.js';
import { signInPage } from './pages/signin.js';
import { projectsPage } from './pages/projects.js';
import { projectPage } from './pages/project.js';
import { jobPage } from './pages/job.js';
import { launchPage } from './pages/launch.js';
import { artifactPage } from './pages/artifacts.js';
import { runPage } from './pages/run.js';
import { comparePage } from './pages/compare.js';
import { queuesPage, queuePage } from './pages/queues.js';

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
];

const main = document.getElementById('main');
let session = null;
let current = null;

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

export function signedIn(newSession) {
  session = newSession;
  useSession(session, signedOut);
  showChrome();
}

async function render() {
  current?.leave();
  current = null;
  const { path, query } = parseHash();
  for (const a of document.querySelectorAll('nav#nav a')) {
    const target = a.getAttribute('href').slice(1);
    a.toggleAttribute('aria-current', target === '/' ? path === '/' || path.startsWith('/projects') : path.startsWith(target));
    if (a.hasAttribute('aria-current')) {
      a.setAttribute('aria-current', 'page');
    }
  }
  if (path === '/signin' || !session) {
    if (path !== '/signin') {
      location.replace('#/signin?next=' + encodeURIComponent(location.hash || '#/'));
      return;
    }
    current = context([], query);
    return show(signInPage, current);
  }
  for (const [pattern, page] of routes) {
    const match = pattern.exec(path);
    if (match) {
      current = context(match.slice(1).map(p => p === undefined ? undefined : decodeURIComponent(p)), query);
      return show(page, current);
    }
  }
  clear(main, h('h1', {}, 'Not found'), h('p', {}, 'No page has this address. ', h('a', { href: '#/' }, 'Go to the projects.')));
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
    showChrome();
    location.hash = '#/signin';
  }
});

window.addEventListener('hashchange', render);

// 204 (null) when the cookie holds no session.
const existing = await api('/web/session').catch(() => null);
if (existing) {
  signedIn(existing);
} else {
  showChrome();
}
render();
