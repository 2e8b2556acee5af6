import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanKind } from '@opentelemetry/api';
import { testTelemetry } from '@glassbox/telemetry/testing';
import { call, captureLogs, startOnFreePort, type Running } from '@glassbox/service-kit/testing';
import { readConfig } from '../src/config';
import { buildGatewayService } from '../src/main';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A stand-in for a service behind the gateway: records what reached it, answers what it is told. */
async function fakeService(
  answer: (seen: Seen) => { status: number; body?: unknown; delayMs?: number; headers?: Record<string, string> },
) {
  const seen: Seen[] = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const entry = { method: request.method ?? '', url: request.url ?? '', headers: request.headers, body };
      seen.push(entry);
      const reply = answer(entry);
      setTimeout(() => {
        response.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
        response.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
      }, reply.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('gateway', () => {
  let users: Awaited<ReturnType<typeof fakeService>>;
  let orders: Awaited<ReturnType<typeof fakeService>>;
  let gateway: Running;

  beforeEach(async () => {
    testTelemetry.reset();
    users = await fakeService((seen) =>
      seen.url.startsWith('/users/404')
        ? { status: 404, body: { error: { code: 'not_found', message: 'user 404 does not exist' } } }
        : seen.url.startsWith('/users/slow')
          ? { status: 200, body: {}, delayMs: 1_000 }
          : seen.method === 'POST'
            ? { status: 201, body: { id: 9 }, headers: { location: '/users/9' } }
            : { status: 200, body: { id: 7, via: 'users' } },
    );
    orders = await fakeService(() => ({ status: 201, body: { id: 1 } }));
    const config = readConfig({
      USERS_URL: users.url,
      ORDERS_URL: orders.url,
      PRODUCTS_URL: 'http://127.0.0.1:1', // nothing listens there
      UPSTREAM_TIMEOUT_MS: '300',
    });
    gateway = await startOnFreePort(await buildGatewayService(config, captureLogs('gateway').logger));
  });
  afterEach(async () => {
    await gateway.stop();
    await users.close();
    await orders.close();
  });

  it('forwards a request with its query string and request id, and returns the answer as it is', async () => {
    const reply = await call(gateway.url, 'GET', '/api/users/7?fields=name', { headers: { 'x-request-id': 'abc-1' } });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, { id: 7, via: 'users' });
    assert.equal(reply.headers.get('x-request-id'), 'abc-1');
    assert.equal(users.seen[0]?.url, '/users/7?fields=name');
    assert.equal(users.seen[0]?.headers['x-request-id'], 'abc-1');
  });

  it('passes a downstream error through with its status and body', async () => {
    const reply = await call(gateway.url, 'GET', '/api/users/404');
    assert.equal(reply.status, 404);
    assert.equal(reply.body.error.message, 'user 404 does not exist');
  });

  it('forwards a JSON body and maps the Location header into the public API', async () => {
    const reply = await call(gateway.url, 'POST', '/api/users', { body: { name: 'a', email: 'a@example.org' } });
    assert.equal(reply.status, 201);
    assert.equal(reply.headers.get('location'), '/api/users/9');
    assert.deepEqual(JSON.parse(users.seen[0]?.body ?? ''), { name: 'a', email: 'a@example.org' });
  });

  it('refuses malformed JSON itself, without bothering the service', async () => {
    const reply = await call(gateway.url, 'POST', '/api/orders', { raw: '{"userId": 1,,}' });
    assert.equal(reply.status, 400);
    assert.equal(orders.seen.length, 0);
  });

  it('answers 502 with a JSON error naming the service when it cannot be reached', async () => {
    const reply = await call(gateway.url, 'GET', '/api/products');
    assert.equal(reply.status, 502);
    assert.equal(reply.body.error.code, 'upstream_unreachable');
    assert.deepEqual(reply.body.error.details, { dependency: 'products' });
    assert.ok(reply.body.request_id);
  });

  it('answers 504 once the timeout passes when the service is slow', async () => {
    const started = Date.now();
    const reply = await call(gateway.url, 'GET', '/api/users/slow');
    const waited = Date.now() - started;
    assert.equal(reply.status, 504);
    assert.equal(reply.body.error.code, 'upstream_timeout');
    assert.ok(waited >= 290 && waited < 900, `answered after ${waited} ms`);
  });

  it('answers 404 for a path outside the public API', async () => {
    assert.equal((await call(gateway.url, 'GET', '/api/secrets')).status, 404);
    assert.equal((await call(gateway.url, 'GET', '/users/7')).status, 404, 'services are reached only through /api');
  });

  it('continues the trace into the service: its traceparent carries the gateway’s trace id', async () => {
    await call(gateway.url, 'POST', '/api/orders', { body: { userId: 1, items: [] } });
    const traceparent = String(orders.seen[0]?.headers.traceparent);
    const [, traceId, parentId] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(traceparent) ?? [];
    assert.ok(traceId, `traceparent was ${traceparent}`);
    let spans = testTelemetry.trace(traceId);
    for (let i = 0; i < 50 && !spans.some((s) => s.kind === SpanKind.SERVER && s.name === 'POST /api/orders'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      spans = testTelemetry.trace(traceId);
    }
    const server = spans.find((s) => s.kind === SpanKind.SERVER && s.name === 'POST /api/orders');
    const client = spans.find((s) => s.kind === SpanKind.CLIENT && s.spanContext().spanId === parentId);
    assert.ok(server, `spans: ${spans.map((s) => `${s.name}/${s.kind}`).join(', ')}`);
    assert.ok(client, 'the service’s parent is the gateway’s CLIENT span');
    // The client span hangs below the server span (through the router layer).
    const ancestors = new Set(spans.map((s) => s.spanContext().spanId));
    assert.ok(client.parentSpanContext && ancestors.has(client.parentSpanContext.spanId));
  });

  it('is ready only when every service answers', async () => {
    const ready = await call(gateway.management, 'GET', '/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.body.checks.users, 'ok');
    assert.match(ready.body.checks.products, /^failed/);
  });
});
