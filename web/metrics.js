// metrics: charts of any metric in the store, drawn with uPlot (served by the server from the
// build's copy of the npm package): lines for sums and gauges, bars (the latest
// distribution) or a heatmap (buckets over time) for histograms. A chart can be pinned to
// the home view with its type (POST /api/v1/views: the documents' register_view); exemplar
// points link to their traces.

import {el, clear, api, qs, fmtTime, attrText, debounce} from './util.js';

const PALETTE = ['#4a86c5', '#e8912d', '#3d9970', '#d0453b', '#8e6cc4', '#c4a000', '#2aa4b3', '#b5487f'];
const MAX_SERIES = 10;

function seriesLabel(s, i) {
  const a = Object.entries(s.attributes || {}).map(([k, v]) => `${k}=${attrText(v)}`);
  const svc = s.resource && s.resource['service.name'];
  const pid = s.resource && s.resource['process.pid'];
  if (svc) a.unshift(String(svc) + (pid ? `[${pid}]` : ''));
  return a.join(' ') || `series ${i + 1}`;
}

function fmtValue(v) {
  return typeof v === 'number' && !Number.isInteger(v) ? String(Number(v.toPrecision(6))) : String(v);
}

function isHist(type) {
  return type === 'histogram' || type === 'exp_histogram';
}

export function defaultChart(type) {
  return isHist(type) ? 'bars' : 'line';
}

// Draws metric data m (GET /api/v1/metrics) into host as `chart`. Returns {destroy()}.
export function drawChart(host, m, chart, opts = {}) {
  clear(host);
  const width = Math.max(300, host.clientWidth || opts.width || 640);
  const height = opts.height || 240;
  const series = (m.series || []).slice(0, MAX_SERIES);
  if (typeof uPlot === 'undefined') {
    host.append(el('p', {class: 'error'}, 'uPlot is not installed (npm ci in web/): no charts.'));
    return {destroy() {}};
  }
  if (!series.length) {
    host.append(el('p', {class: 'hint'}, 'no points'));
    return {destroy() {}};
  }
  if (isHist(m.type) && chart === 'heatmap') return heatmap(host, m, series, width, height);
  if (isHist(m.type)) return distribution(host, m, series, width, height, chart);
  if (chart === 'bars') return lastValues(host, m, series, width, height);
  return lines(host, m, series, width, height, opts);
}

function lines(host, m, series, width, height, opts) {
  // one x axis for all series (seconds), nulls where a series has no point
  const xs = new Set();
  for (const s of series) for (const p of s.points) xs.add(p[0]);
  const ex = [];
  for (const s of series) for (const e of s.exemplars || []) if (e.trace_id) ex.push(e);
  for (const e of ex) xs.add(e.time_ns);
  const x = [...xs].sort((a, b) => a - b);
  const at = new Map(x.map((t, i) => [t, i]));
  const data = [x.map((t) => t / 1e9)];
  for (const s of series) {
    const y = new Array(x.length).fill(null);
    for (const p of s.points) y[at.get(p[0])] = typeof p[1] === 'number' ? p[1] : Number(p[1]);
    data.push(y);
  }
  const useries = [{}].concat(series.map((s, i) => ({label: seriesLabel(s, i), stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: true})));
  if (ex.length) {
    const y = new Array(x.length).fill(null);
    for (const e of ex) y[at.get(e.time_ns)] = e.value;
    data.push(y);
    useries.push({label: 'exemplars', stroke: '#d0453b', paths: () => null, points: {show: true, size: 8, fill: '#d0453b'}});
  }
  const u = new uPlot({
    width, height, series: useries,
    axes: [{}, {label: m.unit || ''}],
    legend: {show: !opts.compact},
    cursor: {points: {size: 6}},
  }, data, host);
  if (ex.length) {
    const byIdx = new Map();
    for (const e of ex) byIdx.set(at.get(e.time_ns), e);
    u.over.addEventListener('click', () => {
      const e = byIdx.get(u.cursor.idx);
      if (e) location.hash = `#/trace/${e.trace_id}${e.span_id ? '/' + e.span_id : ''}`;
    });
    if (!opts.compact) {
      host.append(el('ul', {class: 'exemplars', id: 'exemplars'}, ex.slice(0, 20).map((e) => el('li', null,
        el('a', {href: `#/trace/${e.trace_id}${e.span_id ? '/' + e.span_id : ''}`}, `exemplar ${fmtValue(e.value)} at ${fmtTime(e.time_ns)}`)))));
    }
  }
  return u;
}

function lastValues(host, m, series, width, height) {
  const labels = series.map(seriesLabel);
  const vals = series.map((s) => {
    const p = s.points[s.points.length - 1];
    return p ? Number(p[1]) : 0;
  });
  return barChart(host, labels, vals, width, height, m.unit || '');
}

