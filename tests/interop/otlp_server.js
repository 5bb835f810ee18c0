#!/usr/bin/env node
// otlp_server.js: OTLP test servers we did not write the protocol stack of,
// saving every request like otlp_sink (OUT/NNNNNN.bin + OUT/NNNNNN.meta,
// .meta renamed last), so decode.js and tests/lib/harness.py read them alike.
//
//   node otlp_server.js --mode grpc|h2|https --port-file FILE --out DIR [options]
//
// Modes:
//   grpc   an OTLP/gRPC server built on @grpc/grpc-js with the official
//          OpenTelemetry protobuf definitions (@opentelemetry/otlp-transformer
//          generated root): Trace, Logs and Metrics services' unary Export.
//          Requests are decoded by grpc-js (gzip included) and saved as one
//          uncompressed gRPC frame.
//   h2     a raw node:http2 server answering like a gRPC server: it saves the
//          exact bytes (frame, compression flag) and headers it got, and
//          answers with grpc-status in trailers (or trailers-only).
//   https  a node:https HTTP/1.1 server for OTLP/HTTP over TLS.
// Plaintext unless --cert/--key (TLS); --client-ca demands a client
// certificate signed by that CA (mTLS).
//
// Fault injection (the last entry of a list repeats):
//   --status-seq A,B,..   h2/grpc: gRPC codes; https: HTTP statuses; each entry
//                         may also be "silent" (never answer) or "reset"
//                         (h2/https: destroy the connection mid-response)
//   --message TEXT        grpc-message for non-zero codes
//   --retry-info-ms N     attach a google.rpc.RetryInfo of N ms to errors
//   --retry-after V       https: Retry-After on non-2xx answers
//   --partial N           answer successes with partial_success rejecting N
//                         (protobuf, or JSON for JSON requests)
//   --trailers-only       h2: put grpc-status in the response headers
//   --response-body-bytes N   h2/https: a success body of N bytes
//   --delay-ms N          wait before answering
// Every request's .meta also holds "x-received-ms: <ms since start>".
// SIGTERM ends it. Tests bind 127.0.0.1 only.
'use strict';

const fs = require('fs');
const path = require('path');
const http2 = require('http2');
const https = require('https');
const http = require('http');

const transformerDir = path.join(__dirname, 'node_modules', '@opentelemetry', 'otlp-transformer');
const root = require(path.join(transformerDir, 'build', 'src', 'generated', 'root.js'));
const protobuf = require(require.resolve('protobufjs/minimal', { paths: [transformerDir] }));
const v1 = root.opentelemetry.proto.collector;

const SERVICES = {
  traces: { path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
    Req: v1.trace.v1.ExportTraceServiceRequest, Resp: v1.trace.v1.ExportTraceServiceResponse,
    rejected: 'rejectedSpans' },
  logs: { path: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
    Req: v1.logs.v1.ExportLogsServiceRequest, Resp: v1.logs.v1.ExportLogsServiceResponse,
    rejected: 'rejectedLogRecords' },
  metrics: { path: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
    Req: v1.metrics.v1.ExportMetricsServiceRequest, Resp: v1.metrics.v1.ExportMetricsServiceResponse,
    rejected: 'rejectedDataPoints' },
};

function parseArgs(argv) {
  const o = { mode: null, statusSeq: null, message: 'injected failure', retryInfoMs: null,
    retryAfter: null, partial: 0, trailersOnly: false, bodyBytes: 0, delayMs: 0 };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    const need = () => { if (v === undefined) throw new Error(`missing value for ${a}`); i++; return v; };
    switch (a) {
      case '--mode': o.mode = need(); break;
      case '--port-file': o.portFile = need(); break;
      case '--out': o.out = need(); break;
      case '--cert': o.cert = need(); break;
      case '--key': o.key = need(); break;
      case '--client-ca': o.clientCa = need(); break;
      case '--status-seq': o.statusSeq = need().split(','); break;
      case '--message': o.message = need(); break;
      case '--retry-info-ms': o.retryInfoMs = Number(need()); break;
      case '--retry-after': o.retryAfter = need(); break;
      case '--partial': o.partial = Number(need()); break;
      case '--trailers-only': o.trailersOnly = true; break;
      case '--response-body-bytes': o.bodyBytes = Number(need()); break;
      case '--delay-ms': o.delayMs = Number(need()); break;
      default: throw new Error(`unknown option ${a}`);
    }
  }
  if (!['grpc', 'h2', 'https'].includes(o.mode) || !o.portFile || !o.out)
    throw new Error('usage: otlp_server.js --mode grpc|h2|https --port-file FILE --out DIR [options]');
  if (!o.statusSeq) o.statusSeq = [o.mode === 'https' ? '200' : '0'];
  return o;
}

const opts = parseArgs(process.argv);
const started = Date.now();
let seq = 0;

