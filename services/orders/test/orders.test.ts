import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, request, type OutgoingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanKind, SpanStatusCode, trace, context } from '@opentelemetry/api';
import { createProductsClient, type ProductsClient } from '@glassbox/products/client';
import { buildProductsService } from '@glassbox/products';
import { readConfig as productsConfig } from '@glassbox/products/config';
import { buildUsersService } from '@glassbox/users';
import { readConfig as usersConfig } from '@glassbox/users/config';
import { dependencyUnavailable, upstreamTimeout, type Service } from '@glassbox/service-kit';
import { call, captureLogs, startOnFreePort, type Reply, type Running } from '@glassbox/service-kit/testing';
import { testTelemetry, type ReadableSpan } from '@glassbox/telemetry/testing';
import { readConfig } from '../src/config';
import { buildOrdersService } from '../src/main';
import type { EventPublisher } from '../src/outbox';
import { requestHashOf } from '../src/orders';
import { InMemoryOrderRepository } from '../src/repository';

const RELEASE_STOCK = 'grpc.glassbox.products.v1.ProductService/ReleaseStock';

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

  /** `productsClient` may wrap the real client, to make products answer as a test needs. */
  async function startOrders(
    overrides: Record<string, string> = {},
    productsClient: (real: ProductsClient) => ProductsClient = (real) => real,
  ) {
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
        products: productsClient(client),
      }),
    );
  }

  const stockOf = async (productId: number) => (await call(productsUrl, 'GET', `/products/${productId}`)).body.stock;
  const lamps = (quantity: number) => ({ userId: 1, items: [{ productId: 1, quantity }] });
  const placeWithKey = (key: string, body: unknown = lamps(1)) =>
    call(orders.url, 'POST', '/orders', { body, headers: { 'idempotency-key': key } });
  async function metric(series: string): Promise<number> {
    const text = await (await fetch(`${orders.management}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line ? Number(line.split(' ')[1]) : 0;
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

  describe('when the order is not stored after its stock was reserved', () => {
    /** The spans of the trace of the one POST /orders, and a way to ask whether one lies below another. */
    async function traceOfPlacement() {
      const server = await eventuallySpan((s) => s.name === 'POST /orders' && s.kind === SpanKind.SERVER);
      const traceId = server.spanContext().traceId;
      const release = await eventuallySpan(
        (s) => s.name === RELEASE_STOCK && s.kind === SpanKind.SERVER && s.spanContext().traceId === traceId,
      );
      const spans = testTelemetry.trace(traceId);
      const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
      const isBelow = (span: ReadableSpan, ancestor: ReadableSpan) => {
        for (let p = span.parentSpanContext?.spanId; p; p = byId.get(p)?.parentSpanContext?.spanId) {
          if (p === ancestor.spanContext().spanId) return true;
        }
        return false;
      };
      return { server, release, spans, isBelow };
    }

    it('gives the stock back, answers with the store’s failure, and shows the release in the same trace', async () => {
      repository.insertWithEvent = () => Promise.reject(dependencyUnavailable('PostgreSQL'));
      const reply = await call(orders.url, 'POST', '/orders', { body: lamps(2) });
      assert.equal(reply.status, 503);
      assert.equal(reply.body.error.details.dependency, 'PostgreSQL');
      assert.equal(await stockOf(1), 3, 'the 2 lamps reserved for the order are back');

      const { server, release, spans, isBelow } = await traceOfPlacement();
      const compensation = spans.find((s) => s.name === 'glassbox.order.compensation');
      assert.ok(compensation, `no compensation span in ${spans.map((s) => s.name).join(', ')}`);
      assert.ok(isBelow(compensation, server), 'the compensation is part of the request that failed');
      const releaseClient = spans.find((s) => s.name === RELEASE_STOCK && s.kind === SpanKind.CLIENT);
      assert.ok(releaseClient && isBelow(releaseClient, compensation), 'ReleaseStock is called inside it');
      assert.equal(compensation.attributes['glassbox.order.compensation.reason'], 'order_not_stored');
      assert.equal(compensation.attributes['glassbox.stock.released'], true);
      const reservationId = compensation.attributes['glassbox.reservation.id'];
      assert.equal(release.attributes['glassbox.reservation.id'], reservationId, 'products released that reservation');
      assert.equal(await metric('orders_stock_releases_total{outcome="released"}'), 1);
      assert.equal((await repository.outboxBacklog()).pending, 0);
    });

    it('releases stock that products took after the caller stopped waiting (a 504 with the stock gone)', async () => {
      await orders.stop();
      orders = await startOrders({}, (real) => ({
        ...real,
        // What a lost answer looks like: the reservation commits, the reply never arrives in time.
        async reserveStock(reservationId, items) {
          await real.reserveStock(reservationId, items);
          throw upstreamTimeout('products', 500);
        },
      }));
      const reply = await call(orders.url, 'POST', '/orders', { body: lamps(2) });
      assert.equal(reply.status, 504);
      assert.equal(await stockOf(1), 3);
      const { spans } = await traceOfPlacement();
      const compensation = spans.find((s) => s.name === 'glassbox.order.compensation');
      assert.equal(compensation?.attributes['glassbox.order.compensation.reason'], 'reservation_unanswered');
    });

    it('logs and counts a release that failed on every attempt, and still answers with the original failure', async () => {
      const logs = captureLogs('orders');
      await orders.stop();
      const withoutRelease = (real: ProductsClient): ProductsClient => ({
        ...real,
        releaseStock: () => Promise.reject(dependencyUnavailable('products')),
      });
      const config = readConfig({
        STORAGE: 'memory',
        USERS_URL: users.url,
        PRODUCTS_GRPC_ADDRESS: `127.0.0.1:${products.ports().grpc}`,
        UPSTREAM_TIMEOUT_MS: '500',
      });
      const client = createProductsClient(config.PRODUCTS_GRPC_ADDRESS, { deadlineMs: 500 });
      repository.insertWithEvent = () => Promise.reject(dependencyUnavailable('PostgreSQL'));
      orders = await startOnFreePort(
        await buildOrdersService(config, logs.logger, {
          store: { repository, close: () => Promise.resolve() },
          publisher,
          products: withoutRelease(client),
        }),
      );
      const reply = await call(orders.url, 'POST', '/orders', { body: lamps(2) });
      assert.equal(reply.status, 503);
      assert.equal(reply.body.error.details.dependency, 'PostgreSQL', 'the failure that mattered, not the release’s');
      const logged = logs.lines().find((l) => String(l.msg).startsWith('reserved stock could not be released'));
      assert.match(String(logged?.reservation_id), /^[0-9a-f-]{36}$/, 'the log names the reservation to release');
      assert.equal(await metric('orders_stock_releases_total{outcome="failed"}'), 1);
      const compensation = await eventuallySpan((s) => s.name === 'glassbox.order.compensation');
      assert.equal(compensation.status.code, SpanStatusCode.ERROR);
    });

    it('releases nothing when products refused the reservation (it took nothing)', async () => {
      const reply = await call(orders.url, 'POST', '/orders', { body: lamps(4) });
      assert.equal(reply.status, 409);
      const spans = testTelemetry.spans.getFinishedSpans();
      assert.equal(
        spans.find((s) => s.name === 'glassbox.order.compensation'),
        undefined,
      );
      assert.equal(await stockOf(1), 3);
    });
  });

  describe('Idempotency-Key', () => {
    it('answers a retry with the first order, same status and body, and places it once', async () => {
      const first = await placeWithKey('checkout-41');
      const again = await placeWithKey('checkout-41');
      assert.equal(first.status, 201, JSON.stringify(first.body));
      assert.equal(again.status, 201);
      assert.deepEqual(again.body, first.body);
      assert.equal(again.headers.get('location'), `/orders/${first.body.id}`);
      assert.equal(first.headers.get('idempotent-replayed'), null);
      assert.equal(again.headers.get('idempotent-replayed'), 'true');
      assert.equal(await stockOf(1), 2, 'one lamp taken, not two');
      await until(() => publisher.published.length === 1, 'one order.created published');
      assert.equal((await call(orders.url, 'GET', '/orders?userId=1')).body.page.total, 1);
      assert.equal(await metric('orders_placed_total'), 1);
      assert.equal(await metric('orders_idempotent_replays_total'), 1);
    });

    it('places one order for 20 concurrent requests with the same key, and answers each with it', async () => {
      const replies = await Promise.all(Array.from({ length: 20 }, () => placeWithKey('double-click')));
      assert.deepEqual(new Set(replies.map((r) => r.status)), new Set([201]));
      assert.equal(new Set(replies.map((r) => r.body.id)).size, 1, 'the same order id in every answer');
      assert.equal(replies.filter((r) => r.headers.get('idempotent-replayed') === 'true').length, 19);
      assert.equal(await stockOf(1), 2);
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.equal(publisher.published.length, 1);
    });

    it('treats the same order written differently as the same request', async () => {
      const order = {
        userId: 1,
        items: [
          { productId: 1, quantity: 1 },
          { productId: 2, quantity: 2 },
        ],
      };
      const first = await placeWithKey('k-1', order);
      const reordered = await call(orders.url, 'POST', '/orders', {
        raw: '{ "items": [ {"quantity": 2, "productId": 2}, {"productId": 1, "quantity": 1} ], "userId": 1 }',
        headers: { 'idempotency-key': 'k-1' },
      });
      assert.equal(reordered.status, 201);
      assert.equal(reordered.body.id, first.body.id);
    });

    it('answers 422 naming the header when the key comes back with another request, and places nothing', async () => {
      await placeWithKey('k-2', lamps(1));
      const other = await placeWithKey('k-2', lamps(2));
      assert.equal(other.status, 422);
      assert.equal(other.body.error.code, 'unprocessable');
      assert.match(other.body.error.message, /Idempotency-Key "k-2" was used with a different request/);
      assert.deepEqual(other.body.error.details, { field: 'headers.idempotency-key' });
      assert.equal(await stockOf(1), 2);
    });

    // Sent with node:http, which writes header values as given: fetch would join a repeated header into one.
    const malformed: Array<[string, string | string[], RegExp]> = [
      ['empty', '', /must not be empty/],
      ['over 200 characters', 'k'.repeat(201), /at most 200 characters/],
      ['with a tab in it', 'one\ttwo', /printable ASCII/],
      ['with a character outside ASCII', 'clé', /printable ASCII/],
      ['sent twice', ['a', 'b'], /sent once/],
    ];
    for (const [what, key, problem] of malformed) {
      it(`answers 400 naming the header for a key ${what}, and places nothing`, async () => {
        const reply = await postOrder(orders.url, lamps(1), { 'idempotency-key': key });
        assert.equal(reply.status, 400);
        assert.equal(reply.body.error.details[0]?.field, 'headers.idempotency-key');
        assert.match(String(reply.body.error.details[0]?.message), problem);
        assert.equal(await stockOf(1), 3);
      });
    }

    it('accepts a key of exactly 200 printable characters, spaces included', async () => {
      const key = `${'x'.repeat(190)} 0123456~!`.slice(0, 200);
      assert.equal((await placeWithKey(key)).status, 201);
      assert.equal((await placeWithKey(key)).headers.get('idempotent-replayed'), 'true');
    });

    it('lets go of the key when the placement failed, so that a retry places the order, taking stock once', async () => {
      const insert = repository.insertWithEvent.bind(repository);
      let failures = 1;
      repository.insertWithEvent = (...args) =>
        failures-- > 0 ? Promise.reject(dependencyUnavailable('PostgreSQL')) : insert(...args);
      assert.equal((await placeWithKey('k-3', lamps(2))).status, 503);
      const retried = await placeWithKey('k-3', lamps(2));
      assert.equal(retried.status, 201);
      assert.equal(retried.headers.get('idempotent-replayed'), null, 'placed by the retry itself');
      assert.equal(await stockOf(1), 1, 'the first attempt’s reservation was released');
    });

    it('places a new order once the key has expired', async () => {
      await orders.stop();
      orders = await startOrders({ IDEMPOTENCY_TTL_HOURS: '0.0001' }); // 360 ms
      const first = await placeWithKey('k-4');
      await new Promise((resolve) => setTimeout(resolve, 400));
      const later = await placeWithKey('k-4');
      assert.equal(later.status, 201);
      assert.notEqual(later.body.id, first.body.id);
      assert.equal(later.headers.get('idempotent-replayed'), null);
    });

    it('takes over a key whose first request never finished (its process died) once the lease has passed', async () => {
      await orders.stop();
      orders = await startOrders({ UPSTREAM_TIMEOUT_MS: '100' }); // a lease of 4 x 100 ms
      const input = lamps(1);
      const abandoned = { key: 'k-5', requestHash: requestHashOf(input), claimId: randomUUID() };
      await repository.claimKey(abandoned, { ttlMs: 60_000, leaseMs: 400 });
      const began = Date.now();
      const reply = await placeWithKey('k-5', input);
      assert.equal(reply.status, 201);
      assert.ok(Date.now() - began >= 350, 'it waited for the first request first');
      assert.equal(await stockOf(1), 2);
    });
  });
});

/** POST /orders with headers exactly as given (a repeated header stays repeated). */
function postOrder(base: string, body: unknown, headers: OutgoingHttpHeaders): Promise<Pick<Reply, 'status' | 'body'>> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const sent = request(
      `${base}/orders`,
      {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    sent.on('error', reject);
    sent.end(payload);
  });
}

/** The first finished span that matches, waiting for export. */
async function eventuallySpan(match: (span: ReadableSpan) => boolean): Promise<ReadableSpan> {
  for (let i = 0; i < 100; i++) {
    const span = testTelemetry.spans.getFinishedSpans().find(match);
    if (span) return span;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail('no such span was exported');
}
