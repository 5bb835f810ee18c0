// bench (scripts/bench section w): the dashboard in headless chromium on this machine.
//   dash_start_ms    spawn to the dashboard address printed (median of 5)
//   trace_click_ms   a 20,000-span trace (a build: 5,000 cc, each with cc1, as, collect2
//                    children) from the click on its run to its first drawn waterfall
//   trace_open_all_ms  the same trace with every group opened (20,001 rows)
//   scroll_fps       frames drawn per second while it scrolls (every animation frame)
//   draw_ms_p95      the 95th percentile of one frame's drawing (JS), for the scroll
//   home_ms          the home view of a store of 1,000 runs: navigation start to the
//                    first screenful of rows (page, fetch of all 1,000, render of the rows on
//                    screen: the table is windowed), to the animation frame that drew them
//   home_scroll_fps  scrolling the 1,000 runs top to bottom, a step every animation frame:
//                    frames per second, rows in the document, and the last run reached
//   live_p50_ms, live_p95_ms, live_max_ms   receipt to screen: spans posted at 10,000
//                    a second (1,000 every 100 ms) into the trace open in the page; for
//                    the marker span of each post, its send time to the animation frame
//                    that drew it
// Prints "result NAME=VALUE" lines. Usage: node bench.mjs (env as the tests: OTELP_BUILD_DIR
// or OTEL_PRELOAD_BIN).
import {Dash, browser, newPage, hex, otlpSpan, tracesRequest, pbSpan, pbTracesRequest} from './lib.mjs';

const BIG = Number(process.env.BENCH_WEB_SPANS || 20000);
const RUNS = Number(process.env.BENCH_WEB_RUNS || 1000);
const LIVE_S = Number(process.env.BENCH_WEB_LIVE_SECONDS || 4);

function result(name, value, note = '') {
  console.log(`result ${name}=${typeof value === 'number' ? value.toFixed(1) : value} ${note}`.trim());
}

async function postAll(dash, spans, resource, batch = 2000) {
  for (let i = 0; i < spans.length; i += batch) {
    const r = await dash.post('/v1/traces', tracesRequest(spans.slice(i, i + batch), resource), {'content-type': 'application/json'});
    if (r.status !== 200) throw new Error(`POST /v1/traces: ${r.status} ${r.body}`);
  }
}

// A build of n spans: make -> n/4 cc -> cc1, as, collect2; start times spread over 60 s.
function buildTrace(traceNo, n) {
  const trace = hex(traceNo, 16);
  const t0 = BigInt(Date.now() - 120000) * 1000000n;
  const ms = 1000000n;
  let sid = 1;
  const root = {trace, span: hex(sid++, 8), name: 'make', start: t0, end: t0 + 61000n * ms, attrs: {'process.pid': 100, 'process.exit.code': 0}};
  const spans = [otlpSpan(root)];
  const jobs = Math.floor((n - 1) / 4);
  for (let j = 0; j < jobs; j++) {
    const s = t0 + BigInt(Math.floor((j * 60000) / jobs)) * ms;
    const dur = BigInt(20 + (j % 37) * 3) * ms;
    const cc = hex(sid++, 8);
    const fail = j % 997 === 0;
    spans.push(otlpSpan({trace, span: cc, parent: root.span, name: 'cc', start: s, end: s + dur,
      attrs: {'process.pid': 1000 + j, 'process.exit.code': fail ? 1 : 0}, status: fail ? 2 : 0}));
    const parts = [['cc1', 0n, (dur * 6n) / 10n], ['as', (dur * 6n) / 10n, (dur * 8n) / 10n], ['collect2', (dur * 8n) / 10n, dur]];
    for (const [name, a, b] of parts) {
      spans.push(otlpSpan({trace, span: hex(sid++, 8), parent: cc, name, start: s + a, end: s + b,
        attrs: {'process.pid': 100000 + sid, 'process.exit.code': 0}}));
    }
  }
  return {trace, spans};
}

