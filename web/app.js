// app: the dashboard's entry. A hash router over five views (runs, one trace, logs, metrics,
// alerts) and the live feed: one EventSource on /api/v1/live while the tab is visible
// (closed when it is hidden; on its return the open view fetches what it missed).

import {el, clear, api, bootApi, qs, fmtDur, fmtTime, fmtInt, runCommand, debounce, attrText, SEVERITY, severityClass} from './util.js';
import {Trace, Waterfall, groupLabel} from './waterfall.js';
import {LogsView} from './logs.js';
import {MetricsView, PinnedCharts} from './metrics.js';

const main = document.getElementById('main');
const liveDot = document.getElementById('live');

// ---- the live feed ------------------------------------------------------------------------

class Live {
  constructor() {
    this.es = null;
    this.handlers = new Set();
    this.events = 0;
    this.lastEventAt = 0; // performance.now() of the last event
    this.lastServerT = 0; // the server's clock (ms) in the last event
    this.hellos = 0;
    this.timedOut = false;
    this.helloWaiters = [];
    // Views load once the feed is up (or after 400 ms without it), so nothing committed
    // between their fetch and the feed's start is missed; a later hello (a reconnect, or a
    // first one after those 400 ms) makes them fetch again. The runs view fetches at once
    // and catches up at the first hello (afterHello).
    this.ready = new Promise((res) => {
      this.setReady = res;
      setTimeout(() => {
        this.timedOut = true;
        res();
      }, 400);
    });
    document.addEventListener('visibilitychange', () => this.sync());
    this.sync();
  }

  sync() {
    if (document.hidden) this.close();
    else if (!this.es) this.open();
  }

  open() {
    const es = new EventSource('/api/v1/live');
    this.es = es;
    this.state('connecting');
    for (const type of ['hello', 'runs', 'spans', 'logs', 'metrics', 'reset']) {
      es.addEventListener(type, (e) => {
        let data = {};
        try {
          data = JSON.parse(e.data);
        } catch (err) { /* keep {} */ }
        this.events++;
        this.lastEventAt = performance.now();
        if (data.t) this.lastServerT = data.t;
        if (type === 'hello') {
          this.state('live');
          if (this.hellos++ === 0) {
            for (const fn of this.helloWaiters.splice(0)) fn();
            if (!this.timedOut) {
              this.setReady();
              return;
            }
          }
        }
        for (const h of this.handlers) h(type, data);
      });
    }
    es.onerror = () => this.state(es.readyState === EventSource.CLOSED ? 'off' : 'connecting');
  }

  close() {
    if (this.es) this.es.close();
    this.es = null;
    this.state('paused');
  }

  state(s) {
    this.status = s;
    liveDot.className = `live live-${s}`;
    liveDot.textContent = s === 'live' ? 'live' : s === 'paused' ? 'paused (tab hidden)' : s;
  }

  on(fn) {
    this.handlers.add(fn);
    return () => this.handlers.delete(fn);
  }

  // fn runs at the feed's first hello (at once if it came already).
  afterHello(fn) {
    if (this.hellos > 0) fn();
    else this.helloWaiters.push(fn);
  }
}

const live = new Live();

// ---- runs (home) --------------------------------------------------------------------------

