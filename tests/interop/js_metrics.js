#!/usr/bin/env node
// js_metrics.js: metrics from an OTLP producer we did not write. Instruments
// of the official OpenTelemetry JS metrics SDK (sdk-metrics: counter,
// up-down counter, gauge, observable gauge, histogram, exponential histogram,
// cumulative and delta), collected by a MetricReader, serialized by its
// otlp-transformer (protobuf, or the OTLP JSON mapping) and POSTed to
// /v1/metrics; or (grpc) sent as a unary MetricsService/Export call by
// @grpc/grpc-js. The same serializers the SDK's OTLP metric exporters use.
//
//   node js_metrics.js PORT [proto|json|grpc]
//
// Prints one JSON object: what was sent, per metric (name, unit, type,
// temporality, monotonic, points with attributes, times as ns strings and
// values or buckets), for the test to compare with the store. Exits 1 when
// an export is not answered 200 (gRPC: status 0).
'use strict';

const http = require('http');
const path = require('path');

const nm = path.join(__dirname, 'node_modules', '@opentelemetry');
const transformer = require(path.join(nm, 'otlp-transformer'));
const sdk = require(path.join(nm, 'sdk-metrics'));
const { Resource } = require(path.join(nm, 'resources'));
const api = require(path.join(nm, 'api'));

const port = Number(process.argv[2]);
const mode = process.argv[3] || 'proto';
const ser = mode === 'json' ? transformer.JsonMetricsSerializer
  : transformer.ProtobufMetricsSerializer;
if (!port) {
  console.error('usage: node js_metrics.js PORT [proto|json|grpc]');
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

function send(body) {
  if (mode === 'grpc') {
    return unary('/opentelemetry.proto.collector.metrics.v1.MetricsService/Export', body);
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/v1/metrics', method: 'POST',
      headers: { 'Content-Type': mode === 'json' ? 'application/json' : 'application/x-protobuf',
        'Content-Length': body.length } },
    (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end(Buffer.from(body));
  });
}

class Reader extends sdk.MetricReader {
  onForceFlush() { return Promise.resolve(); }
  onShutdown() { return Promise.resolve(); }
}

const ns = (hr) => (BigInt(hr[0]) * 1000000000n + BigInt(hr[1])).toString();
const TYPES = { [sdk.DataPointType.GAUGE]: 'gauge', [sdk.DataPointType.SUM]: 'sum',
  [sdk.DataPointType.HISTOGRAM]: 'histogram',
  [sdk.DataPointType.EXPONENTIAL_HISTOGRAM]: 'exp_histogram' };

function describe(rm) {
  const out = [];
  for (const sm of rm.scopeMetrics) {
    for (const m of sm.metrics) {
      const type = TYPES[m.dataPointType];
      out.push({
        name: m.descriptor.name, unit: m.descriptor.unit, description: m.descriptor.description,
        type, scope: sm.scope.name,
        temporality: type === 'gauge' ? null
          : (m.aggregationTemporality === sdk.AggregationTemporality.DELTA ? 'delta' : 'cumulative'),
        monotonic: type === 'sum' ? m.isMonotonic : false,
        is_int: m.descriptor.valueType === api.ValueType.INT,
        points: m.dataPoints.map((p) => {
          const base = { attributes: p.attributes, start_ns: ns(p.startTime), time_ns: ns(p.endTime) };
          if (type === 'gauge' || type === 'sum') return Object.assign(base, { value: p.value });
          if (type === 'histogram') {
            return Object.assign(base, { count: p.value.count, sum: p.value.sum,
              min: p.value.min, max: p.value.max, bounds: p.value.buckets.boundaries,
              counts: p.value.buckets.counts });
          }
          return Object.assign(base, { count: p.value.count, sum: p.value.sum, min: p.value.min,
            max: p.value.max, scale: p.value.scale, zero_count: p.value.zeroCount,
            positive: p.value.positive, negative: p.value.negative });
        }),
      });
    }
  }
  return out;
}

async function main() {
  const resource = new Resource({ 'service.name': 'js-metrics', 'process.pid': 4242 });
  const reader = new Reader();
  const mp = new sdk.MeterProvider({ resource, readers: [reader],
    views: [new sdk.View({ instrumentName: 'js.latency.exp',
      aggregation: new sdk.ExponentialHistogramAggregation(20) })] });
  const meter = mp.getMeter('js-metrics-scope', '2.0.0');

  const requests = meter.createCounter('js.requests', { unit: '{request}',
    description: 'requests served', valueType: api.ValueType.INT });
  requests.add(3, { 'http.method': 'GET' });
  requests.add(2, { 'http.method': 'PUT' });
  requests.add(4, { 'http.method': 'GET' });
  const bytes = meter.createCounter('js.bytes', { unit: 'By' });
  bytes.add(1.5, { 'dir': 'in' });
  const queue = meter.createUpDownCounter('js.queue.size', { valueType: api.ValueType.INT });
  queue.add(5);
  queue.add(-2);
  const temp = meter.createGauge('js.temperature', { unit: 'Cel' });
  temp.record(21.25, { 'room': 'a' });
  temp.record(19.5, { 'room': 'b' });
  const load = meter.createObservableGauge('js.load');
  load.addCallback((r) => r.observe(0.75, { 'cpu': 0 }));
  const latency = meter.createHistogram('js.latency', { unit: 'ms',
    advice: { explicitBucketBoundaries: [10, 100, 1000] } });
  for (const v of [5, 50, 55, 500, 5000]) latency.record(v, { 'route': '/x' });
  const exp = meter.createHistogram('js.latency.exp', { unit: 's' });
  for (const v of [0.001, 0.002, 0.5, 2, -0.25]) exp.record(v);

  const first = await reader.collect();
  // a second collection: cumulative points with a later time (a series of two)
  requests.add(1, { 'http.method': 'GET' });
  await new Promise((r) => setTimeout(r, 5));
  const second = await reader.collect();

  // delta temporality from a second provider
  const dreader = new Reader({ aggregationTemporalitySelector: () => sdk.AggregationTemporality.DELTA });
  const dmp = new sdk.MeterProvider({ resource, readers: [dreader] });
  const dcount = dmp.getMeter('js-metrics-delta').createCounter('js.jobs', { valueType: api.ValueType.INT });
  dcount.add(7);
  const third = await dreader.collect();

  const status = [];
  for (const c of [first, second, third]) status.push(await send(ser.serializeRequest(c.resourceMetrics)));
  const bad = await (mode === 'grpc'
    ? unary('/opentelemetry.proto.collector.metrics.v1.MetricsService/Export', Buffer.from([0x0a, 0x05, 0x0a]))
    : null);
  const metrics = [].concat(describe(first.resourceMetrics), describe(second.resourceMetrics),
    describe(third.resourceMetrics));
  console.log(JSON.stringify({ status, bad_code: bad, metrics }));
  process.exit(status.every((s) => s === 200) ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
