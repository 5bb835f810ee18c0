// waterfall: one trace as a process tree on a canvas. Only the rows in view are drawn
// (a tall spacer gives the scroll bar its length; the canvas stays in place), so a trace of
// 20,000 spans costs what 40 rows cost. Repeated siblings (same name under one parent, at
// least GROUP_MIN of them) are one expandable row with their statistics; the critical path
// is marked; a lane above the rows counts the processes running at each moment.

import {el, clear, fmtDur, fmtInt} from './util.js';

export const GROUP_MIN = 4;
const ROW_H = 22;
const INDENT = 14;
const LANE_H = 46;
const FATAL_SIGNALS = new Set([4, 5, 6, 7, 8, 11, 31]);

const COLORS = {
  bar: '#4a86c5', barGroup: 'rgba(74,134,197,0.55)', failed: '#d0453b', crashed: '#8e1b14',
  crit: '#e8912d', text: '#1d2330', dim: '#6b7385', sel: '#dbe8fb', match: '#fff1b8',
  grid: '#e6e8ee', lane: '#7a9cc6', jline: '#c0392b', label: '#f7f8fa',
};

export class Trace {
  constructor(traceId) {
    this.traceId = traceId;
    this.runId = 0;
    this.spans = [];
    this.bySid = new Map();
    this.maxId = 0;
  }

  // Adds the rows of a /flat answer. Returns the number of new spans.
  add(flat) {
    const names = flat.names;
    let added = 0;
    if (flat.run_id) this.runId = flat.run_id;
    this.fresh = this.fresh || [];
    for (const r of flat.spans) {
      const [id, sid, psid, ni, startUs, durNs, pid, exit, sig, status, hasLogs, si, kind, ppid] = r;
      if (id > this.maxId) this.maxId = id;
      if (this.bySid.has(sid)) continue;
      const s = {
        id, sid, psid, name: names[ni], start: startUs, dur: durNs, end: startUs + durNs / 1000,
        pid, exit, sig, status, hasLogs: !!hasLogs, service: names[si], kind, ppid,
        parent: null, children: [], crit: false,
      };
      s.crashed = sig !== null && FATAL_SIGNALS.has(sig);
      s.failed = status === 2 || (exit !== null && exit !== 0) || (sig !== null && sig !== 0);
      this.spans.push(s);
      this.bySid.set(sid, s);
      this.fresh.push(s);
      added++;
    }
    if (flat.max_id > this.maxId) this.maxId = flat.max_id;
    return added;
  }

  // Parents, children (by start), roots, bounds, the critical path, the failures. Only the
  // spans added since the last call are placed (a live trace grows by small steps): each
  // goes under its parent, or among the roots until its parent comes (orphans wait by the
  // parent's id).
  link() {
    const fresh = this.fresh || [];
    this.fresh = [];
    if (!this.roots) {
      this.roots = [];
      this.orphans = new Map();
      this.failures = [];
      this.processes = [];
      this.t0 = Infinity;
      this.t1 = -Infinity;
    }
    const touched = new Set();
    const byStart = (a, b) => a.start - b.start || a.id - b.id;
    const attach = (s) => {
      const p = s.psid ? this.bySid.get(s.psid) : null;
      if (p && p !== s) {
        s.parent = p;
        p.children.push(s);
        touched.add(p);
      } else {
        this.roots.push(s);
        touched.add(null);
        if (s.psid) {
          if (!this.orphans.has(s.psid)) this.orphans.set(s.psid, []);
          this.orphans.get(s.psid).push(s);
        }
      }
    };
    for (const s of fresh) attach(s);
    // orphans whose parent came: out of the roots, under it
    let moved = false;
    for (const s of fresh) {
      const waiting = this.orphans.get(s.sid);
      if (!waiting) continue;
      this.orphans.delete(s.sid);
      for (const o of waiting) {
        o.parent = s;
        s.children.push(o);
        touched.add(s);
      }
      moved = true;
    }
    if (moved) this.roots = this.roots.filter((r) => !r.parent);
    for (const p of touched) {
      const list = p ? p.children : this.roots;
      // appended in time order most of the time: sort only when needed
      for (let i = 1; i < list.length; i++) {
        if (byStart(list[i - 1], list[i]) > 0) {
          list.sort(byStart);
          break;
        }
      }
    }
    for (const s of fresh) {
      if (s.start < this.t0) this.t0 = s.start;
      if (s.end > this.t1) this.t1 = s.end;
    }
    if (this.t1 <= this.t0) this.t1 = this.t0 + 1;
    const newFailures = fresh.filter((s) => s.failed);
    if (newFailures.length) this.failures = this.failures.concat(newFailures).sort(byStart);
    // a span whose pid differs from its parent's is a process too (the parent may be late)
    this.processes = this.spans.filter((s) => s.exit !== null || s.sig !== null ||
      (s.pid !== null && (!s.parent || s.parent.pid !== s.pid)));
    this.version = (this.version || 0) + 1;
    this.markCritical();
  }

