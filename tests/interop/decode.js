#!/usr/bin/env node
// decode.js: prints what otlp_sink saved, decoded by the official OTLP decoders.
// Depends on @opentelemetry/otlp-transformer 0.57.2 (its generated protobufjs
// root, build/src/generated/root.js) from this folder's node_modules.
//
//   node decode.js DIR
//
// For every NNNNNN.meta/NNNNNN.bin pair in DIR, in sequence order, prints one
// JSON object per line:
//   {"seq":N,"method":"POST","path":"/v1/traces","headers":{...},
//    "signal":"traces"|"logs"|"metrics","body":{...}}
// headers: names lowercased (repeated names joined with ", ").
// body: the official decoder's toObject with longs as strings, enums as
// numbers, defaults not filled, every bytes field as lowercase hex, and
// non-finite doubles as "NaN"/"Infinity"/"-Infinity" (JSON has no such
// numbers). gzip/deflate bodies (content-encoding) are inflated first;
// application/json bodies (the OTLP JSON mapping: hex ids) go through the
// official types' fromObject/toObject, and any key or value that does not
// survive the round trip is an error; application/grpc bodies have their
// 5-byte message frame removed (and inflated when flagged compressed).
//
// Fields newer than the 0.57.2 root (Span.flags = 16, Span.Link.flags = 6,
// LogRecord.event_name = 12) are dropped by its decoder; this script reads
// them with protobufjs's own wire Reader and adds them as "flags" and
// "eventName" where they are on the wire. Any other field the decoder skipped
// is counted in a top-level "unknownFields" (only printed when non-zero).
//
// A body that fails to decode prints {"seq":N,"error":"..."}; the exit code
// is then 1, after all lines. Usage errors exit 2.
'use strict';

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const transformerDir = path.join(__dirname, 'node_modules', '@opentelemetry', 'otlp-transformer');
// Absolute paths: the package's exports map may not list deep files.
const root = require(path.join(transformerDir, 'build', 'src', 'generated', 'root.js'));
const protobuf = require(require.resolve('protobufjs/minimal', { paths: [transformerDir] }));
const v1 = root.opentelemetry.proto.collector;

const SIGNALS = {
  traces: v1.trace.v1.ExportTraceServiceRequest,
  logs: v1.logs.v1.ExportLogsServiceRequest,
  metrics: v1.metrics.v1.ExportMetricsServiceRequest,
};

// Count fields the generated decoders skip (they call reader.skipType for
// any field number they do not know).
let skipped = 0;
const origSkipType = protobuf.Reader.prototype.skipType;
protobuf.Reader.prototype.skipType = function (wireType) {
  skipped++;
  return origSkipType.call(this, wireType);
};

function signalOf(p, contentType) {
  const bare = p.split('?')[0];
  if (bare.endsWith('/v1/traces') || bare === '/opentelemetry.proto.collector.trace.v1.TraceService/Export')
    return 'traces';
  if (bare.endsWith('/v1/logs') || bare === '/opentelemetry.proto.collector.logs.v1.LogsService/Export')
    return 'logs';
  if (bare.endsWith('/v1/metrics') || bare === '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export')
    return 'metrics';
  throw new Error(`no OTLP signal for path ${p} (content-type ${contentType || 'none'})`);
}

function parseMeta(text) {
  const lines = text.split('\n');
  const first = lines[0].split(' ');
  const headers = {};
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { method: first[0], path: first.slice(1).join(' '), headers };
}

function hex(bytes) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

// Bytes to hex, non-finite numbers to strings, recursively.
function normalize(v) {
  if (v instanceof Uint8Array) return hex(v);
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  if (Array.isArray(v)) return v.map(normalize);
  if (v !== null && typeof v === 'object') {
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = normalize(x);
    return out;
  }
  return v;
}

// ---- fields the 0.57.2 decoders do not know -------------------------------

// Calls fn(fieldNumber, wireType, reader) for each field of the message in
// reader[start, end); fn must consume the value or return false to skip it.
function eachField(reader, end, fn) {
  while (reader.pos < end) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    const wt = tag & 7;
    if (!fn(field, wt, reader)) origSkipType.call(reader, wt);
  }
}

// fn(reader, end) for a length-delimited field's contents.
function sub(reader, fn) {
  const len = reader.uint32();
  const end = reader.pos + len;
  fn(end);
  reader.pos = end;
}

