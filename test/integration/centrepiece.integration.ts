import assert from 'node:assert/strict';
import { SpanKind } from '@opentelemetry/api';
import type { ReadableSpan } from '@glassbox/telemetry/testing';
import { call } from '@glassbox/service-kit/testing';
import { testTelemetry } from '@glassbox/telemetry/testing';
import { eventually, resetDatabase, startSystem, type System } from '../src/system';

const KIND = ['INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];

/** The trace as an indented tree: what the test prints, and what a learner sees in Jaeger. */
function render(spans: ReadableSpan[]): string {
  const children = new Map<string | undefined, ReadableSpan[]>();
  const ids = new Set(spans.map((s) => s.spanContext().spanId));
  for (const span of [...spans].sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1])) {
    const parent = span.parentSpanContext?.spanId;
    const key = parent && ids.has(parent) ? parent : undefined;
    children.set(key, [...(children.get(key) ?? []), span]);
  }
  const lines: string[] = [];
  const walk = (parent: string | undefined, depth: number) => {
    for (const span of children.get(parent) ?? []) {
      lines.push(`${'  '.repeat(depth)}${span.name} [${KIND[span.kind]}]`);
      walk(span.spanContext().spanId, depth + 1);
    }
  };
  walk(undefined, 0);
  return lines.join('\n');
}

describe('the centrepiece: one order placed through the gateway is ONE trace across every hop', function () {
  this.timeout(60_000);
  let system: System;

  before(async () => {
    system = await startSystem();
  });
  after(() => system?.stop());

  it('holds gateway, orders, users, products (gRPC), PostgreSQL, the publish and the consume, correctly linked', async () => {
    await resetDatabase(system.db);
    const user = await call(system.gateway.url, 'POST', '/api/users', {
      body: { name: 'Ada', email: 'ada@example.org' },
    });
    const product = await call(system.gateway.url, 'POST', '/api/products', {
      body: { name: 'Lamp', priceCents: 2500, stock: 5 },
    });
    assert.equal(user.status, 201);
    assert.equal(product.status, 201);
    testTelemetry.reset();

    const placed = await call(system.gateway.url, 'POST', '/api/orders', {
      body: { userId: user.body.id, items: [{ productId: product.body.id, quantity: 2 }] },
    });
    assert.equal(placed.status, 201, JSON.stringify(placed.body));

    const row = await eventually(
      async () => (await system.db.query('SELECT * FROM notifications WHERE order_id = $1', [placed.body.id])).rows[0],
      'the notification row',
    );
    assert.equal(row.user_id, user.body.id);

    const gatewayServer = await eventually(
      () => Promise.resolve(testTelemetry.spans.getFinishedSpans().find((s) => s.name === 'POST /api/orders')),
      'the gateway SERVER span',
    );
    const traceId = gatewayServer.spanContext().traceId;
    const find = (what: string, match: (s: ReadableSpan) => boolean) =>
      eventually(() => Promise.resolve(testTelemetry.trace(traceId).find(match)), what, 10_000);

    const consume = await find('the notifications consume span', (s) => s.kind === SpanKind.CONSUMER);
    const notificationInsert = await find(
      'the notification INSERT below the consume span',
      (s) => s.kind === SpanKind.CLIENT && s.attributes['db.system.name'] === 'postgresql' && isBelow(s, consume),
    );
    const spans = testTelemetry.trace(traceId);
    console.log(
      `\n      the centrepiece trace (${spans.length} spans):\n${render(spans).replace(/^/gm, '        ')}\n`,
    );

    const one = (what: string, match: (s: ReadableSpan) => boolean) => {
      const found = spans.filter(match);
      assert.ok(found.length >= 1, `no ${what} in:\n${render(spans)}`);
      return found[0] as ReadableSpan;
    };
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    function isBelow(span: ReadableSpan, ancestor: ReadableSpan): boolean {
      const all = new Map(testTelemetry.trace(traceId).map((s) => [s.spanContext().spanId, s]));
      for (let p = span.parentSpanContext?.spanId; p; p = all.get(p)?.parentSpanContext?.spanId) {
        if (p === ancestor.spanContext().spanId) return true;
      }
      return false;
    }
    const parentOf = (span: ReadableSpan) => byId.get(span.parentSpanContext?.spanId ?? '');

    const gatewayClient = one(
      'gateway CLIENT to orders',
      (s) =>
        s.kind === SpanKind.CLIENT && String(s.attributes['url.full']).endsWith('/orders') && isBelow(s, gatewayServer),
    );
    const ordersServer = one('orders SERVER', (s) => s.kind === SpanKind.SERVER && s.name === 'POST /orders');
    assert.equal(parentOf(ordersServer), gatewayClient, 'orders SERVER is the child of the gateway CLIENT');

    const usersClient = one(
      'users CLIENT',
      (s) => s.kind === SpanKind.CLIENT && /\/users\/\d+$/.test(String(s.attributes['url.full'])),
    );
    const usersServer = one('users SERVER', (s) => s.kind === SpanKind.SERVER && s.name === 'GET /users/:id');
    assert.ok(isBelow(usersClient, ordersServer), 'the users call is made by orders');
    assert.equal(parentOf(usersServer), usersClient);
    one('users PostgreSQL span', (s) => s.attributes['db.system.name'] === 'postgresql' && isBelow(s, usersServer));

    const reserve = 'grpc.glassbox.products.v1.ProductService/ReserveStock';
    const grpcClient = one('products gRPC CLIENT', (s) => s.kind === SpanKind.CLIENT && s.name === reserve);
    const grpcServer = one('products gRPC SERVER', (s) => s.kind === SpanKind.SERVER && s.name === reserve);
    assert.ok(isBelow(grpcClient, ordersServer));
    assert.equal(parentOf(grpcServer), grpcClient);
    one('products PostgreSQL span', (s) => s.attributes['db.system.name'] === 'postgresql' && isBelow(s, grpcServer));

    one(
      'orders PostgreSQL span',
      (s) =>
        s.attributes['db.system.name'] === 'postgresql' &&
        isBelow(s, ordersServer) &&
        !isBelow(s, grpcServer) &&
        !isBelow(s, usersServer),
    );
    const publish = one('the RabbitMQ publish span', (s) => s.kind === SpanKind.PRODUCER);
    assert.ok(
      isBelow(publish, ordersServer),
      'published in the trace of the request that placed the order, via the outbox',
    );
    assert.equal(parentOf(consume), publish, 'the consume span is the child of the publish span');
    assert.ok(isBelow(notificationInsert, consume));
    assert.equal(consume.attributes['glassbox.order.id'], placed.body.id);
  });
});
