import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { connect, type AddressInfo } from 'node:net';
import Router from '@koa/router';
import Koa from 'koa';
import { flushTelemetry } from '../src/lifecycle';
import { createHttpMetrics, OTHER_METHOD, UNMATCHED_ROUTE, type HttpMetrics } from '../src/metrics';
import '../src/testing';

describe('prom-client HTTP metrics middleware', () => {
  let metrics: HttpMetrics;
  let server: Server;
  let base: string;

  beforeEach(async () => {
    metrics = createHttpMetrics();
    const router = new Router();
    router.get('/items/:id', function item(ctx) {
      ctx.body = { id: ctx.params.id };
    });
    router.get('/boom', function boom() {
      throw new Error('boom');
    });
    const app = new Koa();
    app.silent = true;
    app.use(metrics.middleware);
    app.use(router.routes());
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- Koa's handler returns a promise; node:http ignores it
    server = createServer(app.callback()).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(() => new Promise((resolve) => server.close(resolve)));

  it('labels a method it does not know as _OTHER, so a caller can not mint label values', async () => {
    // Methods Node's parser accepts (it refuses made-up ones itself) but HTTP metrics do not name.
    for (const method of ['PROPFIND', 'MKCOL', 'LOCK']) await fetch(`${base}/items/1`, { method });
    await fetch(`${base}/items/1`, { method: 'PATCH' });
    const text = await metrics.registry.metrics();
    assert.match(
      text,
      new RegExp(`http_requests_total\\{method="${OTHER_METHOD}",route="${UNMATCHED_ROUTE}",status_code="404"\\} 3`),
    );
    assert.match(text, /http_requests_total\{method="PATCH",/);
    assert.doesNotMatch(text, /method="(PROPFIND|MKCOL|LOCK)"/);
  });

  it('labels requests by route template, never by raw path', async () => {
    for (const id of ['1', '2', '3']) await fetch(`${base}/items/${id}`);
    await fetch(`${base}/no/such/thing`);
    const text = await metrics.registry.metrics();
    assert.match(text, /http_requests_total\{method="GET",route="\/items\/:id",status_code="200"\} 3/);
    assert.match(
      text,
      new RegExp(`http_requests_total\\{method="GET",route="${UNMATCHED_ROUTE}",status_code="404"\\} 1`),
    );
    assert.doesNotMatch(text, /\/items\/1|no\/such/);
  });

  it('counts a request whose handler throws, as a 500', async () => {
    await fetch(`${base}/boom`);
    assert.match(
      await metrics.registry.metrics(),
      /http_requests_total\{method="GET",route="\/boom",status_code="500"\} 1/,
    );
  });

  it('observes durations in seconds with a bucket at the 300 ms objective, and exemplars with trace ids', async () => {
    await fetch(`${base}/items/9`);
    const text = await metrics.registry.metrics();
    assert.match(
      text,
      /http_request_duration_seconds_bucket\{le="0.3",method="GET",route="\/items\/:id",status_code="200"\} 1/,
    );
    assert.match(text, /# \{trace_id="[0-9a-f]{32}",span_id="[0-9a-f]{16}"\}/);
    assert.equal(metrics.registry.contentType.split(';')[0], 'application/openmetrics-text');
  });

  it('attaches no exemplar to a request that is not sampled: it would link to "trace not found"', async () => {
    // On a raw socket: the test's own fetch would be traced, and sampled.
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    const traceparent = `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-00`;
    socket.write(`GET /items/5 HTTP/1.1\r\nHost: x\r\ntraceparent: ${traceparent}\r\nConnection: close\r\n\r\n`);
    socket.resume();
    await once(socket, 'close');
    const text = await metrics.registry.metrics();
    assert.match(text, /http_requests_total\{method="GET",route="\/items\/:id",status_code="200"\} 1\n/);
    assert.doesNotMatch(text, /# \{/);
  });

  it('includes the Node.js runtime metrics', async () => {
    const text = await metrics.registry.metrics();
    assert.match(text, /nodejs_eventloop_lag_seconds/);
    assert.match(text, /process_resident_memory_bytes/);
  });
});

describe('flushTelemetry', () => {
  it('gives up after its timeout when the exporter hangs', async () => {
    const key = Symbol.for('glassbox.telemetry.shutdown');
    const saved = (globalThis as Record<symbol, unknown>)[key];
    (globalThis as Record<symbol, unknown>)[key] = () => new Promise(() => undefined);
    try {
      const started = Date.now();
      await flushTelemetry(200);
      const waited = Date.now() - started;
      assert.ok(waited >= 190 && waited < 2000, `waited ${waited} ms`);
    } finally {
      (globalThis as Record<symbol, unknown>)[key] = saved;
    }
  });
});
