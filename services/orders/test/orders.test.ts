import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { trace, context } from '@opentelemetry/api';
import { createProductsClient } from '@glassbox/products/client';
import { buildProductsService } from '@glassbox/products';
import { readConfig as productsConfig } from '@glassbox/products/config';
import { buildUsersService } from '@glassbox/users';
import { readConfig as usersConfig } from '@glassbox/users/config';
import type { Service } from '@glassbox/service-kit';
import { call, captureLogs, startOnFreePort, type Running } from '@glassbox/service-kit/testing';
import { testTelemetry } from '@glassbox/telemetry/testing';
import { readConfig } from '../src/config';
import { buildOrdersService } from '../src/main';
import type { EventPublisher } from '../src/outbox';
import { InMemoryOrderRepository } from '../src/repository';

/** RabbitMQ's place in these fast tests: records what was published, and in which trace. */
class RecordingPublisher implements EventPublisher {
  readonly name = 'recording publisher';
  readonly published: Array<{ routingKey: string; event: { order?: unknown }; traceId: string | undefined }> = [];
  failing = false;
  publish(_exchange: string, routingKey: string, event: { eventId: string; order?: unknown }) {
    if (this.failing) return Promise.reject(new Error('RabbitMQ is unavailable'));
    this.published.push({ routingKey, event, traceId: trace.getSpan(context.active())?.spanContext().traceId });
    return Promise.resolve();
  }
  start() {}
  stop() {
    return Promise.resolve();
  }
}

async function until(condition: () => boolean, what: string) {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(condition(), what);
}