async function main() {
  const starts = [];
  for (let i = 0; i < 5; i++) {
    const d = await Dash.start();
    starts.push(d.startMs);
    await d.stop();
  }
  starts.sort((a, c) => a - c);
  result('dash_start_ms', starts[2], '(spawn to its address printed, median of 5)');
  const dash = await Dash.start(['--keep-runs', String(RUNS + 10)]);
  const b = await browser();
  try {
    // ---- the home view of 1,000 runs -------------------------------------------------
    const small = [];
    const t0 = BigInt(Date.now() - 3600000) * 1000000n;
    for (let r = 0; r < RUNS; r++) {
      const trace = hex(0x100000 + r, 16);
      const s = t0 + BigInt(r) * 1000000000n;
      const root = hex(1, 8);
      small.push(otlpSpan({trace, span: root, name: `job-${r}`, start: s, end: s + 50000000n, attrs: {'process.pid': r + 10, 'process.exit.code': r % 10 === 0 ? 1 : 0}, status: r % 10 === 0 ? 2 : 0}));
      for (let k = 2; k <= 5; k++) small.push(otlpSpan({trace, span: hex(k, 8), parent: root, name: 'step', start: s + BigInt(k) * 1000000n, end: s + BigInt(k) * 2000000n, attrs: {'process.pid': r * 10 + k}}));
    }
    await postAll(dash, small, {'service.name': 'bench'});
    const {trace: bigTrace, spans} = buildTrace(0xb16, BIG);
    await postAll(dash, spans, {'service.name': 'build'});
    const runs = await dash.json(`/api/v1/runs?limit=${RUNS + 5}`);
    const bigRun = runs.find((r) => r.trace_id === bigTrace);
    const page = await newPage(b, {viewport: {width: 1440, height: 900}});
    const homes = [];
    for (let i = 0; i < 3; i++) {
      await page.goto('about:blank');
      await page.goto(dash.url + '/');
      await page.waitForFunction((n) => document.querySelectorAll('tr.run').length >= n && window.otelpDash.homeFirstAt > 0, Math.min(30, RUNS));
      homes.push(await page.evaluate(() => window.otelpDash.homeFirstAt)); // the frame that drew them
    }
    homes.sort((a, c) => a - c);
    result('home_ms', homes[1], `(${RUNS + 1} runs: navigation to the first screenful, median of 3 loads)`);
    const hs = await page.evaluate(async () => {
      const main = document.getElementById('main');
      let frames = 0, maxRows = 0;
      const t0 = performance.now();
      await new Promise((res) => {
        const step = () => {
          frames++;
          maxRows = Math.max(maxRows, document.querySelectorAll('tr.run').length);
          if (main.scrollTop + main.clientHeight >= main.scrollHeight - 1 || performance.now() - t0 > 60000) res();
          else {
            main.scrollTop += 97;
            requestAnimationFrame(step);
          }
        };
        requestAnimationFrame(step);
      });
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      const rows = [...document.querySelectorAll('tr.run')];
      return {fps: frames / ((performance.now() - t0) / 1000), maxRows, last: rows.length ? rows[rows.length - 1].dataset.run : ''};
    });
    // the page lists the newest 1,000
    const byTime = [...runs].sort((a, c) => c.start_ns - a.start_ns || c.id - a.id);
    const oldest = byTime[Math.min(999, byTime.length - 1)];
    if (hs.last !== String(oldest.id)) throw new Error(`home scroll: the last row is run ${hs.last}, not ${oldest.id}`);
    result('home_scroll_fps', hs.fps, `(${RUNS + 1} runs scrolled to the end; at most ${hs.maxRows} rows in the document)`);

    // ---- a 20,000-span trace: click to drawn -----------------------------------------
    const clicks = [];
    for (let i = 0; i < 3; i++) {
      await page.goto('about:blank');
      await page.goto(dash.url + '/');
      await page.waitForSelector(`tr.run[data-run="${bigRun.id}"]`);
      const ms = await page.evaluate(async (id) => {
        const t = performance.now();
        document.querySelector(`tr.run[data-run="${id}"]`).click();
        for (let k = 0; k < 3000; k++) {
          if (document.querySelector('main[data-ready="1"]')) return performance.now() - t;
          await new Promise((r) => setTimeout(r, 5));
        }
        return -1;
      }, bigRun.id);
      clicks.push(ms);
    }
    clicks.sort((a, c) => a - c);
    const n = await page.evaluate(() => window.otelpDash.trace.trace.spans.length);
    result('trace_click_ms', clicks[1], `(${n} spans, median of 3)`);

    // open every group: 20,001 rows
    const openMs = await page.evaluate(() => {
      const v = window.otelpDash.trace, wf = v.wf;
      const t = performance.now();
      for (const s of v.trace.spans) if (s.children.length) for (const c of s.children) wf.openGroups.add(wf.groupKey(s.sid, c.name));
      wf.rebuild();
      wf.draw();
      return {ms: performance.now() - t, rows: wf.rows.length};
    });
    result('trace_open_all_ms', openMs.ms, `(${openMs.rows} rows)`);

    // ---- scrolling: one step per animation frame for 3 s -------------------------------
    const fps = await page.evaluate(async () => {
      const wf = window.otelpDash.trace.wf;
      const draws = [];
      const orig = wf.draw.bind(wf);
      wf.draw = () => {
        const t = performance.now();
        orig();
        draws.push(performance.now() - t);
      };
      const f0 = wf.frames, t0 = performance.now();
      await new Promise((res) => {
        const step = () => {
          wf.scroll.scrollTop += 97;
          if (performance.now() - t0 < 3000) requestAnimationFrame(step);
          else res();
        };
        requestAnimationFrame(step);
      });
      const secs = (performance.now() - t0) / 1000;
      wf.draw = orig;
      draws.sort((a, b) => a - b);
      return {fps: (wf.frames - f0) / secs, p95: draws[Math.floor(draws.length * 0.95)] || 0, rows: wf.drawnRows};
    });
    result('scroll_fps', fps.fps, '(headless chromium; frames drawn per second while scrolling every frame)');
    result('draw_ms_p95', fps.p95, `(${fps.rows} rows drawn per frame)`);

    // ---- live: receipt to screen at 10,000 spans/s ----------------------------------
    const lt = hex(0x11fe, 16);
    const rootSid = hex(1, 8);
    const now = BigInt(Date.now()) * 1000000n;
    await postAll(dash, [otlpSpan({trace: lt, span: rootSid, name: 'feeder', start: now, end: now + 600000000000n, attrs: {'process.pid': 7}})], {'service.name': 'live'});
    await page.goto('about:blank');
    await page.goto(`${dash.url}/#/trace/${lt}`);
    await page.waitForSelector('main[data-ready="1"]');
    await page.waitForFunction(() => window.otelpDash.live.status === 'live');
    await page.evaluate(() => {
      window.__drawn = {};
      window.otelpDash.onSpansAdded = (added) => {
        const marks = added.filter((s) => s.name.startsWith('mark-'));
        if (marks.length) requestAnimationFrame(() => { const t = Date.now(); for (const m of marks) window.__drawn[m.name] = t; });
      };
    });
    // the requests are encoded before the clock starts (protobuf, as the shim sends), then
    // one is posted every 100 ms whether the last was answered or not (at most 8 in
    // flight): the offered load is 10,000 spans/s, and a slow store shows as latency
    const batches = [];
    let sid = 2;
    const base = BigInt(Date.now()) * 1000000n;
    for (let k = 0; k < LIVE_S * 10; k++) {
      const s = base + BigInt(k) * 100000000n;
      const batch = [pbSpan({trace: lt, span: hex(sid++, 8), parent: rootSid, name: `mark-${k}`, start: s, end: s + 1000000n})];
      for (let j = 1; j < 1000; j++) batch.push(pbSpan({trace: lt, span: hex(sid++, 8), parent: rootSid, name: 'job', start: s, end: s + 3000000n, attrs: {'process.pid': sid}}));
      batches.push(pbTracesRequest(batch, {'service.name': 'live'}));
    }
    let sent = 0, stored = 0;
    const sentAt = [], storedAt = [];
    const inflight = new Set();
    const tStart = Date.now();
    for (let k = 0; k < batches.length; k++) {
      while (inflight.size >= 8) await Promise.race(inflight);
      sentAt[k] = Date.now();
      const p = dash.post('/v1/traces', batches[k], {'content-type': 'application/x-protobuf'}).then((r) => {
        if (r.status === 200) stored += 1000;
        storedAt[k] = Date.now();
        inflight.delete(p);
      });
      inflight.add(p);
      sent += 1000;
      const wait = tStart + (k + 1) * 100 - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await Promise.all(inflight);
    const ingestS = (Date.now() - tStart) / 1000;
    await page.waitForTimeout(1500);
    const drawn = await page.evaluate(() => window.__drawn);
    const lat = Object.entries(drawn).map(([name, t]) => t - sentAt[Number(name.slice(5))]).sort((a, c) => a - c);
    // the share of it spent before the store answered the post
    const inStore = sentAt.map((t, k) => storedAt[k] - t).sort((a, c) => a - c);
    const rate = stored / ingestS;
    const pick = (q) => lat[Math.min(lat.length - 1, Math.floor(lat.length * q))];
    result('live_rate_spans_per_s', rate, `(${stored} spans stored in ${ingestS.toFixed(1)} s, offered 10,000/s; ${lat.length} markers drawn of ${batches.length})`);
    result('live_p50_ms', pick(0.5));
    result('live_p95_ms', pick(0.95));
    result('live_max_ms', lat[lat.length - 1]);
    result('live_post_p50_ms', inStore[Math.floor(inStore.length / 2)], '(of which: the post answered, i.e. stored)');
  } finally {
    await b.close();
    await dash.stop();
  }
}

main().catch((e) => {
  console.error(`bench: ${e.stack || e}`);
  process.exit(1);
});
