import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request } from 'node:http';
import { join } from 'node:path';
import { call, spawnService, startOtlpRecorder, type OtlpRecorder } from '@glassbox/service-kit/testing';

const MAIN = join(__dirname, '..', 'src', 'main.js');

/** What production sets, with export intervals short enough for a test. */
function productionEnv(collector: OtlpRecorder): Record<string, string> {
  return {
    STORAGE: 'memory',
    OTEL_SERVICE_NAME: 'users',
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
    OTEL_BSP_SCHEDULE_DELAY: '100',
    OTEL_BLRP_SCHEDULE_DELAY: '100',
    OTEL_METRIC_EXPORT_INTERVAL: '500',
  };
}

describe('the users service started as in production (node --require the preload)', function () {
  this.timeout(30_000);
  let collector: OtlpRecorder;

  beforeEach(async () => (collector = await startOtlpRecorder()));
  afterEach(() => collector.close());

  it('exports server spans named from the route, with http.route, metrics and logs, and shows an exemplar on /metrics', async () => {
    const users = await spawnService(MAIN, productionEnv(collector));
    try {
      const created = await call(users.url, 'POST', '/users', { body: { name: 'Linus', email: 'linus@example.org' } });
      assert.equal(created.status, 201);
      assert.equal((await call(users.url, 'GET', `/users/${created.body.id}`)).status, 200);

      // The span names and attribute values travel as plain strings inside the protobuf.
      // From the lean request path, the default (telemetry/src/lean-http.ts).
      await collector.waitFor('/v1/traces', [
        'GET /users/:id',
        'http.route',
        '/users/:id',
        '@glassbox/telemetry/http-lean',
      ]);

      const exposition = await (await fetch(`${users.management}/metrics`)).text();
      const exemplar =
        /http_requests_total\{method="GET",route="\/users\/:id",status_code="200"\} 1 # \{trace_id="([0-9a-f]{32})",span_id="([0-9a-f]{16})"\}/.exec(
          exposition,
        );
      assert.ok(exemplar, `no exemplar on /metrics:\n${exposition.slice(0, 2000)}`);
      const traceId = exemplar[1] as string;
      // The exemplar names a trace that really was exported (ids are raw bytes in OTLP).
      await collector.waitFor('/v1/traces', [Buffer.from(traceId, 'hex'), 'GET /users/:id']);

      await collector.waitFor('/v1/logs', ['user registered', 'users']);
      // The request durations are prom-client's (above); OTLP carries the runtime's.
      await collector.waitFor('/v1/metrics', ['nodejs.eventloop.delay.p50']);
    } finally {
      users.child.kill('SIGTERM');
      await once(users.child, 'exit');
    }
  });

  it('finishes a request in flight when SIGTERM arrives, exports its span, and exits 0', async () => {
    const users = await spawnService(MAIN, productionEnv(collector));
    const body = JSON.stringify({ name: 'Late Request', email: 'late@example.org' });
    const port = Number(new URL(users.url).port);
    // The body is sent in two halves; SIGTERM arrives between them, while the request is in flight.
    const pending = request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/users',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    const responded = once(pending, 'response');
    pending.write(body.slice(0, 10));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const exited = once(users.child, 'exit');
    users.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 300));
    pending.end(body.slice(10));

    const [response] = (await responded) as [import('node:http').IncomingMessage];
    assert.equal(response.statusCode, 201);
    response.resume();
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0, users.output());
    assert.ok(
      collector.received('/v1/traces').some((p) => p.includes('POST /users')),
      'the in-flight span was flushed before exit',
    );
    assert.ok(
      collector.received('/v1/logs').some((p) => p.includes('user registered')),
      'its log record too',
    );
  });

  it('with OTEL_SDK_DISABLED=true runs bare: serves, exports nothing', async () => {
    const users = await spawnService(MAIN, { ...productionEnv(collector), OTEL_SDK_DISABLED: 'true' });
    try {
      assert.equal((await call(users.url, 'GET', '/users/1')).status, 404);
      await new Promise((resolve) => setTimeout(resolve, 700));
      assert.equal(collector.received('/v1/traces').length + collector.received('/v1/logs').length, 0);
      const line = users
        .output()
        .split('\n')
        .find((l) => l.includes('"msg":"listening"'));
      assert.ok(line && !line.includes('trace_id'));
    } finally {
      users.child.kill('SIGTERM');
      await once(users.child, 'exit');
    }
  });
});
