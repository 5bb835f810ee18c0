// The dashboard in a real browser (Debian's chromium, headless, through playwright-core):
// `otel-preload dash` on a temporary store, real commands run under the shim against it,
// and what the pages show checked against what ran. Screenshots go to <build>/screenshots.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {spawnSync} from 'node:child_process';
import http from 'node:http';
import {Dash, BIN, browser, newPage, shot, hex, otlpSpan, tracesRequest} from './lib.mjs';

const PROGS = process.env.OTELP_PROGS || '';
let dash, b, shared;

before(async () => {
  dash = await Dash.start();
  b = await browser();
  shared = await newPage(b);
});

after(async () => {
  if (b) await b.close();
  if (dash) {
    // a clean stop (in a sanitizer build: no leak, no error)
    const end = await dash.stop();
    assert.equal(end.code, 0, end.stderr);
  }
});

// One page for the tests (a new renderer costs seconds on a loaded 2-core machine): each test
// starts it afresh on the home view.
async function home() {
  await shared.goto('about:blank');
  shared.errors.length = 0;
  await shared.goto(dash.url + '/');
  return shared;
}

// The visible rows of the open trace's waterfall (a canvas: its model is asked).
async function rows(page) {
  return page.evaluate(() => {
    const wf = window.otelpDash.trace.wf;
    return wf.rows.map((r, i) => (r.kind === 'group'
      ? {group: true, name: r.name, n: r.members.length, depth: r.depth, text: wf.describe(i)}
      : {name: r.s.name, depth: r.depth, pid: r.s.pid, ppid: r.s.ppid, exit: r.s.exit, sig: r.s.sig,
        parent: r.s.parent ? r.s.parent.name : null, parentPid: r.s.parent ? r.s.parent.pid : null}));
  });
}

async function openRun(page, runId) {
  await page.click(`tr.run[data-run="${runId}"]`);
  await page.waitForSelector('main[data-ready="1"]');
}

async function lastRun() {
  const runs = await dash.json('/api/v1/runs?limit=1');
  return runs[0];
}

