import assert from 'node:assert/strict';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { testTelemetry } from '@glassbox/telemetry/testing';
import { call, captureLogs, startOnFreePort, type Running } from '@glassbox/service-kit/testing';
import { readConfig } from '../src/config';
import { buildUsersService } from '../src/main';
import { InMemoryUserRepository } from '../src/repository';

/** Spans end asynchronously after the response is written; wait for the one we want. */
async function serverSpan(route: string) {
  for (let i = 0; i < 100; i++) {
    const span = testTelemetry.spans
      .getFinishedSpans()
      .find((s) => s.kind === SpanKind.SERVER && s.attributes['http.route'] === route);
    if (span) return span;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(
    `no SERVER span with http.route=${route}; saw ${testTelemetry.spans
      .getFinishedSpans()
      .map((s) => s.name)
      .join(', ')}`,
  );
}

describe('users telemetry', () => {
  let users: Running;
  let logs: ReturnType<typeof captureLogs>;
  const repository = new InMemoryUserRepository();

  beforeEach(async () => {
    testTelemetry.reset();
    logs = captureLogs('users');
    const store = { repository, close: () => Promise.resolve() };
    users = await startOnFreePort(await buildUsersService(readConfig({ STORAGE: 'memory' }), logs.logger, { store }));
  });
  afterEach(() => users.stop());

  it('names the SERVER span after the route template, with http.route and the status', async () => {
    await call(users.url, 'GET', '/users/42');
    const span = await serverSpan('/users/:id');
    assert.equal(span.name, 'GET /users/:id');
    assert.equal(span.attributes['http.response.status_code'], 404);
    assert.equal(span.attributes['http.request.method'], 'GET');
    assert.equal(span.attributes['http.route'], '/users/:id');
    // The lean request path folds the router's span into the server span, and traces no middleware layer.
    assert.equal(span.instrumentationScope.name, '@glassbox/telemetry/http-lean');
    const koa = testTelemetry.spans.getFinishedSpans().filter((s) => s.attributes['koa.type'] !== undefined);
    assert.deepEqual(koa, [], 'no Koa layer has a span of its own');
  });

  it('records the exception and sets error status when a request fails with a 500', async () => {
    const broken = new Error('disk on fire');
    repository.find = () => Promise.reject(broken);
    try {
      const reply = await call(users.url, 'GET', '/users/7');
      assert.equal(reply.status, 500);
      assert.deepEqual(reply.body.error, { code: 'internal', message: 'internal error' }, 'no detail leaks');
    } finally {
      delete (repository as Partial<InMemoryUserRepository>).find;
    }
    const span = await serverSpan('/users/:id');
    assert.equal(span.status.code, SpanStatusCode.ERROR);
    const exception = span.events.find((e) => e.name === 'exception');
    assert.equal(exception?.attributes?.['exception.message'], 'disk on fire');

    const logged = logs.lines().find((line) => line.msg === 'request failed: internal error');
    assert.ok(logged, 'the failure is logged');
    assert.equal(logged.trace_id, span.spanContext().traceId, 'the log line carries the trace id');
    assert.match(String((logged.err as { stack?: string }).stack), /disk on fire/, 'the stack goes to the log');
  });

  it('writes log lines inside a request with its trace and span ids, and exports them over OTLP', async () => {
    const reply = await call(users.url, 'POST', '/users', { body: { name: 'Grace', email: 'grace@example.org' } });
    assert.equal(reply.status, 201);
    const span = await serverSpan('/users');
    const line = logs.lines().find((l) => l.msg === 'user registered');
    assert.ok(line);
    assert.equal(line.trace_id, span.spanContext().traceId);
    assert.match(String(line.span_id), /^[0-9a-f]{16}$/);
    const exported = testTelemetry.logs.getFinishedLogRecords().find((r) => r.body === 'user registered');
    assert.ok(exported, 'the same record went to the OpenTelemetry logs pipeline');
    assert.equal(exported.spanContext?.traceId, span.spanContext().traceId);
  });
});