class RunsView {
  constructor(host, params) {
    this.host = host;
    this.where = params.get('where') || '';
    this.sort = params.get('sort') || 'time';
    this.runs = new Map();
    this.loadSeq = 0;
    this.pushed = null; // rows the feed pushed during a load
    this.firstScreen = true; // the first draw holds only the rows on screen
    this.filter = el('input', {
      class: 'filter', id: 'runs-filter', type: 'search', value: this.where, spellcheck: 'false',
      placeholder: 'filter runs by their spans: name = "cc1" and duration > 2s',
      onkeydown: (e) => { if (e.key === 'Enter') this.applyFilter(); },
    });
    this.sortSel = el('select', {id: 'runs-sort', onchange: () => this.setSort(this.sortSel.value)},
      ['time', 'duration', 'failures', 'processes'].map((s) => el('option', {value: s, selected: s === this.sort}, `by ${s}`)));
    this.err = el('div', {class: 'error', role: 'alert'});
    this.count = el('span', {class: 'count'});
    this.tbody = el('tbody');
    this.pinned = el('section', {class: 'pinned'});
    host.append(
      el('div', {class: 'toolbar'}, this.filter, el('button', {onclick: () => this.applyFilter()}, 'Filter'), this.sortSel, this.count),
      this.err,
      el('table', {class: 'runs', id: 'runs'},
        el('thead', null, el('tr', null, ['run', 'command', 'service', 'start', 'duration', 'processes', 'failed', 'crashed', 'exit'].map((h) => el('th', null, h)))),
        this.tbody),
      this.pinned);
    this.charts = new PinnedCharts(this.pinned);
    this.scrollHandler = () => this.onScroll();
    host.addEventListener('scroll', this.scrollHandler, {passive: true});
    this.load();
  }

  setSort(s) {
    this.sort = s;
    this.syncUrl();
    this.load();
  }

  applyFilter() {
    this.where = this.filter.value.trim();
    this.syncUrl();
    this.load();
  }

  syncUrl() {
    history.replaceState(null, '', `#/${qs({where: this.where, sort: this.sort === 'time' ? '' : this.sort})}`);
  }

  // Fetches at once, without waiting for the live feed (the first screen matters most
  // here): a fetch sent before the feed's first hello may miss what was committed between
  // its snapshot and the feed's start, so it is followed by one more load at that hello,
  // after the rows are drawn. Rows pushed by the feed while a load is under way are newer
  // than its answer and are kept; an older load's answer is dropped.
  async load() {
    const t0 = performance.now();
    const seq = ++this.loadSeq;
    const early = live.hellos === 0;
    this.pushed = new Map();
    try {
      const rows = await bootApi(`/api/v1/runs${qs({where: this.where, sort: this.sort, limit: 1000})}`);
      if (seq !== this.loadSeq || this.gone) return;
      this.err.textContent = '';
      this.runs = new Map(rows.map((r) => [r.id, r]));
      const pushed = this.pushed;
      this.pushed = null;
      for (const r of pushed.values()) this.runs.set(r.id, r);
      // the server's order is the view's (sortKey): no sort unless rows were pushed
      this.render(pushed.size ? null : rows);
      window.otelpDash.homeMs = performance.now() - t0;
    } catch (e) {
      if (seq === this.loadSeq) this.err.textContent = e.message;
    }
    if (early && seq === this.loadSeq) live.afterHello(() => { if (seq === this.loadSeq && !this.gone) this.load(); });
  }

  sortKey(r) {
    const dur = (r.end_ns || r.start_ns) - r.start_ns;
    if (this.sort === 'duration') return [-dur, -r.id];
    if (this.sort === 'failures') return [-(r.error_count + r.crash_count), -r.start_ns];
    if (this.sort === 'processes') return [-r.process_count, -r.start_ns];
    return [-r.start_ns, -r.id];
  }

  // The table is windowed: only the rows on screen (and a few around) are in the document,
  // between two spacer rows that keep the scroll height of all of them. Rows have one fixed
  // height (style.css, tr.run), measured once. Scrolling reads the layout first (the
  // container's scroll offset and size, cached) and then writes rows, once per animation
  // frame, so the browser lays out once a frame (no thrash).
  render(inOrder = null) {
    let rows = inOrder;
    if (!rows) {
      rows = [...this.runs.values()];
      const keys = new Map(rows.map((r) => [r, this.sortKey(r)]));
      rows.sort((a, b) => {
        const x = keys.get(a), y = keys.get(b);
        return x[0] - y[0] || x[1] - y[1];
      });
    }
    this.sorted = rows;
    this.tbodyTop = undefined; // what is above the table may have changed (an error shown)
    this.count.textContent = `${fmtInt(rows.length)} runs`;
    this.shown = null; // the window is drawn anew
    this.drawWindow();
  }