describe('orders (real users and products in process, in-memory stores)', () => {
  const { logger } = captureLogs('orders');
  let users: Running;
  let products: Service;
  let productsUrl: string;
  let orders: Running;
  let publisher: RecordingPublisher;
  let repository: InMemoryOrderRepository;

  async function startOrders(overrides: Record<string, string> = {}) {
    const config = readConfig({
      STORAGE: 'memory',
      USERS_URL: users.url,
      PRODUCTS_GRPC_ADDRESS: `127.0.0.1:${products.ports().grpc}`,
      OUTBOX_POLL_MS: '50',
      UPSTREAM_TIMEOUT_MS: '500',
      ...overrides,
    });
    const client = createProductsClient(config.PRODUCTS_GRPC_ADDRESS, { deadlineMs: config.UPSTREAM_TIMEOUT_MS });
    return startOnFreePort(
      await buildOrdersService(config, logger, {
        store: { repository, close: () => Promise.resolve() },
        publisher,
        products: client,
      }),
    );
  }

  beforeEach(async () => {
    testTelemetry.reset();
    publisher = new RecordingPublisher();
    repository = new InMemoryOrderRepository();
    users = await startOnFreePort(await buildUsersService(usersConfig({ STORAGE: 'memory' }), logger));
    products = await buildProductsService(productsConfig({ STORAGE: 'memory', GRPC_PORT: '0' }), logger);
    productsUrl = `http://127.0.0.1:${await products.start(0)}`;
    await call(users.url, 'POST', '/users', { body: { name: 'Ada', email: 'ada@example.org' } });
    await call(productsUrl, 'POST', '/products', { body: { name: 'Lamp', priceCents: 2500, stock: 3 } });
    await call(productsUrl, 'POST', '/products', { body: { name: 'Bulb', priceCents: 300, stock: 10 } });
    orders = await startOrders();
  });
  afterEach(async () => {
    await orders.stop();
    await products.stop();
    await users.stop();
  });

  it('places an order: stock is reserved, the order stored, order.created published in the same trace', async () => {
    const reply = await call(orders.url, 'POST', '/orders', {
      body: {
        userId: 1,
        items: [
          { productId: 1, quantity: 2 },
          { productId: 2, quantity: 1 },
        ],
      },
    });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    assert.equal(reply.body.totalCents, 2 * 2500 + 300);
    assert.equal((await call(productsUrl, 'GET', '/products/1')).body.stock, 1);

    await until(() => publisher.published.length === 1, 'the event was published');
    const [published] = publisher.published;
    assert.equal(published?.routingKey, 'order.created');
    assert.deepEqual(published?.event.order, {
      id: reply.body.id,
      userId: 1,
      items: [
        { productId: 1, quantity: 2 },
        { productId: 2, quantity: 1 },
      ],
    });
    const server = testTelemetry.spans.getFinishedSpans().find((s) => s.name === 'POST /orders');
    assert.ok(server);
    assert.equal(published?.traceId, server.spanContext().traceId, 'published inside the trace that placed the order');

    const fetched = await call(orders.url, 'GET', `/orders/${reply.body.id}`);
    assert.deepEqual(fetched.body, reply.body);
    const mine = await call(orders.url, 'GET', '/orders?userId=1');
    assert.equal(mine.body.page.total, 1);
  });

  it('answers 422 naming the user when the user does not exist, and reserves nothing', async () => {
    const reply = await call(orders.url, 'POST', '/orders', {
      body: { userId: 99, items: [{ productId: 1, quantity: 1 }] },
    });
    assert.equal(reply.status, 422);
    assert.equal(reply.body.error.message, 'user 99 does not exist');
    assert.equal((await call(productsUrl, 'GET', '/products/1')).body.stock, 3);
  });

  it('answers 409 naming the product when stock is short, and changes nothing', async () => {
    const reply = await call(orders.url, 'POST', '/orders', {
      body: {
        userId: 1,
        items: [
          { productId: 2, quantity: 1 },
          { productId: 1, quantity: 4 },
        ],
      },
    });
    assert.equal(reply.status, 409);
    assert.match(reply.body.error.message, /product 1/);
    assert.equal((await call(productsUrl, 'GET', '/products/2')).body.stock, 10, 'all or nothing');
    assert.equal((await repository.outboxBacklog()).pending, 0);
  });

  it('answers 422 naming an unknown product', async () => {
    const reply = await call(orders.url, 'POST', '/orders', {
      body: { userId: 1, items: [{ productId: 77, quantity: 1 }] },
    });
    assert.equal(reply.status, 422);
    assert.match(reply.body.error.message, /77/);
  });

  it('keeps the event while RabbitMQ is away and publishes it once it is back', async () => {
    publisher.failing = true;
    const reply = await call(orders.url, 'POST', '/orders', {
      body: { userId: 1, items: [{ productId: 2, quantity: 1 }] },
    });
    assert.equal(reply.status, 201, 'the order is accepted anyway');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal((await repository.outboxBacklog()).pending, 1);
    publisher.failing = false;
    await until(() => publisher.published.length === 1, 'published after the broker came back');
    assert.equal((await repository.outboxBacklog()).pending, 0);
  });

  it('answers 503 when products can not be reached and 504 when users is too slow', async () => {
    await products.stop();
    const noProducts = await call(orders.url, 'POST', '/orders', {
      body: { userId: 1, items: [{ productId: 1, quantity: 1 }] },
    });
    assert.equal(noProducts.status, 503);
    assert.equal(noProducts.body.error.code, 'dependency_unavailable');
    products = await buildProductsService(productsConfig({ STORAGE: 'memory', GRPC_PORT: '0' }), logger);
    await products.start(0);

    const slow = createServer((_request, response) => setTimeout(() => response.end('{}'), 2_000));
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const slowOrders = await startOrders({ USERS_URL: `http://127.0.0.1:${(slow.address() as AddressInfo).port}` });
    try {
      const started = Date.now();
      const reply = await call(slowOrders.url, 'POST', '/orders', {
        body: { userId: 1, items: [{ productId: 1, quantity: 1 }] },
      });
      assert.equal(reply.status, 504);
      assert.ok(Date.now() - started < 1_500, 'within the timeout, not a hang');
    } finally {
      await slowOrders.stop();
      slow.closeAllConnections();
      slow.close();
    }
  });

  const invalid: Array<[string, unknown, string]> = [
    ['no items', { userId: 1, items: [] }, 'body.items'],
    ['a zero quantity', { userId: 1, items: [{ productId: 1, quantity: 0 }] }, 'body.items.0.quantity'],
    ['a negative quantity', { userId: 1, items: [{ productId: 1, quantity: -2 }] }, 'body.items.0.quantity'],
    ['a huge quantity', { userId: 1, items: [{ productId: 1, quantity: 1e9 }] }, 'body.items.0.quantity'],
    ['a fractional quantity', { userId: 1, items: [{ productId: 1, quantity: 1.5 }] }, 'body.items.0.quantity'],
    ['a string user id', { userId: '1', items: [{ productId: 1, quantity: 1 }] }, 'body.userId'],
    ['a missing user id', { items: [{ productId: 1, quantity: 1 }] }, 'body.userId'],
    [
      'the same product twice',
      {
        userId: 1,
        items: [
          { productId: 1, quantity: 1 },
          { productId: 1, quantity: 1 },
        ],
      },
      'body.items.1.productId',
    ],
    ['an extra field', { userId: 1, items: [{ productId: 1, quantity: 1 }], coupon: 'FREE' }, 'body.coupon'],
  ];
  for (const [what, body, field] of invalid) {
    it(`refuses an order with ${what}, naming ${field}`, async () => {
      const reply = await call(orders.url, 'POST', '/orders', { body });
      assert.equal(reply.status, 400);
      assert.ok(
        reply.body.error.details.some((d: { field: string }) => d.field === field),
        JSON.stringify(reply.body),
      );
      assert.equal((await repository.outboxBacklog()).pending, 0);
    });
  }

  it('refuses to list orders without a user id, and an order id of the wrong shape', async () => {
    const list = await call(orders.url, 'GET', '/orders');
    assert.equal(list.status, 400);
    assert.equal(list.body.error.details[0].field, 'query.userId');
    assert.equal((await call(orders.url, 'GET', '/orders/x1')).status, 400);
    assert.equal((await call(orders.url, 'GET', '/orders/5')).status, 404);
  });

  it('shows the outbox backlog and orders placed on /metrics', async () => {
    publisher.failing = true;
    await call(orders.url, 'POST', '/orders', { body: { userId: 1, items: [{ productId: 2, quantity: 1 }] } });
    const text = await (await fetch(`${orders.management}/metrics`)).text();
    assert.match(text, /^orders_placed_total 1$/m);
    assert.match(text, /^orders_outbox_pending_events 1$/m);
    assert.match(text, /^orders_outbox_oldest_event_age_seconds [0-9.]+(e-\d+)?$/m);
  });
});
