// How values are written on the pages.

const pad = n => String(n).padStart(2, '0');

export function time(iso) {
  if (!iso) {
    return '—';
  }
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function seconds(total) {
  if (total === null || total === undefined || !Number.isFinite(total)) {
    return '—';
  }
  const s = Math.max(0, Math.round(total));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h ${m}m ${s % 60}s` : m > 0 ? `${m}m ${s % 60}s` : `${s}s`;
}

/** A run's duration: start (or creation) to end, or to now while it is not over. */
export function runDuration(run) {
  const start = Date.parse(run.started_at ?? run.created_at);
  const end = run.ended_at ? Date.parse(run.ended_at) : (run.state === 'running' || run.state === 'pending' ? Date.now() : Date.parse(run.heartbeat_at ?? run.created_at));
  return (end - start) / 1000;
}

export function ago(iso) {
  if (!iso) {
    return '—';
  }
  return `${seconds((Date.now() - Date.parse(iso)) / 1000)} ago`;
}

export function value(v) {
  if (v === null || v === undefined) {
    return '—';
  }
  if (typeof v === 'number') {
    return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  }
  if (typeof v === 'string') {
    return v;
  }
  return JSON.stringify(v);
}

export function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/** Dotted paths of the leaves of an object: {a: {b: 1}} gives [["a.b", 1]]. Arrays are leaves. */
export function flatten(obj, prefix = '', out = []) {
  for (const [key, v] of Object.entries(obj ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      flatten(v, path, out);
    } else {
      out.push([path, v]);
    }
  }
  return out;
}

export function at(obj, path) {
  let v = obj;
  for (const key of path.split('.')) {
    if (v === null || typeof v !== 'object' || !(key in v)) {
      return undefined;
    }
    v = v[key];
  }
  return v;
}
