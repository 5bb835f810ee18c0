// logs: the live log view. Filters (severity, body text, any attribute in the filter grammar,
// one trace or one span) become one `where`; new records arrive through the live feed and
// are fetched past the last row id seen. Each record links to its span.

import {el, clear, api, qs, fmtTime, attrText, SEVERITY, severityClass} from './util.js';

const KEEP = 2000;

function quote(s) {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

export class LogsView {
  constructor(host, params) {
    this.host = host;
    this.trace = params.get('trace') || '';
    this.span = params.get('span') || '';
    this.lastId = 0;
    this.sev = el('select', {id: 'logs-sev', onchange: () => this.apply()},
      [['', 'any severity'], ['DEBUG', 'debug and up'], ['INFO', 'info and up'], ['WARN', 'warn and up'], ['ERROR', 'error and up'], ['FATAL', 'fatal']]
        .map(([v, t]) => el('option', {value: v, selected: v === (params.get('sev') || '')}, t)));
    const enter = (e) => { if (e.key === 'Enter') this.apply(); };
    this.body = el('input', {type: 'search', id: 'logs-body', placeholder: 'body contains\u2026', value: params.get('q') || '', onkeydown: enter});
    this.where = el('input', {type: 'search', id: 'logs-where', class: 'filter', spellcheck: 'false', placeholder: 'attributes: service.name = "make" and code.function exists', value: params.get('where') || '', onkeydown: enter});
    this.err = el('div', {class: 'error', role: 'alert'});
    this.count = el('span', {class: 'count', id: 'logs-count'});
    this.tbody = el('tbody');
    const scope = [];
    if (this.trace) {
      scope.push(el('span', {class: 'chip', id: 'logs-scope'},
        this.span ? `span ${this.span} of trace ${this.trace.slice(0, 12)}\u2026` : `trace ${this.trace.slice(0, 12)}\u2026`,
        ' ', el('a', {href: this.span ? `#/trace/${this.trace}/${this.span}` : `#/trace/${this.trace}`, id: 'logs-back'}, '\u2190 back to the trace'),
        ' ', el('a', {href: '#/logs'}, 'all logs')));
    }
    host.append(
      el('div', {class: 'toolbar'}, this.sev, this.body, this.where, el('button', {onclick: () => this.apply()}, 'Filter'), this.count),
      el('div', {class: 'toolbar'}, scope),
      this.err,
      el('table', {class: 'logs', id: 'logs'},
        el('thead', null, el('tr', null, ['time', 'severity', 'service', 'body', 'span'].map((h) => el('th', null, h)))),
        this.tbody));
    this.load();
  }

  filterText() {
    const parts = [];
    if (this.sev.value) parts.push(`severity >= ${this.sev.value}`);
    if (this.body.value.trim()) parts.push(`body contains ${quote(this.body.value.trim())}`);
    if (this.span) parts.push(`span_id = ${quote(this.span)}`);
    if (this.where.value.trim()) parts.push(`(${this.where.value.trim()})`);
    return parts.join(' and ');
  }

  apply() {
    const p = {trace: this.trace, span: this.span, sev: this.sev.value, q: this.body.value.trim(), where: this.where.value.trim()};
    history.replaceState(null, '', `#/logs${qs(p)}`);
    this.load();
  }

  // A load supersedes the loads and fetches under way (their answers, for an older filter,
  // are dropped).
  async load() {
    const seq = this.seq = (this.seq || 0) + 1;
    await window.otelpDash.live.ready;
    if (seq !== this.seq) return;
    this.lastId = 0;
    clear(this.tbody);
    await this.fetchMore(500);
  }

  async fetchMore(limit) {
    const seq = this.seq;
    let rows;
    try {
      rows = await api(`/api/v1/logs${qs({where: this.filterText(), trace: this.trace, after: this.lastId || '', limit})}`);
    } catch (e) {
      if (seq === this.seq) this.err.textContent = e.message;
      return;
    }
    if (seq !== this.seq) return;
    this.err.textContent = '';
    // rows come oldest first; the view shows the newest on top
    const frag = document.createDocumentFragment();
    for (let i = rows.length - 1; i >= 0; i--) frag.append(this.row(rows[i]));
    for (const r of rows) if (r.id > this.lastId) this.lastId = r.id;
    this.tbody.prepend(frag);
    while (this.tbody.childElementCount > KEEP) this.tbody.lastElementChild.remove();
    this.count.textContent = `${this.tbody.childElementCount} records`;
  }

  row(l) {
    const link = l.trace_id && l.span_id
      ? el('a', {href: `#/trace/${l.trace_id}/${l.span_id}`, class: 'to-span'}, `${l.span_id.slice(0, 8)}\u2026`)
      : '';
    return el('tr', {class: severityClass(l.severity_number), dataset: {id: l.id}},
      el('td', {class: 'time'}, fmtTime(l.time_ns)),
      el('td', {class: 'sev'}, SEVERITY[l.severity_number] || l.severity_text || ''),
      el('td', null, l.service_name || ''),
      el('td', {class: 'body'}, attrText(l.body)),
      el('td', null, link));
  }

  onLive(type) {
    if (type === 'hello' || type === 'reset') return this.load();
    if (type !== 'logs') return;
    if (this.busy) { this.again = true; return; }
    this.busy = true;
    this.fetchMore(1000).finally(() => {
      this.busy = false;
      if (this.again) { this.again = false; this.onLive('logs'); }
    });
  }

  destroy() {}
}