test('a run appears live, and its tree is what ran', async () => {
  const page = await home();
  await page.waitForFunction(() => window.otelpDash.live.status === 'live');
  await page.evaluate(() => { window.__samePage = true; });
  const r = dash.run(['sh', '-c', '/bin/true; /bin/false; ls /nonexistent; exit 0']);
  assert.equal(r.status, 0, r.stderr);
  const run = await lastRun();
  // no reload: the row came through the live feed
  await page.waitForSelector(`tr.run[data-run="${run.id}"]`, {timeout: 5000});
  assert.equal(await page.evaluate(() => window.__samePage), true);
  const rowText = await page.textContent(`tr.run[data-run="${run.id}"]`);
  assert.match(rowText, /sh -c \/bin\/true; \/bin\/false; ls \/nonexistent; exit 0/);
  await shot(page, 'home');
  await openRun(page, run.id);
  const rs = await rows(page);
  const names = rs.map((x) => x.name);
  assert.deepEqual(names, ['otel-preload run sh', 'sh', 'true', 'false', 'ls']);
  const sh = rs[1];
  assert.equal(sh.parent, 'otel-preload run sh');
  assert.equal(sh.exit, 0);
  for (const [name, exit] of [['true', 0], ['false', 1], ['ls', 2]]) {
    const x = rs.find((y) => y.name === name);
    assert.equal(x.parent, 'sh', name);
    assert.equal(x.exit, exit, name);
    assert.equal(x.ppid, sh.pid, name);
    assert.equal(x.depth, 2, name);
  }
  // next failure (n) goes to `false`, then `ls`
  await page.locator('.wf-scroll').focus();
  await page.keyboard.press('n');
  assert.match(await page.textContent('#wf-status'), /^false, pid \d+, exit 1/);
  await page.keyboard.press('n');
  assert.match(await page.textContent('#wf-status'), /^ls, pid \d+, exit 2/);
  await page.waitForSelector('#span-facts');
  await shot(page, 'trace-detail');
  // k moves up a row: back to `false`
  await page.keyboard.press('k');
  assert.match(await page.textContent('#wf-status'), /^false/);
  // a hidden tab closes its feed; shown again, it reconnects
  const hidden = await page.evaluate(() => {
    Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
    document.dispatchEvent(new Event('visibilitychange'));
    return {status: window.otelpDash.live.status, es: window.otelpDash.live.es};
  });
  assert.deepEqual(hidden, {status: 'paused', es: null});
  await page.evaluate(() => {
    Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await page.waitForFunction(() => window.otelpDash.live.status === 'live');
  assert.deepEqual(page.errors, []);
});

test('repeated siblings collapse into one row that expands; search finds a span', async () => {
  const r = dash.run(['sh', '-c', 'for i in 1 2 3 4 5 6 7; do /bin/true; done; /bin/false; /bin/echo x >/dev/null']);
  assert.equal(r.status, 0, r.stderr);
  const run = await lastRun();
  const page = await home();
  await openRun(page, run.id);
  let rs = await rows(page);
  const g = rs.find((x) => x.group);
  assert.ok(g, JSON.stringify(rs));
  assert.equal(g.name, 'true');
  assert.equal(g.n, 7);
  assert.match(g.text, /^true x 7, p50 [\d.]+ \w+, max [\d.]+ \w+$/);
  assert.equal(rs.filter((x) => x.name === 'true' && !x.group).length, 0);
  // expand with a click on the group row, collapse again with Enter
  const gi = rs.indexOf(g);
  const box = await page.locator('.wf-canvas').boundingBox();
  await page.mouse.click(box.x + 60, box.y + gi * 22 + 11);
  rs = await rows(page);
  assert.equal(rs.filter((x) => x.name === 'true' && !x.group).length, 7);
  for (const x of rs.filter((y) => y.name === 'true' && !y.group)) {
    assert.equal(x.parent, 'sh');
    assert.equal(x.exit, 0);
    assert.equal(x.depth, 3);
  }
  await shot(page, 'trace-expanded');
  await page.keyboard.press('Enter');
  rs = await rows(page);
  assert.equal(rs.filter((x) => x.name === 'true' && !x.group).length, 0);
  // search
  await page.fill('#trace-search', 'echo');
  await page.waitForFunction(() => document.querySelector('#search-count').textContent === '1 matches');
  await page.press('#trace-search', 'Enter');
  assert.match(await page.textContent('#wf-status'), /^echo, pid \d+, exit 0/);
  // a search hit inside a collapsed group opens it
  await page.fill('#trace-search', 'true');
  await page.waitForFunction(() => document.querySelector('#search-count').textContent === '7 matches');
  await page.press('#trace-search', 'Enter');
  assert.match(await page.textContent('#wf-status'), /^true, pid \d+, exit 0/);
  assert.equal(await page.textContent('#search-count'), '1 / 7');
  // the runs filter takes the grammar: only the runs that have such a span
  await page.goto(dash.url + '/');
  await page.fill('#runs-filter', 'name = "echo" and process.exit.code = 0');
  await page.press('#runs-filter', 'Enter');
  await page.waitForFunction(() => document.querySelector('#runs .count, .count') && document.querySelectorAll('tr.run').length === 1);
  assert.equal(await page.getAttribute('tr.run', 'data-run'), String(run.id));
  await page.fill('#runs-filter', 'name = ');
  await page.press('#runs-filter', 'Enter');
  await page.waitForSelector('.error:not(:empty)');
  assert.match(await page.textContent('.error'), /column/);
  await page.selectOption('#runs-sort', 'failures');
  assert.deepEqual(page.errors, []);
});

test('from a span to its logs and back', async () => {
  const r = dash.run(['sh', '-c', 'ls /nonexistent-dir-for-logs; exit 0']);
  assert.equal(r.status, 0, r.stderr);
  const run = await lastRun();
  const page = await home();
  await openRun(page, run.id);
  await page.locator('.wf-scroll').focus();
  await page.keyboard.press('n');
  await page.waitForSelector('#span-logs');
  assert.match(await page.textContent('#span-logs'), /nonexistent-dir-for-logs/);
  await page.click('#span-logs-link');
  await page.waitForSelector('#logs tbody tr');
  assert.match(await page.textContent('#logs-scope'), /^span [0-9a-f]{16} of trace/);
  const body = await page.textContent('#logs tbody tr td.body');
  assert.match(body, /nonexistent-dir-for-logs/);
  await shot(page, 'logs');
  await page.click('#logs tbody tr a.to-span');
  await page.waitForSelector('main[data-ready="1"]');
  await page.waitForFunction(() => /^ls, pid/.test(document.querySelector('#wf-status').textContent));
  // all logs: severity and body filters, and records arriving live
  await page.goto(dash.url + '/#/logs');
  await page.selectOption('#logs-sev', 'ERROR');
  await page.fill('#logs-body', 'dir-for-live-logs');
  await page.press('#logs-body', 'Enter');
  await page.waitForFunction(() => document.querySelector('#logs-count').textContent === '0 records');
  assert.equal(dash.run(['sh', '-c', 'ls /nonexistent-dir-for-live-logs; ls /another-dir-for-live-logs; exit 0']).status, 0);
  await page.waitForFunction(() => document.querySelectorAll('#logs tbody tr').length === 2, null, {timeout: 10000});
  assert.match(await page.textContent('#logs tbody'), /another-dir-for-live-logs[\s\S]*nonexistent-dir-for-live-logs/);
  await page.fill('#logs-where', 'service.name = "no such service"');
  await page.press('#logs-where', 'Enter');
  await page.waitForFunction(() => document.querySelector('#logs-count').textContent === '0 records');
  assert.deepEqual(page.errors, []);
});

test('a crash shows its stack', {skip: !PROGS && 'OTELP_PROGS is not set'}, async () => {
  const r = dash.run([path.join(PROGS, 'crash'), 'segv']);
  assert.notEqual(r.status, 0);
  const run = await lastRun();
  const page = await home();
  await page.waitForSelector(`tr.run[data-run="${run.id}"]`);
  assert.match(await page.textContent(`tr.run[data-run="${run.id}"]`), /\b1\s*$|signal 11|1/);
  await openRun(page, run.id);
  await page.locator('.wf-scroll').focus();
  // the launcher's span failed too (its command did): the crash is one of the first failures
  for (let i = 0; i < 3 && !/^crash,/.test(await page.textContent('#wf-status')); i++) await page.keyboard.press('n');
  await page.waitForSelector('#crash-stack');
  const stack = await page.textContent('#crash-stack');
  assert.match(stack, /crash_here/);
  assert.match(await page.textContent('#wf-status'), /^crash, pid \d+, exit 139, signal 11/);
  await shot(page, 'crash');
});

test('HTML in attribute values and log bodies is shown as text', async () => {
  const trace = hex(0xabcdef, 16), span = hex(0x1234, 8);
  const now = BigInt(Date.now()) * 1000000n;
  const evil = '<img src=x onerror="window.__pwned=1">';
  let st = await dash.post('/v1/traces', tracesRequest([otlpSpan({
    trace, span, name: '<b>bold</b>', start: now, end: now + 5000000n, attrs: {'evil.attr': evil},
  })]), {'content-type': 'application/json'});
  assert.equal(st.status, 200, st.body);
  st = await dash.post('/v1/logs', JSON.stringify({resourceLogs: [{resource: {attributes: []}, scopeLogs: [{logRecords: [{
    timeUnixNano: String(now + 1000n), severityNumber: 17, body: {stringValue: '<script>window.__pwned=2</script>' + evil},
    traceId: trace, spanId: span,
  }]}]}]}), {'content-type': 'application/json'});
  assert.equal(st.status, 200, st.body);
  const page = await home();
  await page.goto(`${dash.url}/#/trace/${trace}/${span}`);
  await page.waitForSelector('#span-attrs');
  assert.equal(await page.textContent('.detail h3'), '<b>bold</b>');
  assert.match(await page.textContent('#span-attrs'), /<img src=x onerror="window.__pwned=1">/);
  assert.match(await page.textContent('#span-logs'), /<script>window.__pwned=2<\/script>/);
  await page.goto(`${dash.url}/#/logs?trace=${trace}`);
  await page.waitForSelector('#logs tbody tr');
  assert.match(await page.textContent('#logs tbody tr td.body'), /<script>/);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.equal(await page.locator('main img, main script, main b').count(), 0);
});

test('writes from another origin are refused; the same origin may write', async () => {
  let r = await dash.post('/api/v1/views', 'metric=x&chart=line', {'content-type': 'application/x-www-form-urlencoded', origin: 'http://evil.example'});
  assert.equal(r.status, 403);
  r = await dash.post('/api/v1/views', 'metric=x&chart=line', {'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'cross-site'});
  assert.equal(r.status, 403);
  r = await dash.post('/v1/traces', '{}', {'content-type': 'application/json', origin: 'http://evil.example'});
  assert.equal(r.status, 403);
  // DNS rebinding: a page served under another name reaching the loopback server
  const g = await new Promise((resolve, reject) => {
    http.get({host: '127.0.0.1', port: dash.port, path: '/api/v1/runs', headers: {host: 'evil.example'}}, (res) => {
      res.resume();
      resolve(res.statusCode);
    }).on('error', reject);
  });
  assert.equal(g, 403);
  // the page itself (same origin) may
  const page = await home();
  const status = await page.evaluate(async () => (await fetch('/api/v1/views', {method: 'POST', body: new URLSearchParams({metric: 'same.origin', chart: 'line'})})).status);
  assert.equal(status, 201);
  // and the browser's own cross-origin attempt is refused by the server
  const other = await newPage(b);
  await other.goto(`http://localhost:${dash.port}/`);
  const cross = await other.evaluate(async (u) => {
    try {
      const res = await fetch(u + '/api/v1/views', {method: 'POST', mode: 'no-cors', body: new URLSearchParams({metric: 'cross', chart: 'line'})});
      return res.type;
    } catch (e) {
      return 'error';
    }
  }, dash.url);
  assert.ok(cross === 'opaque' || cross === 'error');
  const views = await dash.json('/api/v1/views');
  assert.deepEqual(views.map((v) => v.metric).sort(), ['same.origin']);
  await dash.get('/api/v1/views').then(async () => {
    for (const v of views) await fetch(`${dash.url}/api/v1/views/${v.id}`, {method: 'DELETE'});
  });
  await other.context().close();
});

test('a metric chart can be pinned to the home view', async (t) => {
  const now = BigInt(Date.now()) * 1000000n;
  const trace = hex(0xfeed, 16), span = hex(0xbeef, 8);
  const pts = [0, 1, 2, 3].map((i) => ({
    timeUnixNano: String(now - BigInt(3 - i) * 1000000000n), asDouble: 1.5 + i,
    attributes: [{key: 'queue', value: {stringValue: 'main'}}],
    exemplars: i === 3 ? [{timeUnixNano: String(now), asDouble: 4.5, traceId: trace, spanId: span}] : [],
  }));
  const r = await dash.post('/v1/metrics', JSON.stringify({resourceMetrics: [{resource: {attributes: [{key: 'service.name', value: {stringValue: 'charts'}}]},
    scopeMetrics: [{scope: {name: 'test'}, metrics: [{name: 'test.queue.depth', unit: '1', gauge: {dataPoints: pts}}]}]}]}),
  {'content-type': 'application/json'});
  if (r.status !== 200) {
    t.skip(`this server does not store metrics yet (POST /v1/metrics: ${r.status})`);
    return;
  }
  const page = await home();
  await page.goto(`${dash.url}/#/metrics/test.queue.depth`);
  await page.waitForSelector('#metric-chart[data-drawn="test.queue.depth"] canvas');
  assert.match(await page.textContent('#exemplars'), /exemplar 4\.5 at /);
  await page.selectOption('#chart-type', 'bars');
  await page.click('#pin');
  await page.waitForFunction(() => document.querySelector('#pin').textContent.startsWith('pinned'));
  const views = await dash.json('/api/v1/views');
  assert.deepEqual(views.map((v) => [v.metric, v.chart]), [['test.queue.depth', 'bars']]);
  await page.goto(dash.url + '/');
  await page.waitForSelector('.card[data-metric="test.queue.depth"] .chart[data-drawn] canvas');
  await shot(page, 'home-pinned');
  await page.click('.card[data-metric="test.queue.depth"] .unpin');
  await page.waitForFunction(() => !document.querySelector('.card[data-metric="test.queue.depth"]'));
  assert.deepEqual(await dash.json('/api/v1/views'), []);
  await page.goto(`${dash.url}/#/metrics/test.queue.depth`);
  await page.waitForSelector('#exemplars a');
  await page.click('#exemplars a');
  await page.waitForFunction(() => location.hash.startsWith('#/trace/'));
});

test('an alert shows its state, the record that fired it (linked to its span) and its history', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otelp-rules-'));
  const rules = path.join(dir, 'rules.yaml');
  fs.writeFileSync(rules, 'groups:\n  - name: ui\n    rules:\n      - alert: AlertMe\n        signal: spans\n' +
    '        where: name = "alert-me"\n        labels: {severity: page}\n');
  const d = await Dash.start(['--rules', rules]);
  try {
    const trace = hex(0xa1e7, 16), span = hex(0xa1e8, 8);
    const now = BigInt(Date.now()) * 1000000n;
    const st = await d.post('/v1/traces', tracesRequest([otlpSpan({trace, span, name: 'alert-me', start: now, end: now + 1000000n})]),
      {'content-type': 'application/json'});
    assert.equal(st.status, 200, st.body);
    let firing = null;
    for (let i = 0; i < 100 && !firing; i++) { // bounded: 10 s
      const a = await d.json('/api/v1/alerts');
      firing = (a.rules || []).find((r) => r.name === 'AlertMe' && r.state === 'firing');
      if (!firing) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(firing, 'the rule fired');
    const page = await newPage(b);
    try {
      await page.goto(`${d.url}/#/alerts`);
      await page.waitForSelector('#alert-instances tr[data-rule="AlertMe"] a.alert-record');
      const row = page.locator('#alert-instances tr[data-rule="AlertMe"]');
      assert.match(await row.textContent(), /firing/);
      assert.match(await row.textContent(), /severity=page/);
      assert.match(await page.textContent('#alert-history'), /AlertMe/);
      await shot(page, 'alerts');
      await row.locator('a.alert-record').first().click();
      await page.waitForSelector('.detail h3');
      assert.equal(await page.textContent('.detail h3'), 'alert-me');
    } finally {
      await page.context().close();
    }
  } finally {
    const end = await d.stop();
    assert.equal(end.code, 0, end.stderr);
    fs.rmSync(dir, {recursive: true, force: true});
  }
});

test('a token guards every page and API request', async () => {
  const d = await Dash.start(['--token', 's3cret-token']);
  try {
    assert.equal((await d.get('/api/v1/runs')).status, 401);
    assert.equal((await d.get('/')).status, 401);
    assert.equal((await d.get('/api/v1/runs', {authorization: 'Bearer wrong'})).status, 401);
    assert.equal((await d.get('/api/v1/runs', {authorization: 'Bearer s3cret-token'})).status, 200);
    // OTLP from this machine needs none: `otel-preload run` sends to the server it finds
    assert.equal(d.run(['/bin/true']).status, 0);
    const runs = JSON.parse((await d.get('/api/v1/runs', {authorization: 'Bearer s3cret-token'})).body);
    assert.equal(runs.length, 1);
    assert.ok(runs[0].span_count >= 1, JSON.stringify(runs));
    // the page opened once with ?token= keeps a cookie
    const page = await newPage(b);
    await page.goto(`${d.url}/?token=s3cret-token`);
    await page.waitForFunction(() => window.otelpDash && window.otelpDash.live.status === 'live');
    assert.equal(new URL(page.url()).search, '');
    const status = await page.evaluate(async () => (await fetch('/api/v1/runs')).status);
    assert.equal(status, 200);
    await page.context().close();
  } finally {
    const end = await d.stop();
    assert.equal(end.code, 0, end.stderr);
  }
});

test('listening beyond loopback without a token is refused', () => {
  const r = spawnSync(BIN, ['dash', '--listen', '0.0.0.0', '--port', '0', '--grpc-port', '0'], {encoding: 'utf8', timeout: 20000, env: {...process.env, OTEL_PRELOAD_DASH_TOKEN: ''}});
  assert.equal(r.status, 2);
  assert.match(r.stderr, /refusing to listen on 0\.0\.0\.0 without a token/);
});