  onScroll() {
    if (this.scrollPending) return;
    this.scrollPending = true;
    requestAnimationFrame(() => {
      this.scrollPending = false;
      this.drawWindow();
    });
  }

  drawWindow() {
    const rows = this.sorted || [];
    const scroller = this.host; // <main>: it scrolls, the page does not
    // reads first
    const top = scroller.scrollTop, height = scroller.clientHeight || 900;
    if (this.tbodyTop === undefined && this.tbody.isConnected)
      this.tbodyTop = this.tbody.getBoundingClientRect().top - scroller.getBoundingClientRect().top + top;
    const rowH = this.rowH || 24, OVER = 20;
    // the rows on screen; the rows drawn are those and OVER either side, drawn anew only
    // when the screen leaves what is drawn (every OVER rows of scrolling, not every frame)
    const vFrom = Math.max(0, Math.floor((top - (this.tbodyTop || 0)) / rowH));
    const vTo = Math.min(rows.length, vFrom + Math.ceil(height / rowH) + 1);
    const sh = this.shown;
    if (sh && sh.rows === rows && sh.from <= Math.max(0, vFrom - 2) && sh.to >= Math.min(rows.length, vTo + 2)) return;
    // the first draw holds the rows on screen only: those OVER around come with the first
    // scroll (or the next draw)
    const over = this.firstScreen ? 0 : OVER;
    const from = Math.max(0, vFrom - over);
    const to = Math.min(rows.length, vTo + over);
    if (to > from) this.firstScreen = false;
    this.shown = {from, to, rows};
    // then writes
    const frag = document.createDocumentFragment();
    const above = this.spacer(from * rowH), below = this.spacer((rows.length - to) * rowH);
    frag.append(above);
    for (let i = from; i < to; i++) frag.append(this.row(rows[i]));
    frag.append(below);
    clear(this.tbody).append(frag);
    if (to > from && !window.otelpDash.homeFirstAt) // the first screenful's frame (bench w)
      requestAnimationFrame(() => { window.otelpDash.homeFirstAt = performance.now(); });
    if (!this.rowH && to > from) {
      // once: the real row height (a read after the write: the layout the frame needs
      // anyway). The rows drawn stay; only the spacers take the height.
      const h = this.tbody.children[1].getBoundingClientRect().height;
      this.rowH = h > 0 ? h : rowH;
      if (Math.abs(this.rowH - rowH) > 0.01) {
        above.firstChild.style.height = `${from * this.rowH}px`;
        below.firstChild.style.height = `${(rows.length - to) * this.rowH}px`;
      }
    }
  }

  spacer(px) {
    const tr = document.createElement('tr'), td = document.createElement('td');
    tr.className = 'spacer';
    tr.setAttribute('aria-hidden', 'true');
    td.colSpan = 9;
    td.style.height = `${px}px`;
    tr.append(td);
    return tr;
  }

  row(r) {
    const dur = r.end_ns ? r.end_ns - r.start_ns : null;
    const bad = r.error_count > 0 || r.crash_count > 0 || (r.exit_code !== null && r.exit_code !== 0);
    const href = `#/trace/${r.id}`;
    return el('tr', {class: bad ? 'run failed' : 'run', dataset: {run: r.id, trace: r.trace_id || ''}, onclick: () => { location.hash = href; }},
      el('td', null, el('a', {href}, `#${r.id}`)),
      el('td', {class: 'cmd'}, runCommand(r)),
      el('td', null, r.service || ''),
      el('td', null, fmtTime(r.start_ns)),
      el('td', {class: 'num'}, dur === null ? 'running' : fmtDur(dur)),
      el('td', {class: 'num'}, fmtInt(r.process_count)),
      el('td', {class: r.error_count ? 'num bad' : 'num'}, fmtInt(r.error_count)),
      el('td', {class: r.crash_count ? 'num bad' : 'num'}, fmtInt(r.crash_count)),
      el('td', {class: 'num'}, r.exit_code === null ? (r.signal ? `signal ${r.signal}` : '') : String(r.exit_code)));
  }

