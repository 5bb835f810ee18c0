// Shared by the browser tests and the bench: start `otel-preload dash` on a temporary store,
// run commands under the shim against it, drive Debian's chromium through playwright-core.
import {spawn, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {chromium} from 'playwright-core';

export const BIN = process.env.OTEL_PRELOAD_BIN || path.join(process.env.OTELP_BUILD_DIR || 'build', 'otel-preload');
export const LIB = process.env.OTELP_LIB || path.join(path.dirname(BIN), 'libotelpreload.so');
export const CHROMIUM = process.env.OTELP_CHROMIUM || '/usr/bin/chromium';
export const SHOTS = path.join(process.env.OTELP_BUILD_DIR || os.tmpdir(), 'screenshots');

export class Dash {
  // Starts dash; resolves once it printed its dashboard address.
  static async start(args = [], extraEnv = {}) {
    const d = new Dash();
    d.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'otelp-dash-'));
    d.db = path.join(d.tmp, 'store.db');
    d.rt = path.join(d.tmp, 'rt');
    fs.mkdirSync(d.rt, {mode: 0o700});
    d.env = d.childEnv(extraEnv);
    const t0 = performance.now();
    // the server itself is checked for leaks (the programs run under the shim are not)
    const own = {...d.env};
    if (own.ASAN_OPTIONS) own.ASAN_OPTIONS = own.ASAN_OPTIONS.replace('detect_leaks=0', 'detect_leaks=1');
    d.proc = spawn(BIN, ['dash', '--port', '0', '--grpc-port', '0', ...args], {env: own, stdio: ['ignore', 'ignore', 'pipe']});
    d.stderr = '';
    d.exited = new Promise((res) => d.proc.on('exit', (code, sig) => res({code, sig})));
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dash did not start: ${d.stderr}`)), 20000);
      d.proc.stderr.on('data', (b) => {
        d.stderr += b;
        const m = /dashboard at (http:\/\/[^\s]+?:(\d+))\//.exec(d.stderr);
        if (m) {
          clearTimeout(timer);
          d.url = `http://127.0.0.1:${m[2]}`;
          d.port = Number(m[2]);
          d.startMs = performance.now() - t0;
          resolve();
        }
      });
      d.proc.on('exit', () => { clearTimeout(timer); reject(new Error(`dash exited: ${d.stderr}`)); });
    });
    return d;
  }

  childEnv(extra = {}) {
    const e = {...process.env};
    delete e.LD_PRELOAD;
    for (const k of Object.keys(e)) if (k.startsWith('OTEL_') || k === 'TRACEPARENT') delete e[k];
    const prefix = (process.env.OTELP_PRELOAD_PREFIX || '').trim();
    if (prefix) e.LD_PRELOAD = prefix;
    e.OTEL_PRELOAD_LIB = LIB;
    e.OTEL_PRELOAD_DB = this.db;
    e.XDG_RUNTIME_DIR = this.rt;
    return {...e, ...extra};
  }

  // `otel-preload run -q -- argv` against this server; returns {status, stdout, stderr}.
  run(argv, extraEnv = {}) {
    const r = spawnSync(BIN, ['run', '--quiet', '--', ...argv], {env: {...this.env, ...extraEnv}, encoding: 'utf8', timeout: 60000});
    return {status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr};
  }

  async get(p, headers = {}) {
    const r = await fetch(this.url + p, {headers});
    return {status: r.status, body: await r.text(), headers: r.headers};
  }

  async json(p) {
    const r = await this.get(p);
    if (r.status !== 200) throw new Error(`${p}: ${r.status} ${r.body}`);
    return JSON.parse(r.body);
  }

  async post(p, body, headers = {}) {
    const r = await fetch(this.url + p, {method: 'POST', body, headers});
    return {status: r.status, body: await r.text()};
  }

  // Stops it (SIGTERM); resolves to its exit {code, sig, stderr}.
  async stop() {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGTERM');
      const t = setTimeout(() => this.proc.kill('SIGKILL'), 20000);
      await this.exited;
      clearTimeout(t);
    }
    fs.rmSync(this.tmp, {recursive: true, force: true});
    const {code, sig} = await this.exited;
    return {code, sig, stderr: this.stderr};
  }
}