  // The critical path: from the longest root, the child that ends last, then, before its
  // start, the child that ended last before that, and so on, recursively.
  markCritical() {
    if (this.critSet) for (const s of this.critSet) s.crit = false;
    this.critSet = [];
    if (!this.roots.length) return;
    let root = this.roots[0];
    for (const r of this.roots) if (r.end - r.start > root.end - root.start) root = r;
    const stack = [[root, root.end]];
    let guard = 0;
    while (stack.length && guard++ < 1e6) {
      const [s, limit] = stack.pop();
      s.crit = true;
      this.critSet.push(s);
      const kids = s.children.slice().sort((a, b) => b.end - a.end);
      let t = Math.min(s.end, limit);
      for (const c of kids) {
        if (c.end <= t + 1e-3 && c.end >= s.start) {
          stack.push([c, t]);
          t = c.start;
        }
      }
    }
  }

  // Busy processes at each of n moments between t0 and t1 (the most in each slice): running
  // and not waiting on a child process of their own, so a `make -j4` whose jobs are
  // cc -> cc1 counts 4, not 9, and compares with its -j.
  concurrency(n) {
    const out = new Uint32Array(n);
    const procs = new Set(this.processes);
    const procParent = (s) => {
      for (let p = s.parent; p; p = p.parent) if (procs.has(p)) return p;
      return null;
    };
    const ev = [];
    for (const s of this.processes) {
      s._pp = procParent(s);
      s._rc = 0;
      s._run = false;
      ev.push([s.start, 1, s], [s.end, -1, s]);
    }
    ev.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const span = this.t1 - this.t0;
    let cur = 0, max = 0, i = 0;
    const apply = ([, d, s]) => {
      const p = s._pp;
      if (d > 0) {
        s._run = true;
        cur++;
        if (p && p._run && p._rc++ === 0) cur--;
      } else if (s._run) {
        s._run = false;
        if (s._rc === 0) cur--;
        if (p && p._run && --p._rc === 0) cur++;
      }
    };
    for (let b = 0; b < n; b++) {
      const end = this.t0 + (span * (b + 1)) / n;
      let peak = cur;
      while (i < ev.length && ev[i][0] <= end) {
        apply(ev[i]);
        if (cur > peak) peak = cur;
        i++;
      }
      out[b] = peak;
      if (peak > max) max = peak;
    }
    return {counts: out, max};
  }
}

// 1, 2 or 5 times a power of ten (microseconds).
function niceStep(us) {
  const p = Math.pow(10, Math.floor(Math.log10(Math.max(us, 1))));
  for (const m of [1, 2, 5, 10]) if (m * p >= us) return m * p;
  return 10 * p;
}

function groupStats(members) {
  const d = members.map((m) => m.dur).sort((a, b) => a - b);
  let start = Infinity, end = -Infinity, failed = 0, crit = false;
  for (const m of members) {
    if (m.start < start) start = m.start;
    if (m.end > end) end = m.end;
    if (m.failed) failed++;
    if (m.crit) crit = true;
  }
  return {p50: d[Math.floor((d.length - 1) / 2)], max: d[d.length - 1], failed, start, end, crit};
}

export function groupLabel(name, members, st) {
  let t = `${name} x ${fmtInt(members.length)}, p50 ${fmtDur(st.p50)}, max ${fmtDur(st.max)}`;
  if (st.failed) t += `, ${fmtInt(st.failed)} failed`;
  return t;
}