function barChart(host, labels, vals, width, height, unit) {
  const x = labels.map((_, i) => i);
  return new uPlot({
    width, height,
    scales: {x: {time: false, range: [-0.5, labels.length - 0.5]}},
    series: [{}, {label: unit || 'value', fill: 'rgba(74,134,197,0.6)', stroke: '#4a86c5', paths: uPlot.paths.bars({size: [0.8, 60]}), points: {show: false}}],
    axes: [{values: (u, ticks) => ticks.map((t) => (Number.isInteger(t) && labels[t] !== undefined ? labels[t] : ''))}, {}],
  }, [x, vals], host);
}

// The latest point of each series, buckets summed: how the values were distributed.
function distribution(host, m, series, width, height) {
  let bounds = null, counts = null;
  for (const s of series) {
    const p = s.points[s.points.length - 1];
    if (!p || !p.counts) continue;
    if (!bounds) {
      bounds = p.bounds || [];
      counts = p.counts.slice();
    } else if (p.counts.length === counts.length) {
      for (let i = 0; i < counts.length; i++) counts[i] += p.counts[i];
    }
  }
  if (!counts) {
    host.append(el('p', {class: 'hint'}, 'no bucket counts (exponential histograms are drawn as their mean)'));
    return {destroy() {}};
  }
  const labels = counts.map((_, i) => (i === 0 ? `\u2264${bounds[0] ?? '+inf'}` : i < bounds.length ? `\u2264${bounds[i]}` : `>${bounds[bounds.length - 1]}`));
  return barChart(host, labels, counts, width, height, 'count');
}

// Buckets over time: each column a point (its counts, or the increase over the previous
// point for cumulative histograms), each cell's darkness its share of the column's peak.
function heatmap(host, m, series, width, height) {
  const s = series[0];
  const pts = s.points.filter((p) => p.counts);
  const canvas = el('canvas', {class: 'heatmap', width, height, id: 'heatmap'});
  host.append(canvas);
  if (!pts.length) return {destroy() {}};
  const cum = m.temporality === 'cumulative';
  const cols = pts.map((p, i) => (cum && i > 0 && pts[i - 1].counts.length === p.counts.length
    ? p.counts.map((c, k) => Math.max(0, c - pts[i - 1].counts[k])) : p.counts));
  const nb = Math.max(...cols.map((c) => c.length));
  let peak = 1;
  for (const c of cols) for (const v of c) if (v > peak) peak = v;
  const ctx = canvas.getContext('2d');
  const left = 60, bottom = 20;
  const cw = (width - left) / cols.length, ch = (height - bottom) / nb;
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = '#1d2330';
  const bounds = pts[pts.length - 1].bounds || [];
  for (let b = 0; b < nb; b += Math.ceil(nb / 8)) ctx.fillText(b < bounds.length ? `\u2264${bounds[b]}` : '+inf', 2, height - bottom - b * ch - ch / 2 + 4);
  ctx.fillText(fmtTime(pts[0].time_ns).slice(11, 19), left, height - 5);
  cols.forEach((c, i) => c.forEach((v, b) => {
    if (!v) return;
    ctx.fillStyle = `rgba(74,134,197,${0.15 + 0.85 * (v / peak)})`;
    ctx.fillRect(left + i * cw, height - bottom - (b + 1) * ch, Math.ceil(cw), Math.ceil(ch));
  }));
  return {destroy() {}};
}

async function fetchMetric(name) {
  return api(`/api/v1/metrics${qs({name, since: '1h', limit: 20000})}`);
}

// ---- the metrics view ---------------------------------------------------------------------

export class MetricsView {
  constructor(host, name) {
    this.host = host;
    this.name = name;
    this.filter = el('input', {type: 'search', id: 'metric-filter', placeholder: 'filter names', oninput: () => this.renderNames()});
    this.list = el('ul', {class: 'metric-names', id: 'metric-names'});
    this.chartType = el('select', {id: 'chart-type', onchange: () => this.draw()},
      ['line', 'bars', 'heatmap'].map((c) => el('option', {value: c}, c)));
    this.pin = el('button', {id: 'pin', onclick: () => this.doPin()}, 'pin to home');
    this.title = el('h3', {id: 'metric-title'});
    this.info = el('p', {class: 'hint'});
    this.chartHost = el('div', {class: 'chart', id: 'metric-chart'});
    this.err = el('div', {class: 'error', role: 'alert'});
    host.append(el('div', {class: 'metrics'},
      el('div', {class: 'metric-side'}, this.filter, this.list),
      el('div', {class: 'metric-main'}, el('div', {class: 'toolbar'}, this.title, this.chartType, this.pin), this.info, this.err, this.chartHost)));
    this.refresh = debounce(() => this.loadMetric(), 500);
    this.loadNames();
  }

