import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { SpanKind } from '@opentelemetry/api';
import { testTelemetry } from '@glassbox/telemetry/testing';
import { call, captureLogs, startOnFreePort, type Running } from '@glassbox/service-kit/testing';
import { readConfig } from '../src/config';
import { buildGatewayService } from '../src/main';
import { fakeService, rawRequest, type FakeService } from './fake-service';

describe('gateway', () => {
  let users: FakeService;
  let orders: FakeService;
  let gateway: Running;

  beforeEach(async () => {
    testTelemetry.reset();
    users = await fakeService((seen) =>
      seen.url.startsWith('/users/404')
        ? { status: 404, body: { error: { code: 'not_found', message: 'user 404 does not exist' } } }
        : seen.url.startsWith('/users/999')
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
    // As in production, where the gateway is started with EDGE_TRACE_POLICY=continue (docs/edge.md).
    testTelemetry.edge({ policy: 'continue', port: Number(new URL(gateway.url).port) });
  });
  afterEach(async () => {
    testTelemetry.edge();
    await gateway.stop();
    await users.close();
    await orders.close();
  });

  it('forwards a request with its request id, and returns the answer as it is', async () => {
    const reply = await call(gateway.url, 'GET', '/api/users/7', { headers: { 'x-request-id': 'abc-1' } });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, { id: 7, via: 'users' });
    assert.equal(reply.headers.get('x-request-id'), 'abc-1');
    assert.equal(users.seen[0]?.url, '/users/7');
    assert.equal(users.seen[0]?.headers['x-request-id'], 'abc-1');
  });

  it('writes the query string anew from the parameters the route takes', async () => {
    await call(gateway.url, 'GET', '/api/users?offset=007&limit=5');
    await call(gateway.url, 'GET', '/api/orders?userId=3&lim%69t=2');
    assert.equal(users.seen[0]?.url, '/users?limit=5&offset=7');
    assert.equal(orders.seen[0]?.url, '/orders?limit=2&userId=3');
  });

  it('refuses, without calling the service, a query parameter the route does not take or one sent twice', async () => {
    const cases: Array<[path: string, names: RegExp]> = [
      ['/api/users/7?fields=name', /query\.fields: unknown field/],
      ['/api/users?limit=5&limit=6', /query\.limit/],
      ['/api/users?limit=-1', /query\.limit: must be a non-negative integer/],
      ['/api/orders?userId=1%3BDROP', /query\.userId: must be a positive integer/],
      ['/api/orders?__proto__=1', /__proto__/],
    ];
    for (const [path, names] of cases) {
      const reply = await call(gateway.url, 'GET', path);
      assert.equal(reply.status, 400, path);
      assert.match(JSON.stringify(reply.body.error), names, path);
    }
    assert.equal(users.seen.length + orders.seen.length, 0);
  });

  it('never lets a path leave its route: traversal in any encoding is a 400 or a 404, and no service is called', async () => {
    const paths = [
      '/api/users/%2e%2e\\metrics',
      '/api/users/..%5cmetrics',
      '/api/users/%2e%2e%2fmetrics',
      '/api/users/%252e%252e%255cmetrics',
      '/api/users/%c0%ae%c0%ae%c0%afmetrics',
      '/api/users/1;..%2fmetrics',
      '/api/USERS/%2E%2E%5CReadyz',
      '/api/users/..',
      '/api/users/1/../../metrics',
      '/api/../metrics',
      '/api/users/..\\admin\\faults',
    ];
    for (const path of paths) {
      const answer = await rawRequest(gateway.url, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.match(answer, /^HTTP\/1\.1 (400|404) /, path);
      assert.match(answer, /\r\n\r\n\{"error":\{"code":"(validation_failed|not_found)"/, path);
    }
    assert.deepEqual(users.seen, [], 'users was never called');
  });

  it('passes on Idempotency-Key when an order is placed, and no other header the caller sent', async () => {
    const sneaky = { cookie: 'a=b', authorization: 'Bearer x', 'x-forwarded-for': '10.0.0.1', baggage: 'role=admin' };
    await call(gateway.url, 'POST', '/api/orders', {
      body: { userId: 1, items: [] },
      headers: { 'idempotency-key': 'order-7f3a', ...sneaky },
    });
    await call(gateway.url, 'POST', '/api/users', { body: { name: 'a' }, headers: { 'idempotency-key': 'u-1' } });
    const [placed] = orders.seen;
    assert.equal(placed?.headers['idempotency-key'], 'order-7f3a');
    for (const name of Object.keys(sneaky)) assert.equal(placed?.headers[name], undefined, name);
    assert.equal(users.seen[0]?.headers['idempotency-key'], undefined, 'only POST /api/orders takes one');
  });

  it('refuses an Idempotency-Key sent twice or with characters no header may carry on', async () => {
    const twice = await rawRequest(
      gateway.url,
      'POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n' +
        'Idempotency-Key: a\r\nIdempotency-Key: b\r\nConnection: close\r\n\r\n{}',
    );
    assert.match(twice, /^HTTP\/1\.1 400 /);
    assert.match(twice, /idempotency-key: must be sent once/);
    const latin1 = await rawRequest(
      gateway.url,
      'POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n' +
        'Idempotency-Key: caf\xe9\r\nConnection: close\r\n\r\n{}',
    );
    assert.match(latin1, /^HTTP\/1\.1 400 /);
    assert.match(latin1, /idempotency-key\.0: must be printable ASCII/);
    assert.equal(orders.seen.length, 0);
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
    const reply = await call(gateway.url, 'GET', '/api/users/999');
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

  it('accepts at most GATEWAY_MAX_CONNECTIONS connections at once, and again once one closes', async () => {
    const capped = await startOnFreePort(
      await buildGatewayService(
        readConfig({ USERS_URL: users.url, GATEWAY_MAX_CONNECTIONS: '2' }),
        captureLogs('gateway').logger,
      ),
    );
    const { port } = new URL(capped.url);
    const open = () =>
      new Promise<Socket>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => resolve(socket));
        socket.on('error', reject);
      });
    const closedUnanswered = (socket: Socket) =>
      new Promise<boolean>((resolve) => {
        let answered = false;
        socket.on('data', () => (answered = true));
        socket.on('close', () => resolve(!answered));
        socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      });
    try {
      const [first, second] = [await open(), await open()];
      assert.equal(await closedUnanswered(await open()), true, 'the third connection is closed without an answer');
      first.destroy();
      await new Promise((resolve) => setTimeout(resolve, 50));
      const answer = await rawRequest(capped.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.match(answer, /^HTTP\/1\.1 200 /);
      second.destroy();
    } finally {
      await capped.stop();
    }
  });

  it('refuses a GATEWAY_MAX_CONNECTIONS that is not a positive integer', () => {
    assert.throws(() => readConfig({ GATEWAY_MAX_CONNECTIONS: '0' }), /GATEWAY_MAX_CONNECTIONS/);
    assert.throws(() => readConfig({ GATEWAY_MAX_CONNECTIONS: 'many' }), /GATEWAY_MAX_CONNECTIONS/);
  });

  it('is ready only when every service answers', async () => {
    const ready = await call(gateway.management, 'GET', '/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.body.checks.users, 'ok');
    assert.match(ready.body.checks.products, /^failed/);
  });
});