export class Waterfall {
  // host: an element; opts.onSelect(span), opts.jobs (the -j asked for, or 0)
  constructor(host, trace, opts = {}) {
    this.trace = trace;
    this.opts = opts;
    this.collapsed = new Set(); // span ids whose children are hidden
    this.openGroups = new Set(); // group keys shown member by member
    this.rows = [];
    this.groupCache = new Map();
    this.sel = -1;
    this.selSpan = null;
    this.matches = null;
    this.matchList = [];
    this.matchPos = -1;
    this.showCrit = true;
    this.frames = 0;
    this.widths = new Map();

    this.root = el('div', {class: 'wf'});
    this.lane = el('canvas', {class: 'wf-lane', height: LANE_H, 'aria-label': 'processes running over time'});
    this.scroll = el('div', {class: 'wf-scroll', tabindex: '0', 'aria-label': 'trace waterfall'});
    this.spacer = el('div', {class: 'wf-spacer'});
    this.canvas = el('canvas', {class: 'wf-canvas'});
    this.scroll.append(this.canvas, this.spacer);
    this.root.append(this.lane, this.scroll);
    clear(host).append(this.root);

    this.scroll.addEventListener('scroll', () => this.schedule());
    this.canvas.addEventListener('click', (e) => this.onClick(e));
    this.resizeObs = new ResizeObserver(() => this.schedule(true));
    this.resizeObs.observe(this.scroll);
  }

  destroy() {
    this.resizeObs.disconnect();
  }

  // ---- rows -------------------------------------------------------------------------------

  groupKey(parentSid, name) {
    return `${parentSid}\u0000${name}`;
  }

  rebuild() {
    const rows = [];
    const visit = (s, depth) => {
      rows.push({kind: 'span', s, depth});
      if (s.children.length && !this.collapsed.has(s.sid)) this.emit(s.children, depth + 1, s.sid, rows, visit);
    };
    this.emit(this.trace.roots || [], 0, '', rows, visit);
    this.rows = rows;
    this.spacer.style.height = `${rows.length * ROW_H}px`;
    if (this.selSpan) this.sel = this.indexOf(this.selSpan);
    this.schedule(true);
  }

  // The repeated names among children, and each group's statistics: kept per parent until
  // its children change (a live trace re-emits often, its big groups rarely change shape).
  groupsOf(children, parentSid) {
    if (children.length < GROUP_MIN) return null;
    const cached = this.groupCache.get(parentSid);
    if (cached && cached.n === children.length && cached.children === children) return cached.groups;
    const count = new Map();
    for (const c of children) count.set(c.name, (count.get(c.name) || 0) + 1);
    let groups = null;
    for (const [name, n] of count) {
      if (n >= GROUP_MIN) {
        if (!groups) groups = new Map();
        groups.set(name, {members: [], st: null});
      }
    }
    if (groups) for (const c of children) if (groups.has(c.name)) groups.get(c.name).members.push(c);
    this.groupCache.set(parentSid, {n: children.length, children, groups});
    return groups;
  }

  emit(children, depth, parentSid, rows, visit) {
    const groups = this.groupsOf(children, parentSid);
    for (const c of children) {
      const g = groups && groups.get(c.name);
      if (!g) {
        visit(c, depth);
        continue;
      }
      if (g.members[0] !== c) continue;
      const key = this.groupKey(parentSid, c.name);
      const open = this.openGroups.has(key);
      if (!g.st) {
        g.st = groupStats(g.members);
      } else if (g.version !== this.trace.version) {
        g.st.crit = g.members.some((m) => m.crit); // the path may have moved
      }
      g.version = this.trace.version;
      rows.push({kind: 'group', key, name: c.name, members: g.members, depth, open, st: g.st});
      if (open) for (const m of g.members) visit(m, depth + 1);
    }
  }

  indexOf(span) {
    for (let i = 0; i < this.rows.length; i++) {
      const r = this.rows[i];
      if (r.kind === 'span' && r.s === span) return i;
    }
    return -1;
  }

  // Opens whatever hides span: collapsed ancestors and groups.
  reveal(span) {
    for (let p = span.parent, c = span; c; c = p, p = p && p.parent) {
      if (p) this.collapsed.delete(p.sid);
      const siblings = p ? p.children : this.trace.roots;
      let n = 0;
      for (const x of siblings) if (x.name === c.name) n++;
      if (n >= GROUP_MIN) this.openGroups.add(this.groupKey(p ? p.sid : '', c.name));
      if (!p) break;
    }
    this.rebuild();
    return this.indexOf(span);
  }