  async onLive(type, data) {
    if (type === 'hello' || type === 'reset') return this.load();
    if (type === 'metrics') this.charts.onLive(data);
    if (type !== 'runs') return;
    let rows = data.runs;
    if (this.where) { // pushed rows may not match the filter: ask for just those runs
      try {
        rows = await api(`/api/v1/runs${qs({where: this.where, ids: rows.map((r) => r.id).join(',')})}`);
      } catch (e) {
        return;
      }
    }
    for (const r of rows) {
      this.runs.set(r.id, r);
      if (this.pushed) this.pushed.set(r.id, r);
    }
    if (this.sorted) this.render(); // else the load under way draws them
  }

  destroy() {
    this.gone = true;
    this.host.removeEventListener('scroll', this.scrollHandler);
    this.charts.destroy();
  }
}

// ---- one trace ----------------------------------------------------------------------------

function jobsOf(command) {
  const m = /(?:^|\s)(?:-j\s*|--jobs[= ])(\d+)/.exec(command || '');
  return m ? Number(m[1]) : 0;
}

class TraceView {
  constructor(host, id, spanId) {
    this.host = host;
    this.id = id;
    this.wantSpan = spanId;
    this.t0 = performance.now();
    this.title = el('h2', {class: 'trace-title'}, `trace ${id}`);
    this.stats = el('span', {class: 'stats'});
    this.search = el('input', {
      type: 'search', id: 'trace-search', placeholder: 'search: name, pid or span id  ( / )', spellcheck: 'false',
      oninput: debounce(() => this.doSearch(), 120),
      onkeydown: (e) => {
        if (e.key === 'Enter') { e.preventDefault(); this.showMatch(this.wf.nextMatch(e.shiftKey ? -1 : 1)); }
        if (e.key === 'Escape') { this.search.value = ''; this.doSearch(); this.wf.scroll.focus(); }
      },
    });
    this.matchInfo = el('span', {class: 'count', id: 'search-count'});
    this.failInfo = el('span', {class: 'count', id: 'failure-count'});
    this.crit = el('input', {type: 'checkbox', id: 'crit', checked: true, onchange: () => { this.wf.showCrit = this.crit.checked; this.wf.schedule(); }});
    this.status = el('div', {class: 'wf-status', id: 'wf-status', 'aria-live': 'polite'});
    this.err = el('div', {class: 'error', role: 'alert'});
    this.wfHost = el('div', {class: 'wf-host'});
    this.detail = el('aside', {class: 'detail', id: 'detail'}, el('p', {class: 'hint'}, 'Select a row: click, or j/k and Enter. n/p: next/previous failure.'));
    host.append(
      el('div', {class: 'toolbar'}, el('a', {href: '#/', class: 'back'}, '\u2190 runs'), this.title, this.stats),
      el('div', {class: 'toolbar'},
        this.search, this.matchInfo,
        el('button', {id: 'prev-failure', title: 'previous failure (p)', onclick: () => this.failure(-1)}, '\u25c0 failure'),
        el('button', {id: 'next-failure', title: 'next failure (n)', onclick: () => this.failure(1)}, 'failure \u25b6'),
        this.failInfo,
        el('label', null, this.crit, ' critical path'),
        el('button', {id: 'collapse-all', onclick: () => this.collapseAll()}, 'collapse all'),
        el('a', {href: `#/logs${qs({trace: id})}`, id: 'trace-logs'}, 'logs of this trace')),
      this.err,
      el('div', {class: 'trace-body'}, el('div', {class: 'trace-main'}, this.wfHost, this.status), this.detail));
    this.trace = null;
    this.keys = (e) => this.onKey(e);
    document.addEventListener('keydown', this.keys);
    this.load();
  }

