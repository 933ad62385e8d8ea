// Builds DOM nodes. Children that are not nodes become text nodes, so every value shown from a user (names, config,
// logs) is text, never markup: nothing in the app writes innerHTML.

import { entity } from './entity.js';

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) {
      continue;
    }
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      el.className = value;
    } else if (name === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (name === 'value' || name === 'checked' || name === 'selected') {
      el[name] = value;
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A hash link; every path segment taken from data is URI-encoded. */
export function link(segments, text, attrs = {}) {
  return h('a', { href: route(segments), ...attrs }, text);
}

/** A hash address; it keeps the entity the pages act on, so the link opens the same entity's view. */
export function route(segments, query) {
  const path = '#/' + segments.map(s => encodeURIComponent(s)).join('/');
  const params = new URLSearchParams(query ?? {});
  if (entity() && !params.has('entity')) {
    params.set('entity', entity());
  }
  const search = params.toString();
  return search ? `${path}?${search}` : path;
}

export function stateBadge(state) {
  return h('span', { class: `state state-${state}` }, state);
}

export function table(headers, rows, { caption, empty = 'Nothing here yet.' } = {}) {
  if (rows.length === 0) {
    return h('p', { class: 'empty' }, empty);
  }
  return h('div', { class: 'table-wrap' },
    h('table', {},
      caption ? h('caption', { class: 'muted' }, caption) : null,
      h('thead', {}, h('tr', {}, headers.map(x => x instanceof Node ? x : h('th', { scope: 'col' }, x)))),
      h('tbody', {}, rows)));
}

export function facts(pairs, wide = false) {
  return h('dl', { class: wide ? 'facts wide' : 'facts' }, pairs.filter(p => p).flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value ?? '—')]));
}

export function pre(value) {
  return h('pre', {}, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
}