  toggle(i) {
    const r = this.rows[i];
    if (!r) return;
    if (r.kind === 'group') {
      if (this.openGroups.has(r.key)) this.openGroups.delete(r.key);
      else this.openGroups.add(r.key);
    } else if (r.s.children.length) {
      if (this.collapsed.has(r.s.sid)) this.collapsed.delete(r.s.sid);
      else this.collapsed.add(r.s.sid);
    } else {
      return;
    }
    this.rebuild();
  }

  setExpanded(i, open) {
    const r = this.rows[i];
    if (!r) return;
    const isOpen = r.kind === 'group' ? this.openGroups.has(r.key) : !this.collapsed.has(r.s.sid);
    if (isOpen !== open) this.toggle(i);
  }

  select(i, {scroll = true, notify = true} = {}) {
    if (i < 0 || i >= this.rows.length) return;
    this.sel = i;
    const r = this.rows[i];
    this.selSpan = r.kind === 'span' ? r.s : null;
    if (scroll) this.scrollTo(i);
    this.schedule();
    if (notify && this.opts.onSelect) this.opts.onSelect(r);
  }

  selectSpan(span, opts) {
    const i = this.reveal(span);
    if (i >= 0) this.select(i, opts);
  }

  scrollTo(i) {
    const top = i * ROW_H, h = this.scroll.clientHeight;
    if (top < this.scroll.scrollTop) this.scroll.scrollTop = top;
    else if (top + ROW_H > this.scroll.scrollTop + h) this.scroll.scrollTop = top + ROW_H - h;
  }

  move(delta) {
    const n = this.rows.length;
    if (!n) return;
    const i = this.sel < 0 ? 0 : Math.max(0, Math.min(n - 1, this.sel + delta));
    this.select(i);
  }

  // n/p: the next or previous failed span after the selection (in time order).
  failure(dir) {
    const f = this.trace.failures;
    if (!f.length) return null;
    const cur = this.selSpan;
    let k;
    if (!cur) k = dir > 0 ? 0 : f.length - 1;
    else {
      const at = f.indexOf(cur);
      if (at >= 0) k = (at + dir + f.length) % f.length;
      else {
        k = dir > 0 ? f.findIndex((s) => s.start > cur.start) : -1;
        if (dir < 0) for (let j = f.length - 1; j >= 0; j--) if (f[j].start < cur.start) { k = j; break; }
        if (k < 0) k = dir > 0 ? 0 : f.length - 1;
      }
    }
    this.selectSpan(f[k]);
    return {index: k, total: f.length, span: f[k]};
  }

  // Search: name (case-insensitive substring), pid, or span id prefix.
  search(text) {
    const q = text.trim().toLowerCase();
    if (!q) {
      this.matches = null;
      this.matchList = [];
      this.matchPos = -1;
      this.schedule();
      return 0;
    }
    const m = new Set();
    for (const s of this.trace.spans) {
      if (s.name.toLowerCase().includes(q) || String(s.pid) === q || s.sid.startsWith(q)) m.add(s);
    }
    this.matches = m;
    this.matchList = [...m].sort((a, b) => a.start - b.start);
    this.matchPos = -1;
    this.schedule();
    return m.size;
  }

  nextMatch(dir = 1) {
    const l = this.matchList;
    if (!l.length) return null;
    this.matchPos = (this.matchPos + dir + l.length) % l.length;
    this.selectSpan(l[this.matchPos]);
    return {index: this.matchPos, total: l.length};
  }

  // ---- drawing ----------------------------------------------------------------------------