  async fetchFlat() {
    let more = true, guard = 0;
    while (more && guard++ < 100) {
      const flat = await api(`/api/v1/traces/${encodeURIComponent(this.id)}/flat${qs({after: this.trace ? this.trace.maxId : 0})}`);
      if (!this.trace) this.trace = new Trace(flat.trace_id);
      this.trace.add(flat);
      more = flat.more;
    }
  }

  async load() {
    await live.ready;
    try {
      await this.fetchFlat();
    } catch (e) {
      this.err.textContent = e.message;
      return;
    }
    const tr = this.trace;
    tr.link();
    let run = null;
    if (tr.runId) {
      try {
        run = (await api(`/api/v1/runs${qs({ids: tr.runId})}`))[0] || null;
      } catch (e) { /* the title stays plain */ }
    }
    this.run = run;
    const cmd = run ? runCommand(run) : tr.roots.length ? tr.roots[0].name : '';
    this.title.textContent = run ? `#${run.id} ${cmd}` : cmd;
    this.wf = new Waterfall(this.wfHost, tr, {
      jobs: jobsOf(cmd),
      onSelect: (r) => this.onSelect(r),
      onDraw: () => { if (!this.ready) { this.markReady(); this.updateStats(); } },
    });
    this.wf.rebuild();
    this.updateStats();
    if (this.wantSpan && tr.bySid.has(this.wantSpan)) this.wf.selectSpan(tr.bySid.get(this.wantSpan));
    window.otelpDash.trace = this;
  }

  markReady() {
    this.ready = true;
    window.otelpDash.traceReadyMs = performance.now() - this.t0;
    this.host.dataset.ready = '1';
  }

  updateStats() {
    const tr = this.trace;
    this.stats.textContent = `${fmtInt(tr.spans.length)} spans, ${fmtInt(tr.processes.length)} processes, ` +
      `${fmtInt(tr.failures.length)} failed, ${fmtDur((tr.t1 - tr.t0) * 1000)}` +
      (this.wf.peak !== undefined ? `, at most ${this.wf.peak} busy processes at once` : '');
    this.failInfo.textContent = tr.failures.length ? `${tr.failures.length} failures` : 'no failures';
  }

  doSearch() {
    const n = this.wf.search(this.search.value);
    this.matchInfo.textContent = this.search.value.trim() ? `${fmtInt(n)} matches` : '';
  }

  showMatch(m) {
    if (m) this.matchInfo.textContent = `${m.index + 1} / ${fmtInt(m.total)}`;
  }

  failure(dir) {
    const f = this.wf.failure(dir);
    if (f) this.failInfo.textContent = `failure ${f.index + 1} / ${f.total}`;
  }

  collapseAll() {
    for (const s of this.trace.spans) if (s.children.length && s.parent) this.wf.collapsed.add(s.sid);
    this.wf.openGroups.clear();
    this.wf.rebuild();
  }

