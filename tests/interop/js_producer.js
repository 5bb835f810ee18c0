#!/usr/bin/env node
// js_producer.js: an OTLP producer we did not write. Spans and log records
// made by the official OpenTelemetry JS SDK (sdk-trace-base, sdk-logs),
// serialized by its otlp-transformer (protobuf, or the OTLP JSON mapping),
// POSTed to our receiver; or (grpc) sent as unary calls by @grpc/grpc-js.
//
//   node js_producer.js PORT [proto|json|grpc]
//
// Prints one JSON object: what was sent (ids as hex, times as ns strings,
// attributes, events, links, resource, log records), for the test to
// compare with the store. Exits 1 when a POST is not answered 200.
'use strict';

const http = require('http');
const path = require('path');

const nm = path.join(__dirname, 'node_modules', '@opentelemetry');
const transformer = require(path.join(nm, 'otlp-transformer'));
const trace = require(path.join(nm, 'sdk-trace-base'));
const logs = require(path.join(nm, 'sdk-logs'));
const { Resource } = require(path.join(nm, 'resources'));
const api = require(path.join(nm, 'api'));

const port = Number(process.argv[2]);
const json = process.argv[3] === 'json';
const grpcMode = process.argv[3] === 'grpc';
const traceSer = json ? transformer.JsonTraceSerializer : transformer.ProtobufTraceSerializer;
const logsSer = json ? transformer.JsonLogsSerializer : transformer.ProtobufLogsSerializer;
if (!port) {
  console.error('usage: node js_producer.js PORT');
  process.exit(2);
}

function unary(method, body) {
  const grpc = require(path.join(__dirname, 'node_modules', '@grpc', 'grpc-js'));
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(method, (b) => Buffer.from(b), (b) => b, body, (err) => {
      client.close();
      resolve(err ? err.code : 200);
    });
  });
}

function post(p, body) {
  if (grpcMode) {
    return unary(p === '/v1/traces'
      ? '/opentelemetry.proto.collector.trace.v1.TraceService/Export'
      : '/opentelemetry.proto.collector.logs.v1.LogsService/Export', body);
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, method: 'POST',
      headers: { 'Content-Type': json ? 'application/json' : 'application/x-protobuf',
        'Content-Length': body.length } },
    (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end(Buffer.from(body));
  });
}

const ns = (hr) => (BigInt(hr[0]) * 1000000000n + BigInt(hr[1])).toString();

async function main() {
  const resource = new Resource({ 'service.name': 'js-producer', 'deployment.environment': 'test' });
  const spanExporter = new trace.InMemorySpanExporter();
  const tp = new trace.BasicTracerProvider({ resource,
    spanProcessors: [new trace.SimpleSpanProcessor(spanExporter)] });
  const tracer = tp.getTracer('js-producer-scope', '1.2.3');
  const parent = tracer.startSpan('parent', { kind: api.SpanKind.SERVER,
    attributes: { 'str': 'text', 'int': 42, 'dbl': 2.5, 'flag': true, 'arr': ['a', 'b'] } });
  parent.addEvent('checkpoint', { 'step': 3 });
  const ctx = api.trace.setSpan(api.context.active(), parent);
  const child = tracer.startSpan('child', { kind: api.SpanKind.CLIENT,
    links: [{ context: parent.spanContext(), attributes: { 'why': 'because' } }] }, ctx);
  child.setStatus({ code: api.SpanStatusCode.ERROR, message: 'it broke' });
  child.end();
  parent.end();
  const spans = spanExporter.getFinishedSpans();

  const logExporter = new logs.InMemoryLogRecordExporter();
  const lp = new logs.LoggerProvider({ resource });
  lp.addLogRecordProcessor(new logs.SimpleLogRecordProcessor(logExporter));
  lp.getLogger('js-producer-logs').emit({ severityNumber: 17, severityText: 'ERROR',
    body: 'js log line', attributes: { 'k': 7 }, context: ctx });
  const records = logExporter.getFinishedLogRecords();

  const st1 = await post('/v1/traces', traceSer.serializeRequest(spans));
  const st2 = await post('/v1/logs', logsSer.serializeRequest(records));
  const badCode = grpcMode
    ? await unary('/opentelemetry.proto.collector.trace.v1.TraceService/Export', Buffer.from([0x0a, 0x05, 0x0a]))
    : null;
  const out = {
    status: [st1, st2],
    bad_code: badCode,
    spans: spans.map((s) => ({
      trace_id: s.spanContext().traceId, span_id: s.spanContext().spanId,
      parent_span_id: s.parentSpanId || null, name: s.name, kind: s.kind + 1,
      start_ns: ns(s.startTime), end_ns: ns(s.endTime), status_code: s.status.code,
      attributes: s.attributes,
      events: s.events.map((e) => ({ name: e.name, time_ns: ns(e.time), attributes: e.attributes })),
      links: s.links.map((l) => ({ trace_id: l.context.traceId, span_id: l.context.spanId,
        attributes: l.attributes })),
    })),
    logs: records.map((r) => ({ time_ns: ns(r.hrTime), severity_number: r.severityNumber,
      body: r.body, attributes: r.attributes, trace_id: r.spanContext && r.spanContext.traceId,
      span_id: r.spanContext && r.spanContext.spanId })),
  };
  console.log(JSON.stringify(out));
  process.exit(st1 === 200 && st2 === 200 ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
