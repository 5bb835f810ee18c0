// util: DOM building (text only: data never goes through innerHTML), the API's fetch,
// number and time formats. Used by every view.

export function el(tag, props, ...children) {
  const e = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function api(path, opts = {}) {
  return answer(await fetch(path, {credentials: 'same-origin', ...opts}));
}

// The answer boot.js asked for at the page's start, once, when it is for this path (else a
// fetch now).
export async function bootApi(path) {
  const b = window.otelpBoot;
  if (!b || b.path !== path) return api(path);
  window.otelpBoot = null;
  return answer(await b.answer);
}

async function answer(r) {
  if (r.status === 204) return null;
  let body = null;
  const text = await r.text();
  try {
    body = text ? JSON.parse(text) : null;
  } catch (e) {
    body = {error: text};
  }
  if (!r.ok) throw new ApiError(r.status, (body && body.error) || r.statusText);
  return body;
}

export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, v);
  const s = u.toString();
  return s ? '?' + s : '';
}

export function fmtDur(ns) {
  if (ns === null || ns === undefined || !isFinite(ns)) return '';
  const a = Math.abs(ns);
  if (a === 0) return '0';
  if (a < 1e3) return `${Math.round(ns)} ns`;
  if (a < 1e6) return `${Math.round(ns / 1e3)} us`;
  if (a < 1e9) return `${(ns / 1e6).toFixed(a < 1e7 ? 1 : 0)} ms`;
  if (a < 60e9) return `${(ns / 1e9).toFixed(2)} s`;
  if (a < 3600e9) return `${Math.floor(ns / 60e9)}m ${Math.round((ns % 60e9) / 1e9)}s`;
  return `${Math.floor(ns / 3600e9)}h ${Math.round((ns % 3600e9) / 60e9)}m`;
}

export function fmtTime(ns) {
  if (!ns) return '';
  const d = new Date(ns / 1e6);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:` +
    `${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export function fmtClock(ns) {
  return fmtTime(ns).slice(11);
}

export function fmtInt(n) {
  const s = String(Math.trunc(Number(n)));
  return s.length < 4 ? s : s.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export const SEVERITY = ['', 'TRACE', 'TRACE2', 'TRACE3', 'TRACE4', 'DEBUG', 'DEBUG2', 'DEBUG3',
  'DEBUG4', 'INFO', 'INFO2', 'INFO3', 'INFO4', 'WARN', 'WARN2', 'WARN3', 'WARN4', 'ERROR',
  'ERROR2', 'ERROR3', 'ERROR4', 'FATAL', 'FATAL2', 'FATAL3', 'FATAL4'];

export function severityClass(n) {
  if (n >= 21) return 'sev-fatal';
  if (n >= 17) return 'sev-error';
  if (n >= 13) return 'sev-warn';
  if (n >= 9) return 'sev-info';
  return 'sev-debug';
}

// A value of an attribute as text (arrays and maps as JSON).
export function attrText(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

// The command of a run: the argv JSON the launcher stored, or a span name.
export function runCommand(run) {
  const c = run.command;
  if (c && c.startsWith('[')) {
    try {
      const argv = JSON.parse(c);
      if (Array.isArray(argv)) return argv.join(' ');
    } catch (e) { /* fall through */ }
  }
  return c || '(unnamed)';
}

export function debounce(fn, ms) {
  let t = null;
  return (...a) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...a), ms);
  };
}
