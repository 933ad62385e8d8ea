// The JSON API, called with the session cookie. The API key never reaches this code: the server exchanged it for an
// HttpOnly cookie at sign-in. State-changing calls carry the session's CSRF token in a header, and every API call
// names the entity the pages act on.

import { entity } from './entity.js';

let csrfToken = null;
let onSignedOut = () => {};

export function useSession(session, signedOut) {
  csrfToken = session?.csrf_token ?? null;
  if (signedOut) {
    onSignedOut = signedOut;
  }
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? problem?.title ?? `the server answered ${status}`);
    this.status = status;
    this.errors = problem?.errors ?? {};
  }
}

/** The path with ?entity= added for /api/v1 routes: the server acts on the entity a request names. */
function onEntity(path) {
  const name = entity();
  if (!name || !path.startsWith('/api/v1/')) {
    return path;
  }
  return `${path}${path.includes('?') ? '&' : '?'}entity=${encodeURIComponent(name)}`;
}

export async function api(path, { method = 'GET', body, signal, headers = {} } = {}) {
  const init = { method, signal, credentials: 'same-origin', headers: { Accept: 'application/json', ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  if (method !== 'GET' && csrfToken) {
    init.headers['X-Liftoff-Csrf'] = csrfToken;
  }
  const response = await fetch(onEntity(path), init);
  if (response.status === 401 && !path.startsWith('/web/session')) {
    onSignedOut();
  }
  if (!response.ok) {
    let problem = null;
    try {
      problem = await response.json();
    } catch {
      // Not a problem document: the status says enough.
    }
    throw new ApiError(response.status, problem);
  }
  return response.status === 204 ? null : response.json();
}

/** Reads an NDJSON stream, calling onLine for each object, until it ends or the signal aborts. */
export async function ndjson(path, onLine, signal) {
  const response = await fetch(onEntity(path), { signal, credentials: 'same-origin', headers: { Accept: 'application/x-ndjson' } });
  if (!response.ok) {
    throw new ApiError(response.status, null);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) {
      break;
    }
    buffered += decoder.decode(value, { stream: true });
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.trim()) {
        onLine(JSON.parse(line));
      }
    }
  }
}

export const q = encodeURIComponent;