function actionFor(n) {
  return opts.statusSeq[Math.min(n - 1, opts.statusSeq.length - 1)];
}

function writeAtomic(name, data) {
  const tmp = path.join(opts.out, `.${name}.tmp`);
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, path.join(opts.out, name));
}

// Saves one request; returns its sequence number.
function save(method, reqPath, headers, body) {
  const n = ++seq;
  const stem = String(n).padStart(6, '0');
  let meta = `${method} ${reqPath}\n`;
  for (const [k, v] of Object.entries(headers)) {
    if (k.startsWith(':')) continue;
    meta += `${k}: ${Array.isArray(v) ? v.join(', ') : v}\n`;
  }
  meta += `x-received-ms: ${Date.now() - started}\n`;
  writeAtomic(`${stem}.bin`, body);
  writeAtomic(`${stem}.meta`, meta);
  return n;
}

function signalOfPath(p) {
  for (const [sig, s] of Object.entries(SERVICES)) if (p === s.path || p.endsWith(`/v1/${sig}`)) return sig;
  return null;
}

// google.rpc.Status { code, message, details: [Any(RetryInfo{retry_delay})] }
function statusDetails(code, message, retryMs) {
  const dur = protobuf.Writer.create();
  dur.uint32(8).int64(Math.floor(retryMs / 1000));
  dur.uint32(16).int32((retryMs % 1000) * 1e6);
  const info = protobuf.Writer.create();
  info.uint32(10).bytes(dur.finish());
  const any = protobuf.Writer.create();
  any.uint32(10).string('type.googleapis.com/google.rpc.RetryInfo');
  any.uint32(18).bytes(info.finish());
  const st = protobuf.Writer.create();
  st.uint32(8).int32(code);
  st.uint32(18).string(message);
  st.uint32(26).bytes(any.finish());
  return Buffer.from(st.finish());
}

function responseMessage(sig) {
  const s = SERVICES[sig];
  const obj = opts.partial ? { partialSuccess: { [s.rejected]: opts.partial, errorMessage: 'test rejects' } } : {};
  return Buffer.from(s.Resp.encode(s.Resp.fromObject(obj)).finish());
}

function frame(msg) {
  const f = Buffer.alloc(5 + msg.length);
  f.writeUInt32BE(msg.length, 1);
  msg.copy(f, 5);
  return f;
}

const later = (fn) => (opts.delayMs ? setTimeout(fn, opts.delayMs) : fn());

function tlsOptions() {
  if (!opts.cert) return null;
  const o = { cert: fs.readFileSync(opts.cert), key: fs.readFileSync(opts.key), allowHTTP1: false };
  if (opts.clientCa) {
    o.ca = fs.readFileSync(opts.clientCa);
    o.requestCert = true;
    o.rejectUnauthorized = true;
  }
  return o;
}

function listen(server) {
  server.listen(0, '127.0.0.1', () => {
    const tmp = `${opts.portFile}.tmp`;
    fs.writeFileSync(tmp, `${server.address().port}\n`);
    fs.renameSync(tmp, opts.portFile);
  });
}

// ---- grpc: @grpc/grpc-js -------------------------------------------------------

function startGrpc() {
  const grpc = require(path.join(__dirname, 'node_modules', '@grpc', 'grpc-js'));
  const server = new grpc.Server();
  for (const [sig, s] of Object.entries(SERVICES)) {
    const def = {
      Export: {
        path: s.path, requestStream: false, responseStream: false,
        requestDeserialize: (b) => ({ raw: Buffer.from(b), msg: s.Req.decode(b) }),
        requestSerialize: (m) => Buffer.from(s.Req.encode(m).finish()),
        responseSerialize: (b) => b,
        responseDeserialize: (b) => b,
      },
    };
    server.addService(def, {
      Export: (call, callback) => {
        const headers = call.metadata.getMap();
        const deadline = call.getDeadline();
        if (deadline instanceof Date || typeof deadline === 'number') {
          const left = Number(deadline) - Date.now();
          if (Number.isFinite(left)) headers['x-deadline-left-ms'] = String(Math.round(left));
        }
        headers['content-type'] = 'application/grpc';
        const n = save('POST', s.path, headers, frame(call.request.raw));
        const act = actionFor(n);
        if (act === 'silent') return;
        later(() => {
          const code = Number(act);
          if (code === 0) return callback(null, responseMessage(sig));
          const md = new grpc.Metadata();
          if (opts.retryInfoMs !== null)
            md.set('grpc-status-details-bin', statusDetails(code, opts.message, opts.retryInfoMs));
          callback({ code, details: opts.message, metadata: md });
        });
      },
    });
  }
  const tls = tlsOptions();
  const creds = tls
    ? grpc.ServerCredentials.createSsl(tls.ca || null, [{ private_key: tls.key, cert_chain: tls.cert }], !!tls.requestCert)
    : grpc.ServerCredentials.createInsecure();
  server.bindAsync('127.0.0.1:0', creds, (err, port) => {
    if (err) throw err;
    const tmp = `${opts.portFile}.tmp`;
    fs.writeFileSync(tmp, `${port}\n`);
    fs.renameSync(tmp, opts.portFile);
  });
  return () => server.forceShutdown();
}