  onKey(e) {
    if (!this.wf) return;
    const t = e.target;
    if (t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA')) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const k = e.key;
    const wf = this.wf;
    if (k === 'j' || k === 'ArrowDown') wf.move(1);
    else if (k === 'k' || k === 'ArrowUp') wf.move(-1);
    else if (k === 'PageDown') wf.move(20);
    else if (k === 'PageUp') wf.move(-20);
    else if (k === 'Enter' || k === ' ') wf.toggle(wf.sel);
    else if (k === 'h' || k === 'ArrowLeft') wf.setExpanded(wf.sel, false);
    else if (k === 'l' || k === 'ArrowRight') wf.setExpanded(wf.sel, true);
    else if (k === 'n') this.failure(1);
    else if (k === 'p') this.failure(-1);
    else if (k === '/') this.search.focus();
    else return;
    e.preventDefault();
  }

  onSelect(r) {
    this.status.textContent = this.wf.describe(this.wf.sel);
    if (r.kind === 'group') return this.showGroup(r);
    const s = r.s;
    history.replaceState(null, '', `#/trace/${this.id}/${s.sid}`);
    this.showSpan(s);
  }

  showGroup(r) {
    const slow = r.members.slice().sort((a, b) => b.dur - a.dur).slice(0, 15);
    clear(this.detail).append(
      el('h3', null, groupLabel(r.name, r.members, r.st)),
      el('p', null, `${fmtInt(r.members.length)} runs of ${r.name}; Enter or a click expands them.`),
      el('h4', null, 'slowest'),
      el('ul', {class: 'members'}, slow.map((m) => el('li', null,
        el('a', {href: '#', onclick: (e) => { e.preventDefault(); this.wf.selectSpan(m); }}, `${m.name} ${m.pid ?? ''}`),
        ` ${fmtDur(m.dur)}`, m.failed ? el('span', {class: 'bad'}, ' failed') : ''))));
  }

  async showSpan(s) {
    const token = (this.detailToken = {});
    clear(this.detail).append(el('h3', null, s.name), el('p', {class: 'hint'}, 'loading\u2026'));
    let d;
    try {
      d = await api(`/api/v1/traces/${this.trace.traceId}/spans/${s.sid}`);
    } catch (e) {
      if (token === this.detailToken) clear(this.detail).append(el('div', {class: 'error'}, e.message));
      return;
    }
    if (token !== this.detailToken) return;
    this.renderDetail(s, d.span, d.logs);
  }

  renderDetail(s, sp, logs) {
    const attrs = sp.attributes || {};
    const facts = [
      ['duration', fmtDur(sp.duration_ns)], ['start', fmtTime(sp.start_ns)],
      ['status', `${sp.status_code}${sp.status_message ? ': ' + sp.status_message : ''}`],
      ['pid', sp.pid], ['parent pid', sp.ppid], ['exit code', sp.exit_code], ['signal', sp.signal],
      ['service', sp.service_name], ['span id', sp.span_id], ['parent span', sp.parent_span_id],
    ].filter(([, v]) => v !== null && v !== undefined && v !== '');
    const usage = Object.entries(attrs).filter(([k]) => /^process\.(cpu|memory|paging|context_switches|io)/.test(k));
    const exc = (sp.events || []).filter((e) => e.name === 'exception');
    const section = (title, ...body) => el('section', {class: 'dsec'}, el('h4', null, title), ...body);
    const kv = (obj, id) => el('table', {class: 'kv', id},
      Object.entries(obj).map(([k, v]) => el('tr', null, el('th', null, k), el('td', null, attrText(v)))));
    const parts = [el('h3', {class: s.failed ? 'bad' : ''}, sp.name), kv(Object.fromEntries(facts), 'span-facts')];
    if (exc.length) {
      parts.push(section('crash', ...exc.map((e) => el('div', {class: 'crash'},
        el('p', null, `${e.attributes['exception.type'] || ''} ${e.attributes['exception.message'] || ''}`),
        el('pre', {class: 'stack', id: 'crash-stack'}, e.attributes['exception.stacktrace'] || '(no stack)')))));
    }
    if (usage.length) parts.push(section('resource usage', kv(Object.fromEntries(usage), 'span-usage')));
    parts.push(section(`logs (${logs.length})`,
      logs.length ? el('ul', {class: 'loglist', id: 'span-logs'}, logs.map((l) => el('li', {class: severityClass(l.severity_number)},
        el('span', {class: 'sev'}, SEVERITY[l.severity_number] || l.severity_text || ''), ' ',
        el('span', {class: 'body'}, attrText(l.body))))) : el('p', {class: 'hint'}, 'none'),
      el('a', {href: `#/logs${qs({trace: this.trace.traceId, span: s.sid})}`, id: 'span-logs-link'}, 'open in logs \u2192')));
    parts.push(section('attributes', kv(attrs, 'span-attrs')));
    if ((sp.events || []).length) {
      parts.push(section('events', el('ul', {class: 'events'}, sp.events.map((e) => el('li', null,
        el('b', null, e.name), ` ${fmtTime(e.time_ns)} `, kv(e.attributes || {}))))));
    }
    if ((sp.links || []).length) {
      parts.push(section('links', el('ul', null, sp.links.map((l) => el('li', null,
        el('a', {href: `#/trace/${l.trace_id}/${l.span_id}`}, `${l.trace_id.slice(0, 12)}\u2026 / ${l.span_id}`))))));
    }
    parts.push(section('resource', kv(sp.resource || {}, 'span-resource')));
    clear(this.detail).append(...parts);
  }

  async onLive(type, data) {
    if (!this.trace) return;
    if (type === 'spans' && !data.traces.some((t) => t.trace_id === this.trace.traceId)) return;
    if (type !== 'spans' && type !== 'hello' && type !== 'reset') return;
    if (this.fetching) { this.again = true; return; }
    this.fetching = true;
    try {
      const before = this.trace.spans.length;
      await this.fetchFlat();
      if (this.trace.spans.length !== before) {
        if (window.otelpDash.onSpansAdded) window.otelpDash.onSpansAdded(this.trace.spans.slice(before));
        this.trace.link();
        this.wf.rebuild();
        // the lane counts every process again: at most once a second while spans pour in
        const now = performance.now();
        if (!(now - (this.laneAt || 0) < 1000)) {
          this.laneAt = now;
          this.wf.drawLane();
        } else if (!this.laneTimer) {
          this.laneTimer = setTimeout(() => { this.laneTimer = 0; this.laneAt = performance.now(); this.wf.drawLane(); }, 1000);
        }
        this.updateStats();
      }
    } catch (e) { /* the next event tries again */ }
    this.fetching = false;
    if (this.again) { this.again = false; this.onLive('hello', {}); }
  }

  destroy() {
    clearTimeout(this.laneTimer);
    document.removeEventListener('keydown', this.keys);
    if (this.wf) this.wf.destroy();
    if (window.otelpDash.trace === this) window.otelpDash.trace = null;
  }
}

// ---- alerts (served by the alerts module when it is there) --------------------------------

class AlertsView {
  constructor(host) {
    this.host = host;
    this.load();
  }