// Returns a list of {path: [...indexes], key, value} additions.
function newerFields(signal, buf) {
  const adds = [];
  const r = protobuf.Reader.create(buf);
  if (signal === 'traces') {
    let i = 0;
    eachField(r, buf.length, (f, wt) => {
      if (f !== 1 || wt !== 2) return false;
      const ri = i++;
      let j = 0;
      sub(r, (endRs) => eachField(r, endRs, (f2, wt2) => {
        if (f2 !== 2 || wt2 !== 2) return false;
        const sj = j++;
        let k = 0;
        sub(r, (endSs) => eachField(r, endSs, (f3, wt3) => {
          if (f3 !== 2 || wt3 !== 2) return false;
          const sk = k++;
          let l = 0;
          sub(r, (endSp) => eachField(r, endSp, (f4, wt4) => {
            if (f4 === 16 && wt4 === 5) {
              adds.push({ path: ['resourceSpans', ri, 'scopeSpans', sj, 'spans', sk], key: 'flags', value: r.fixed32() });
              return true;
            }
            if (f4 === 13 && wt4 === 2) {
              const ll = l++;
              sub(r, (endLn) => eachField(r, endLn, (f5, wt5) => {
                if (f5 !== 6 || wt5 !== 5) return false;
                adds.push({ path: ['resourceSpans', ri, 'scopeSpans', sj, 'spans', sk, 'links', ll], key: 'flags', value: r.fixed32() });
                return true;
              }));
              return true;
            }
            return false;
          }));
          return true;
        }));
        return true;
      }));
      return true;
    });
  } else if (signal === 'logs') {
    let i = 0;
    eachField(r, buf.length, (f, wt) => {
      if (f !== 1 || wt !== 2) return false;
      const ri = i++;
      let j = 0;
      sub(r, (endRl) => eachField(r, endRl, (f2, wt2) => {
        if (f2 !== 2 || wt2 !== 2) return false;
        const sj = j++;
        let k = 0;
        sub(r, (endSl) => eachField(r, endSl, (f3, wt3) => {
          if (f3 !== 2 || wt3 !== 2) return false;
          const sk = k++;
          sub(r, (endLr) => eachField(r, endLr, (f4, wt4) => {
            if (f4 !== 12 || wt4 !== 2) return false;
            adds.push({ path: ['resourceLogs', ri, 'scopeLogs', sj, 'logRecords', sk], key: 'eventName', value: r.string() });
            return true;
          }));
          return true;
        }));
        return true;
      }));
      return true;
    });
  }
  return adds;
}

function applyAdds(body, adds) {
  for (const a of adds) {
    let o = body;
    for (const p of a.path) {
      if (o == null) break;
      o = o[p];
    }
    if (o == null) throw new Error(`cannot place ${a.key} at ${a.path.join('.')}`);
    o[a.key] = a.value;
  }
}

// ---- OTLP JSON ----------------------------------------------------------------

// The OTLP JSON mapping has trace and span ids in hex, where protobufjs's
// fromObject expects base64 for bytes fields.
const HEX_ID_KEYS = new Set(['traceId', 'spanId', 'parentSpanId']);
const NEWER_KEYS = new Set(['flags', 'eventName']);

function hexIdsToBase64(v) {
  if (Array.isArray(v)) return v.map(hexIdsToBase64);
  if (v !== null && typeof v === 'object') {
    const out = {};
    for (const [k, x] of Object.entries(v)) {
      if (HEX_ID_KEYS.has(k) && typeof x === 'string') {
        if (!/^([0-9a-f]{2})*$/.test(x)) throw new Error(`${k} '${x}' is not lowercase hex`);
        out[k] = Buffer.from(x, 'hex').toString('base64');
      } else {
        out[k] = hexIdsToBase64(x);
      }
    }
    return out;
  }
  return v;
}

// Counts what of `input` did not survive the official fromObject/toObject
// round trip unchanged (unknown or misspelt keys, wrong types).
function jsonDifferences(input, output, where, diffs) {
  if (input !== null && typeof input === 'object') {
    if (Array.isArray(input) !== Array.isArray(output) || output === null || typeof output !== 'object') {
      diffs.push(`${where}: not kept`);
      return;
    }
    for (const [k, x] of Object.entries(input)) {
      // Newer than the 0.57.2 root (see the top): kept as they came.
      if (!(k in output) && NEWER_KEYS.has(k) && /(spans|links|logRecords)\.\d+$/.test(where)) output[k] = x;
      else if (!(k in output)) diffs.push(`${where}.${k}: unknown to the official definitions`);
      else jsonDifferences(x, output[k], `${where}.${k}`, diffs);
    }
    return;
  }
  if (String(input) !== String(output)) diffs.push(`${where}: ${JSON.stringify(input)} became ${JSON.stringify(output)}`);
}