export async function browser() {
  return chromium.launch({executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu']});
}

export async function newPage(b, opts = {}) {
  const ctx = await b.newContext({viewport: {width: 1440, height: 900}, ...opts});
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  return page;
}

export async function shot(page, name) {
  fs.mkdirSync(SHOTS, {recursive: true});
  await page.screenshot({path: path.join(SHOTS, `${name}.png`)});
}

// OTLP/JSON helpers: ids as hex, times as strings of nanoseconds.
export function hex(n, bytes) {
  return n.toString(16).padStart(bytes * 2, '0');
}

export function otlpSpan({trace, span, parent = '', name, start, end, attrs = {}, status = 0, events = []}) {
  return {
    traceId: trace, spanId: span, parentSpanId: parent, name, kind: 1,
    startTimeUnixNano: String(start), endTimeUnixNano: String(end),
    attributes: kvs(attrs), status: {code: status}, events,
  };
}

export function kvs(obj) {
  return Object.entries(obj).map(([key, v]) => ({key, value: typeof v === 'number'
    ? (Number.isInteger(v) ? {intValue: String(v)} : {doubleValue: v}) : {stringValue: String(v)}}));
}

export function tracesRequest(spans, resource = {'service.name': 'test'}) {
  return JSON.stringify({resourceSpans: [{resource: {attributes: kvs(resource)}, scopeSpans: [{scope: {name: 'test'}, spans}]}]});
}

// OTLP protobuf (what the shim sends): a minimal writer for ExportTraceServiceRequest.
function varint(n) {
  const out = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return Buffer.from(out);
}

function fld(num, wt, payload) {
  const key = varint((num << 3) | wt);
  if (wt === 0) return Buffer.concat([key, varint(payload)]);
  if (wt === 1) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(payload));
    return Buffer.concat([key, b]);
  }
  const p = Buffer.isBuffer(payload) ? payload : Buffer.from(String(payload));
  return Buffer.concat([key, varint(p.length), p]);
}

function pbValue(v) {
  if (typeof v === 'number' && Number.isInteger(v)) return fld(3, 0, BigInt.asUintN(64, BigInt(v)));
  return fld(1, 2, String(v));
}

function pbKv(k, v) {
  return Buffer.concat([fld(1, 2, k), fld(2, 2, pbValue(v))]);
}

// s as otlpSpan's argument (hex ids, BigInt times).
export function pbSpan(s) {
  const parts = [fld(1, 2, Buffer.from(s.trace, 'hex')), fld(2, 2, Buffer.from(s.span, 'hex'))];
  if (s.parent) parts.push(fld(4, 2, Buffer.from(s.parent, 'hex')));
  parts.push(fld(5, 2, s.name), fld(6, 0, 1), fld(7, 1, s.start), fld(8, 1, s.end));
  for (const [k, v] of Object.entries(s.attrs || {})) parts.push(fld(9, 2, pbKv(k, v)));
  if (s.status) parts.push(fld(15, 2, fld(3, 0, s.status)));
  return Buffer.concat(parts);
}

export function pbTracesRequest(spans, resource = {'service.name': 'test'}) {
  const res = Buffer.concat(Object.entries(resource).map(([k, v]) => fld(1, 2, pbKv(k, v))));
  const scope = fld(1, 2, fld(1, 2, 'test'));
  const ss = Buffer.concat([scope, ...spans.map((s) => fld(2, 2, s))]);
  return fld(1, 2, Buffer.concat([fld(1, 2, res), fld(2, 2, ss)]));
}