  async load() {
    let a;
    try {
      a = await api('/api/v1/alerts');
    } catch (e) {
      clear(this.host).append(el('p', {class: 'hint'}, e.status === 404 ? 'This server has no alert rules loaded (otel-preload dash --rules FILE).' : e.message));
      return;
    }
    const rules = a.rules || [];
    const labelText = (o) => Object.entries(o || {}).map(([k, v]) => `${k}=${v}`).join(', ');
    const recordLink = (r) => (r.trace_id
      ? el('a', {href: r.span_id ? `#/trace/${r.trace_id}/${r.span_id}` : `#/trace/${r.trace_id}`, class: 'alert-record'},
        `${r.name || r.signal} ${r.value ?? ''}`.trim())
      : el('span', {class: 'alert-record'}, `${r.name || r.signal} ${r.value ?? ''} ${fmtTime(r.time_ns)}`.trim()));
    const alerts = [];
    for (const r of rules) for (const x of r.alerts || []) alerts.push([r, x]);
    const history = a.history || [];
    clear(this.host).append(el('h2', null, 'alerts'),
      rules.length ? '' : el('p', {class: 'hint'}, 'No alert rules loaded (otel-preload dash --rules FILE, docs/ALERTS.md).'),
      el('table', {class: 'runs', id: 'alerts'},
      el('thead', null, el('tr', null, ['rule', 'state', 'signal', 'where', 'alerts', 'health'].map((h) => el('th', null, h)))),
      el('tbody', null, rules.map((r) => el('tr', {class: r.state === 'firing' ? 'failed' : ''},
        el('td', null, r.name), el('td', null, r.state), el('td', null, r.signal), el('td', {class: 'cmd'}, r.where || ''),
        el('td', {class: 'num'}, String((r.alerts || []).length)), el('td', null, r.health + (r.error ? `: ${r.error}` : '')))))),
      // each alert (a rule and one label set) with the records that made it fire, linked to their traces
      alerts.length ? el('h3', null, 'active and recent') : '',
      alerts.length ? el('table', {class: 'runs', id: 'alert-instances'},
        el('thead', null, el('tr', null, ['rule', 'state', 'labels', 'value', 'since', 'records'].map((h) => el('th', null, h)))),
        el('tbody', null, alerts.map(([r, x]) => el('tr', {class: x.state === 'firing' ? 'failed' : '', 'data-rule': r.name},
          el('td', null, r.name), el('td', null, x.state), el('td', {class: 'cmd'}, labelText(x.labels)),
          el('td', {class: 'num'}, x.value === null || x.value === undefined ? '' : String(x.value)),
          el('td', null, fmtTime(x.fired_at_ns || x.active_at_ns)),
          el('td', null, ...(x.records || []).map((rec) => el('div', null, recordLink(rec)))))))) : '',
      history.length ? el('h3', null, 'history') : '',
      history.length ? el('table', {class: 'runs', id: 'alert-history'},
        el('thead', null, el('tr', null, ['time', 'rule', 'labels', 'change', 'value'].map((h) => el('th', null, h)))),
        el('tbody', null, history.map((h) => el('tr', null,
          el('td', null, fmtTime(h.time_ns)), el('td', null, h.rule), el('td', {class: 'cmd'}, labelText(h.labels)),
          el('td', null, `${h.from} \u2192 ${h.to}`),
          el('td', {class: 'num'}, h.value === null || h.value === undefined ? '' : String(h.value)))))) : '');
    this.host.dataset.ready = '1';
  }