// A JSON body: parsed, then through the official types (fromObject, then
// toObject like protobuf bodies), and every key and value checked to have
// survived. The body printed is the official round trip.
function decodeJson(signal, buf) {
  const parsed = JSON.parse(buf.toString('utf8'));
  const Type = SIGNALS[signal];
  const msg = Type.fromObject(hexIdsToBase64(parsed));
  const err = Type.verify(msg);
  if (err) throw new Error(`official verify: ${err}`);
  const body = normalize(Type.toObject(msg, { longs: String, enums: Number, defaults: false }));
  const diffs = [];
  jsonDifferences(parsed, body, 'body', diffs);
  if (diffs.length) throw new Error(`JSON mapping: ${diffs.slice(0, 5).join('; ')}`);
  return { signal, body, unknown: 0 };
}

// ---- one request ------------------------------------------------------------

function decodeBody(meta, raw) {
  let buf = raw;
  const ct = (meta.headers['content-type'] || '').toLowerCase();
  const ce = (meta.headers['content-encoding'] || '').toLowerCase();
  if (ct.startsWith('application/grpc')) {
    if (buf.length < 5) throw new Error('gRPC frame shorter than 5 bytes');
    const compressed = buf[0] === 1;
    const len = buf.readUInt32BE(1);
    if (buf.length !== 5 + len) throw new Error(`gRPC frame length ${len} but ${buf.length - 5} bytes follow`);
    buf = buf.subarray(5);
    const ge = (meta.headers['grpc-encoding'] || '').toLowerCase();
    if (compressed) {
      if (ge !== 'gzip') throw new Error(`compressed gRPC message with grpc-encoding '${ge}'`);
      buf = zlib.gunzipSync(buf);
    }
  } else if (ce === 'gzip') {
    buf = zlib.gunzipSync(buf);
  } else if (ce === 'deflate') {
    buf = zlib.inflateSync(buf);
  } else if (ce !== '' && ce !== 'identity') {
    throw new Error(`unsupported content-encoding '${ce}'`);
  }
  const signal = signalOf(meta.path, ct);
  if (ct.startsWith('application/json')) return decodeJson(signal, buf);
  const Type = SIGNALS[signal];
  skipped = 0;
  const msg = Type.decode(buf);
  const unknownSeen = skipped;
  const body = Type.toObject(msg, { longs: String, enums: Number, defaults: false });
  const adds = newerFields(signal, buf);
  applyAdds(body, adds);
  return { signal, body: normalize(body), unknown: unknownSeen - adds.length };
}

function main() {
  const dir = process.argv[2];
  if (!dir || process.argv.length > 3) {
    process.stderr.write('usage: node decode.js DIR\n');
    process.exit(2);
  }
  let names;
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    process.stderr.write(`decode.js: cannot read ${dir}: ${e.message}\n`);
    process.exit(2);
  }
  const seqs = names
    .map((n) => /^(\d+)\.meta$/.exec(n))
    .filter((m) => m !== null)
    .map((m) => m[1])
    .sort((a, b) => Number(a) - Number(b));
  let failed = false;
  for (const s of seqs) {
    const seq = Number(s);
    let line;
    try {
      const meta = parseMeta(fs.readFileSync(path.join(dir, `${s}.meta`), 'utf8'));
      const raw = fs.readFileSync(path.join(dir, `${s}.bin`));
      const d = decodeBody(meta, raw);
      const out = { seq, method: meta.method, path: meta.path, headers: meta.headers, signal: d.signal, body: d.body };
      if (d.unknown > 0) out.unknownFields = d.unknown;
      line = JSON.stringify(out);
    } catch (e) {
      failed = true;
      line = JSON.stringify({ seq, error: String(e && e.message ? e.message : e) });
    }
    process.stdout.write(line + '\n');
  }
  process.exitCode = failed ? 1 : 0;
}

main();