  schedule(resize = false) {
    if (resize) this.needResize = true;
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = 0;
      this.draw();
    });
  }

  x(t) {
    const tr = this.trace;
    return this.labelW + ((t - tr.t0) / (tr.t1 - tr.t0)) * (this.w - this.labelW - 8);
  }

  draw() {
    const dpr = window.devicePixelRatio || 1;
    const w = this.scroll.clientWidth, h = this.scroll.clientHeight;
    if (this.needResize || this.canvas.width !== Math.round(w * dpr) || this.canvas.height !== Math.round(h * dpr)) {
      this.canvas.width = Math.round(w * dpr);
      this.canvas.height = Math.round(h * dpr);
      this.canvas.style.width = `${w}px`;
      this.canvas.style.height = `${h}px`;
      this.spacer.style.marginTop = `${-h}px`; // the sticky canvas takes no room of its own
      this.needResize = false;
      this.drawLane();
    }
    this.w = w;
    this.labelW = Math.max(220, Math.min(480, Math.floor(w * 0.36)));
    const ctx = this.canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.font = '12px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    const top = this.scroll.scrollTop;
    const first = Math.floor(top / ROW_H), last = Math.min(this.rows.length, Math.ceil((top + h) / ROW_H));
    // the sticky canvas sits at the top of the viewport; rows are offset by the scroll remainder
    const off = -(top % ROW_H);
    ctx.fillStyle = COLORS.label;
    ctx.fillRect(0, 0, this.labelW, h);
    // three passes, so the state changes once a frame, not once a row: highlights, then the
    // labels under one clip (the label column), then the bars
    for (let i = first; i < last; i++) this.drawHighlight(ctx, i, off + (i - first) * ROW_H);
    ctx.save();
    ctx.beginPath();
    ctx.rect(0, 0, this.labelW - 6, h);
    ctx.clip();
    this.font = '';
    for (let i = first; i < last; i++) this.drawLabel(ctx, i, off + (i - first) * ROW_H);
    ctx.restore();
    ctx.font = '12px system-ui, sans-serif';
    for (let i = first; i < last; i++) this.drawBars(ctx, i, off + (i - first) * ROW_H);
    ctx.strokeStyle = COLORS.grid;
    ctx.beginPath();
    ctx.moveTo(this.labelW + 0.5, 0);
    ctx.lineTo(this.labelW + 0.5, h);
    ctx.stroke();
    this.frames++;
    this.drawnRows = last - first;
    if (this.opts.onDraw) this.opts.onDraw(this);
  }

  drawHighlight(ctx, i, y) {
    const r = this.rows[i];
    const matched = this.matches && (r.kind === 'span' ? this.matches.has(r.s) : r.members.some((m) => this.matches.has(m)));
    if (i === this.sel || matched) {
      ctx.fillStyle = i === this.sel ? COLORS.sel : COLORS.match;
      ctx.fillRect(0, y, this.w, ROW_H);
    }
  }

  drawLabel(ctx, i, y) {
    const r = this.rows[i];
    const mid = y + ROW_H / 2;
    const indent = 6 + r.depth * INDENT;
    const hasKids = r.kind === 'group' || r.s.children.length > 0;
    const font = r.kind === 'group' ? 'italic 12px system-ui, sans-serif' : '12px system-ui, sans-serif';
    if (font !== this.font) ctx.font = this.font = font;
    ctx.fillStyle = COLORS.dim;
    if (hasKids) {
      const open = r.kind === 'group' ? r.open : !this.collapsed.has(r.s.sid);
      ctx.fillText(open ? '\u25be' : '\u25b8', indent, mid);
    }
    let label, failed;
    if (r.kind === 'group') {
      label = groupLabel(r.name, r.members, r.st);
      failed = r.st.failed > 0;
    } else {
      const s = r.s;
      label = s.name + (s.pid !== null ? `  ${s.pid}` : '') +
        (s.crashed ? `  signal ${s.sig}` : s.exit !== null && s.exit !== 0 ? `  exit ${s.exit}` : '');
      failed = s.failed;
    }
    ctx.fillStyle = failed ? COLORS.failed : COLORS.text;
    ctx.fillText(label, indent + 12, mid);
  }

  // The width of a duration's text, cached (the same few hundred strings come back).
  textWidth(ctx, d) {
    let w = this.widths.get(d);
    if (w === undefined) {
      if (this.widths.size > 5000) this.widths.clear();
      w = ctx.measureText(d).width;
      this.widths.set(d, w);
    }
    return w;
  }

  drawBars(ctx, i, y) {
    const r = this.rows[i];
    const mid = y + ROW_H / 2;
    const by = y + 4, bh = ROW_H - 8;
    if (r.kind === 'group') {
      const crit = r.st.crit;
      ctx.fillStyle = COLORS.barGroup;
      let lastX = -1;
      for (const m of r.members) {
        const x0 = this.x(m.start), x1 = Math.max(x0 + 1, this.x(m.end));
        if (x1 - x0 < 1.5 && Math.floor(x0) === lastX) continue; // one pixel column is enough
        lastX = Math.floor(x0);
        ctx.fillRect(x0, by, x1 - x0, bh);
      }
      if (r.st.failed) {
        ctx.fillStyle = COLORS.failed;
        for (const m of r.members) if (m.failed) ctx.fillRect(this.x(m.start), by, Math.max(2, this.x(m.end) - this.x(m.start)), bh);
      }
      if (crit && this.showCrit) {
        ctx.fillStyle = COLORS.crit;
        ctx.fillRect(this.x(r.st.start), by + bh, this.x(r.st.end) - this.x(r.st.start), 2);
      }
      return;
    }
    const s = r.s;
    const failed = s.failed, crashed = s.crashed, crit = s.crit;
    const x0 = this.x(s.start), x1 = Math.max(x0 + 1, this.x(s.end));
    ctx.fillStyle = crashed ? COLORS.crashed : failed ? COLORS.failed : crit && this.showCrit ? COLORS.crit : COLORS.bar;
    ctx.fillRect(x0, by, x1 - x0, bh);
    const d = fmtDur(s.dur);
    ctx.fillStyle = COLORS.dim;
    const tw = this.textWidth(ctx, d);
    if (x1 + 4 + tw < this.w) ctx.fillText(d, x1 + 4, mid);
    else if (x0 - 4 - tw > this.labelW) ctx.fillText(d, x0 - 4 - tw, mid);
  }

  drawLane() {
    const dpr = window.devicePixelRatio || 1;
    const w = this.scroll.clientWidth;
    this.lane.width = Math.round(w * dpr);
    this.lane.height = Math.round(LANE_H * dpr);
    this.lane.style.width = `${w}px`;
    this.lane.style.height = `${LANE_H}px`;
    const ctx = this.lane.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, LANE_H);
    this.w = w;
    this.labelW = Math.max(220, Math.min(480, Math.floor(w * 0.36)));
    const cols = Math.max(1, Math.floor(w - this.labelW - 8));
    const {counts, max} = this.trace.concurrency(cols);
    const jobs = this.opts.jobs || 0;
    const top = Math.max(max, jobs, 1);
    ctx.fillStyle = COLORS.lane;
    for (let c = 0; c < cols; c++) {
      const hh = (counts[c] / top) * (LANE_H - 14);
      ctx.fillRect(this.labelW + c, LANE_H - hh, 1, hh);
    }
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = COLORS.text;
    ctx.textBaseline = 'top';
    ctx.fillText(`busy processes: peak ${max}`, 6, 4);
    // time ticks
    const tr = this.trace, spanUs = tr.t1 - tr.t0;
    const step = niceStep(spanUs / 6);
    ctx.fillStyle = COLORS.dim;
    for (let t = 0; t <= spanUs; t += step) {
      const x = this.x(tr.t0 + t);
      ctx.fillRect(x, 0, 1, 4);
      ctx.fillText(fmtDur(t * 1000), x + 2, 2);
    }
    ctx.fillStyle = COLORS.text;
    if (jobs) {
      const y = LANE_H - (jobs / top) * (LANE_H - 14);
      ctx.strokeStyle = COLORS.jline;
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      ctx.moveTo(this.labelW, y + 0.5);
      ctx.lineTo(w, y + 0.5);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = COLORS.jline;
      ctx.fillText(`-j${jobs} asked`, 6, 20);
    }
    this.peak = max;
  }

  onClick(e) {
    const rect = this.canvas.getBoundingClientRect();
    // the canvas stays at the top of the viewport: row i is drawn at i * ROW_H - scrollTop
    const i = Math.floor((e.clientY - rect.top + this.scroll.scrollTop) / ROW_H);
    const x = e.clientX - rect.left;
    const r = this.rows[i];
    if (!r) return;
    const indent = 6 + r.depth * INDENT;
    if (r.kind === 'group' || (x >= indent - 4 && x <= indent + 12)) this.toggle(i);
    this.select(i, {scroll: false});
    this.scroll.focus({preventScroll: true});
  }

  // What the rows say, for tests and screen readers.
  describe(i) {
    const r = this.rows[i];
    if (!r) return '';
    if (r.kind === 'group') return groupLabel(r.name, r.members, r.st);
    const s = r.s;
    const parts = [s.name];
    if (s.pid !== null) parts.push(`pid ${s.pid}`);
    if (s.exit !== null) parts.push(`exit ${s.exit}`);
    if (s.sig !== null) parts.push(`signal ${s.sig}`);
    parts.push(fmtDur(s.dur));
    if (s.crit) parts.push('on the critical path');
    return parts.join(', ');
  }
}