// ---- h2: raw HTTP/2 ----------------------------------------------------------

function startH2() {
  const tls = tlsOptions();
  const server = tls ? http2.createSecureServer(tls) : http2.createServer();
  server.on('stream', (stream, headers) => {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      const n = save(headers[':method'], headers[':path'], headers, body);
      const act = actionFor(n);
      const sig = signalOfPath(headers[':path']);
      if (act === 'silent') return;
      later(() => {
        if (act === 'reset') {
          stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
          stream.write(Buffer.from([0, 0, 0]));
          stream.session.destroy();
          return;
        }
        // A hostile collector (test_hostile.py): frames that lie about
        // their length, no trailers, statuses that are no number.
        const bad = {
          'frame-too-long': () => { const f = frame(responseMessage(sig || 'traces')); f.writeUInt32BE(1 << 30, 1); return f; },
          'frame-too-short': () => Buffer.concat([frame(Buffer.alloc(0)), Buffer.alloc(64, 0xff)]),
          'frame-compressed': () => { const f = frame(Buffer.from('not gzip')); f[0] = 1; return f; },
          'frame-garbage': () => Buffer.from('<html>502 Bad Gateway</html>'),
          'frame-cut': () => frame(responseMessage(sig || 'traces')).subarray(0, 3),
        }[act];
        if (bad || act === 'no-trailers' || act === 'status-huge' || act === 'status-text') {
          const trailers = { 'grpc-status': act === 'status-huge' ? '99999999999999999999' : act === 'status-text' ? 'OK' : '0' };
          if (act === 'no-trailers') {
            stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
            stream.end(frame(responseMessage(sig || 'traces')));
            return;
          }
          stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          stream.on('wantTrailers', () => stream.sendTrailers(trailers));
          stream.end(bad ? bad() : frame(responseMessage(sig || 'traces')));
          return;
        }
        const code = Number(act);
        const trailers = { 'grpc-status': String(code) };
        if (code !== 0) {
          trailers['grpc-message'] = encodeURIComponent(opts.message);
          if (opts.retryInfoMs !== null)
            trailers['grpc-status-details-bin'] = statusDetails(code, opts.message, opts.retryInfoMs).toString('base64').replace(/=+$/, '');
        }
        if (opts.trailersOnly || code !== 0) {
          stream.respond({ ':status': 200, 'content-type': 'application/grpc', ...trailers }, { endStream: true });
          return;
        }
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers(trailers));
        const msg = opts.bodyBytes ? Buffer.alloc(opts.bodyBytes, 0) : responseMessage(sig || 'traces');
        stream.end(frame(msg));
      });
    });
  });
  listen(server);
  return () => server.close();
}

// ---- https: HTTP/1.1 over TLS -----------------------------------------------------

function startHttps() {
  const tls = tlsOptions();
  const handler = (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const n = save(req.method, req.url, req.headers, Buffer.concat(chunks));
      const act = actionFor(n);
      if (act === 'silent') return;
      later(() => {
        if (act === 'reset') {
          res.socket.write('HTTP/1.1 200 OK\r\nContent-Le');
          res.socket.destroy();
          return;
        }
        const status = Number(act);
        const h = {};
        if (opts.retryAfter !== null && (status < 200 || status > 299)) h['retry-after'] = opts.retryAfter;
        let body = Buffer.alloc(0);
        const json = (req.headers['content-type'] || '').startsWith('application/json');
        const sig = signalOfPath(req.url);
        if (status >= 200 && status < 300) {
          if (opts.bodyBytes) body = Buffer.alloc(opts.bodyBytes, 0x78);
          else if (opts.partial && json)
            body = Buffer.from(JSON.stringify({ partialSuccess: { [SERVICES[sig].rejected]: String(opts.partial), errorMessage: 'test rejects' } }));
          else if (opts.partial) body = responseMessage(sig);
        }
        h['content-type'] = json ? 'application/json' : 'application/x-protobuf';
        h['content-length'] = body.length;
        res.writeHead(status, h);
        res.end(body);
      });
    });
  };
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  listen(server);
  return () => server.close();
}

const stop = { grpc: startGrpc, h2: startH2, https: startHttps }[opts.mode]();
const quit = () => { try { stop(); } catch (e) { /* already stopping */ } process.exit(0); };
process.on('SIGTERM', quit);
process.on('SIGINT', quit);