  async loadNames() {
    try {
      this.names = await api('/api/v1/metric-names');
      this.err.textContent = '';
    } catch (e) {
      this.names = [];
      this.err.textContent = e.status === 404 ? 'This server does not keep metrics yet.' : e.message;
    }
    this.renderNames();
    if (!this.name && this.names.length) this.name = this.names[0].name;
    if (this.name) this.loadMetric();
  }

  renderNames() {
    const f = this.filter.value.trim().toLowerCase();
    clear(this.list).append(...this.names.filter((n) => n.name.toLowerCase().includes(f)).map((n) =>
      el('li', {class: n.name === this.name ? 'active' : ''},
        el('a', {href: `#/metrics/${encodeURIComponent(n.name)}`, dataset: {metric: n.name}}, n.name), el('span', {class: 'hint'}, ` ${n.type}`))));
  }

  async loadMetric() {
    try {
      this.m = await fetchMetric(this.name);
      this.err.textContent = '';
    } catch (e) {
      this.err.textContent = e.message;
      return;
    }
    if (!this.chartChosen) this.chartType.value = defaultChart(this.m.type);
    this.draw();
  }

  draw() {
    const m = this.m;
    if (!m) return;
    this.chartChosen = this.chartType.value !== defaultChart(m.type) || this.chartChosen;
    this.title.textContent = m.name;
    this.info.textContent = `${m.type}${m.temporality ? ', ' + m.temporality : ''}${m.unit ? ', unit ' + m.unit : ''}` +
      `${m.description ? ' \u2014 ' + m.description : ''}; ${(m.series || []).length} series`;
    if (this.chart && this.chart.destroy) this.chart.destroy();
    this.chart = drawChart(this.chartHost, m, this.chartType.value);
    this.chartHost.dataset.drawn = m.name;
  }

  async doPin() {
    const body = new URLSearchParams({metric: this.name, chart: this.chartType.value});
    try {
      await api('/api/v1/views', {method: 'POST', body});
      this.pin.textContent = 'pinned \u2713';
    } catch (e) {
      this.err.textContent = e.message;
    }
  }

  onLive(type, data) {
    if (type === 'metrics') {
      if (data.names.some((n) => !this.names.some((x) => x.name === n))) this.loadNames();
      else if (data.names.includes(this.name)) this.refresh();
    } else if (type === 'hello') {
      this.loadNames();
    }
  }

  destroy() {
    if (this.chart && this.chart.destroy) this.chart.destroy();
  }
}

// ---- pinned charts on the home view -------------------------------------------------------

export class PinnedCharts {
  constructor(host) {
    this.host = host;
    this.cards = new Map();
    this.refresh = debounce((names) => this.reload(names), 1000);
    this.load();
  }

  async load() {
    let views = [];
    try {
      views = await api('/api/v1/views');
    } catch (e) {
      return;
    }
    clear(this.host);
    this.cards.clear();
    if (!views.length) return;
    this.host.append(el('h3', null, 'pinned charts'));
    const grid = el('div', {class: 'cards'});
    this.host.append(grid);
    for (const v of views) {
      const body = el('div', {class: 'chart'});
      const card = el('div', {class: 'card', dataset: {view: v.id, metric: v.metric}},
        el('div', {class: 'card-head'}, el('a', {href: `#/metrics/${encodeURIComponent(v.metric)}`}, v.metric), el('span', {class: 'hint'}, ` ${v.chart}`),
          el('button', {class: 'unpin', title: 'unpin', onclick: () => this.unpin(v.id)}, '\u00d7')),
        body);
      grid.append(card);
      this.cards.set(v.id, {v, body});
      this.drawOne(v, body);
    }
  }

  async drawOne(v, body) {
    try {
      const m = await fetchMetric(v.metric);
      drawChart(body, m, v.chart, {compact: true, width: 420, height: 180});
      body.dataset.drawn = v.metric;
    } catch (e) {
      clear(body).append(el('p', {class: 'hint'}, e.message));
    }
  }

  reload(names) {
    for (const {v, body} of this.cards.values()) if (!names || names.includes(v.metric)) this.drawOne(v, body);
  }

  async unpin(id) {
    await api(`/api/v1/views/${id}`, {method: 'DELETE'});
    this.load();
  }

  onLive(data) {
    if (data.names && [...this.cards.values()].some(({v}) => data.names.includes(v.metric))) this.refresh(data.names);
  }

  destroy() {}
}