  onLive() {
    // new data may change an alert: reload at most once a second
    if (!this.timer) this.timer = setTimeout(() => { this.timer = null; this.load(); }, 1000);
  }

  destroy() {
    clearTimeout(this.timer);
  }
}

// ---- routing ------------------------------------------------------------------------------

let current = null;

function route() {
  const h = location.hash.replace(/^#/, '') || '/';
  const [path, query] = h.split('?');
  const params = new URLSearchParams(query || '');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (current) current.destroy();
  clear(main);
  delete main.dataset.ready;
  const nav = parts[0] || 'runs';
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.nav === nav);
  if (parts[0] === 'trace' && parts[1]) current = new TraceView(main, parts[1], parts[2]);
  else if (parts[0] === 'logs') current = new LogsView(main, params);
  else if (parts[0] === 'metrics') current = new MetricsView(main, parts[1] || '');
  else if (parts[0] === 'alerts') current = new AlertsView(main);
  else current = new RunsView(main, params);
  window.otelpDash.view = current;
}

window.otelpDash = {live, view: null, trace: null, homeMs: 0, homeFirstAt: 0, traceReadyMs: 0};
live.on((type, data) => { if (current && current.onLive) current.onLive(type, data); });
window.addEventListener('hashchange', () => {
  // a trace view rewrites its own hash on selection: don't rebuild it for that
  const m = /^#\/trace\/([^/?]+)(?:\/([0-9a-f]{16}))?/.exec(location.hash);
  if (m && current instanceof TraceView && current.id === decodeURIComponent(m[1])) {
    const tr = current.trace;
    if (m[2] && tr && tr.bySid.has(m[2]) && current.wf.selSpan !== tr.bySid.get(m[2])) current.wf.selectSpan(tr.bySid.get(m[2]));
    return;
  }
  route();
});
route();
