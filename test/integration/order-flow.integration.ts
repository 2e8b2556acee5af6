import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'amqplib';
import pg from 'pg';
import { SpanKind } from '@opentelemetry/api';
import { buildNotificationsService } from '@glassbox/notifications';
import { readConfig as notificationsConfig } from '@glassbox/notifications/config';
import { buildOrdersService } from '@glassbox/orders';
import { readConfig as ordersConfig } from '@glassbox/orders/config';
import {
  call,
  captureLogs,
  localDependencies,
  spawnService,
  startOnFreePort,
  type Running,
} from '@glassbox/service-kit/testing';
import { testTelemetry, type ReadableSpan } from '@glassbox/telemetry/testing';
import { isolatedDependencies, type Isolated } from '../src/isolation';
import { eventually, startSystem, type System } from '../src/system';

/**
 * The order flow on the real PostgreSQL and RabbitMQ: stock is never lost
 * or taken twice, a retried order is placed once, and the outbox re-sends at
 * most one event per relay after a crash. Other suites place orders and
 * publish order.created on the same servers at the same time, and these
 * tests count every order, event and notification: each suite gets a
 * database and a RabbitMQ virtual host of its own.
 */

const count = async (db: pg.Pool, query: string, values: unknown[] = []) =>
  (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${query}`, values)).rows[0]?.n;

describe('the order flow on PostgreSQL and RabbitMQ', function () {
  this.timeout(120_000);
  let isolated: Isolated;
  let system: System;

  before(async () => {
    isolated = await isolatedDependencies('order_flow');
    system = await startSystem({ ...isolated.env, UPSTREAM_TIMEOUT_MS: '1000' });
  });
  after(async () => {
    await system?.stop();
    await isolated?.drop();
  });

  async function customerAndProduct(stock: number): Promise<{ userId: number; productId: number }> {
    const user = await call(system.users.url, 'POST', '/users', {
      body: { name: 'Grace', email: `grace.${randomUUID()}@example.org` },
    });
    const product = await call(system.products.url, 'POST', '/products', {
      body: { name: 'Lamp', priceCents: 2500, stock },
    });
    assert.equal(user.status, 201);
    assert.equal(product.status, 201);
    return { userId: user.body.id, productId: product.body.id };
  }
  const stockOf = async (productId: number) =>
    (await call(system.products.url, 'GET', `/products/${productId}`)).body.stock;

  /** The spans of the trace whose orders SERVER span answered with `status`. */
  async function traceOfPlacement(status: number): Promise<ReadableSpan[]> {
    const server = await eventually(
      () =>
        Promise.resolve(
          testTelemetry.spans
            .getFinishedSpans()
            .find(
              (s) =>
                s.kind === SpanKind.SERVER &&
                s.name === 'POST /orders' &&
                s.attributes['http.response.status_code'] === status,
            ),
        ),
      `the POST /orders span that answered ${status}`,
    );
    const traceId = server.spanContext().traceId;
    await eventually(
      () => Promise.resolve(testTelemetry.trace(traceId).find((s) => s.name === 'glassbox.order.compensation')),
      'the compensation span',
    );
    return testTelemetry.trace(traceId);
  }

  it('places one order, and publishes one event, for 50 concurrent requests with one Idempotency-Key', async () => {
    const { userId, productId } = await customerAndProduct(100);
    const key = `checkout-${randomUUID()}`;
    const replies = await Promise.all(
      Array.from({ length: 50 }, () =>
        call(system.orders.url, 'POST', '/orders', {
          body: { userId, items: [{ productId, quantity: 1 }] },
          headers: { 'idempotency-key': key },
        }),
      ),
    );
    assert.deepEqual(
      [...new Set(replies.map((r) => r.status))],
      [201],
      JSON.stringify(replies.find((r) => r.status !== 201)?.body),
    );
    const ids = new Set(replies.map((r) => r.body.id));
    assert.equal(ids.size, 1, 'every answer names the same order');
    const [orderId] = ids;
    assert.equal(replies.filter((r) => r.headers.get('idempotent-replayed') === 'true').length, 49);

    assert.equal(await count(system.db, 'orders WHERE user_id = $1', [userId]), 1);
    assert.equal(await count(system.db, "outbox WHERE (payload -> 'order' ->> 'id')::int = $1", [orderId]), 1);
    assert.equal(await count(system.db, 'idempotency_keys WHERE key = $1 AND order_id = $2', [key, orderId]), 1);
    assert.equal(await stockOf(productId), 99, 'stock taken once');
    await eventually(
      async () => (await count(system.db, 'notifications WHERE order_id = $1', [orderId])) === 1,
      'the one notification',
    );
  });

  it('takes no stock when products waits on a row lock past orders’ deadline, and answers 504', async () => {
    const { userId, productId } = await customerAndProduct(5);
    testTelemetry.reset();
    const holder = await system.db.connect();
    let reply;
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT stock FROM products WHERE id = $1 FOR UPDATE', [productId]);
      reply = await call(system.orders.url, 'POST', '/orders', {
        body: { userId, items: [{ productId, quantity: 2 }] },
      });
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    assert.equal(reply.status, 504, JSON.stringify(reply.body));
    assert.equal(reply.body.error.details.dependency, 'products');
    await sleep(300); // a reservation that committed late would show by now
    assert.equal(await stockOf(productId), 5);
    const made = "stock_reservations WHERE items @> jsonb_build_array(jsonb_build_object('productId', $1::int))";
    assert.equal(await count(system.db, made, [productId]), 0, 'none was ever made');

    const compensation = (await traceOfPlacement(504)).find((s) => s.name === 'glassbox.order.compensation');
    assert.equal(compensation?.attributes['glassbox.order.compensation.reason'], 'reservation_unanswered');
    assert.equal(compensation?.attributes['glassbox.stock.released'], false, 'there was nothing to give back');
  });

  it('gives the stock back when storing the order fails after the reservation, inside the same trace', async () => {
    const { userId, productId } = await customerAndProduct(5);
    testTelemetry.reset();
    // The fault, in the database itself: no code path of orders knows about it.
    await system.db.query(`CREATE FUNCTION refuse_orders() RETURNS trigger LANGUAGE plpgsql AS
      $$ BEGIN RAISE EXCEPTION 'orders are refused by the test'; END $$`);
    await system.db.query(
      'CREATE TRIGGER refuse_orders BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION refuse_orders()',
    );
    let reply;
    try {
      reply = await call(system.orders.url, 'POST', '/orders', {
        body: { userId, items: [{ productId, quantity: 2 }] },
      });
    } finally {
      await system.db.query('DROP TRIGGER refuse_orders ON orders');
      await system.db.query('DROP FUNCTION refuse_orders()');
    }
    assert.equal(reply.status, 500);
    assert.equal(await stockOf(productId), 5, 'the 2 reserved are back');

    const spans = await traceOfPlacement(500);
    const compensation = spans.find((s) => s.name === 'glassbox.order.compensation') as ReadableSpan;
    const reservationId = compensation.attributes['glassbox.reservation.id'];
    assert.equal(compensation.attributes['glassbox.stock.released'], true);
    const release = (kind: SpanKind) =>
      spans.find((s) => s.name === 'grpc.glassbox.products.v1.ProductService/ReleaseStock' && s.kind === kind);
    assert.equal(release(SpanKind.CLIENT)?.parentSpanContext?.spanId, compensation.spanContext().spanId);
    assert.equal(release(SpanKind.SERVER)?.attributes['glassbox.reservation.id'], reservationId);
    const [reservation] = (
      await system.db.query('SELECT items, released_at FROM stock_reservations WHERE id = $1', [reservationId])
    ).rows;
    assert.deepEqual(reservation?.items, [{ productId, quantity: 2 }]);
    assert.ok(reservation?.released_at, 'made, then released');
  });

  it('takes over a key whose request died, and treats an expired key as new', async () => {
    const { userId, productId } = await customerAndProduct(10);
    const order = (quantity: number) => ({ userId, items: [{ productId, quantity }] });
    const place = (key: string, quantity: number) =>
      call(system.orders.url, 'POST', '/orders', { body: order(quantity), headers: { 'idempotency-key': key } });

    // Claimed an hour ago by a request whose process died before it stored anything.
    const abandoned = `abandoned-${randomUUID()}`;
    await system.db.query(
      `INSERT INTO idempotency_keys (key, request_hash, claim_id, claimed_at, expires_at)
       VALUES ($1, 'of a request that never finished', $2, now() - interval '1 hour', now() + interval '1 day')`,
      [abandoned, randomUUID()],
    );
    const takenOver = await place(abandoned, 1);
    assert.equal(takenOver.status, 201, JSON.stringify(takenOver.body));
    assert.equal((await place(abandoned, 1)).body.id, takenOver.body.id);

    const expired = `expired-${randomUUID()}`;
    await system.db.query(
      `INSERT INTO idempotency_keys (key, request_hash, claim_id, order_id, expires_at)
       VALUES ($1, 'of another request', $2, $3, now() - interval '1 second')`,
      [expired, randomUUID(), takenOver.body.id],
    );
    const fresh = await place(expired, 2);
    assert.equal(fresh.status, 201, 'a new order, not a 422 for the old request');
    assert.notEqual(fresh.body.id, takenOver.body.id);
    assert.equal(fresh.headers.get('idempotent-replayed'), null);
    assert.equal(await stockOf(productId), 7);
  });

  it('purges published events past their retention and expired keys, and keeps the rest', async () => {
    const event = (publishedAt: string | null) =>
      system.db.query(
        `INSERT INTO outbox (event_id, payload, published_at) VALUES ($1, '{}', ${publishedAt ?? 'NULL'}) RETURNING id`,
        [randomUUID()],
      );
    const old = await Promise.all(Array.from({ length: 3 }, () => event("now() - interval '25 hours'")));
    const recent = await event("now() - interval '1 hour'");
    const key = (expiresAt: string) =>
      system.db.query(
        `INSERT INTO idempotency_keys (key, request_hash, claim_id, expires_at) VALUES ($1, 'h', $2, ${expiresAt})`,
        [`purge-${randomUUID()}`, randomUUID()],
      );
    await key("now() - interval '1 minute'");
    await key("now() + interval '1 hour'");
    const expiredKeys = "idempotency_keys WHERE key LIKE 'purge-%' AND expires_at <= now()";
    const liveKeys = "idempotency_keys WHERE key LIKE 'purge-%' AND expires_at > now()";

    // A relay purges when it starts, then once a minute: a second orders on the same database purges now.
    const orders = await startOnFreePort(
      await buildOrdersService(
        ordersConfig({ ...process.env, ...isolated.env, STORAGE: 'postgres', OUTBOX_RETENTION_HOURS: '24' }),
        captureLogs('orders').logger,
      ),
    );
    try {
      await eventually(async () => (await count(system.db, expiredKeys)) === 0, 'the expired key purged');
      const oldIds = old.map((r) => r.rows[0].id as string);
      assert.equal(await count(system.db, 'outbox WHERE id = ANY($1)', [oldIds]), 0, 'published 25 hours ago');
      assert.equal(await count(system.db, 'outbox WHERE id = $1', [recent.rows[0].id]), 1, 'published an hour ago');
      assert.equal(await count(system.db, liveKeys), 1);
    } finally {
      await orders.stop();
    }
  });
});

describe('the outbox after a crash between a confirm and its commit', function () {
  this.timeout(180_000);
  const EVENTS = 300;
  const CRASHES = 3;
  let isolated: Isolated;
  let db: pg.Pool;
  let notifications: Running | undefined;
  const running: ChildProcess[] = [];

  before(async () => {
    isolated = await isolatedDependencies('outbox_crash');
    const server = localDependencies().postgres;
    db = new pg.Pool({
      host: server.DB_HOST,
      port: Number(server.DB_PORT),
      user: server.DB_USER,
      password: server.DB_PASSWORD,
      database: isolated.env.DB_NAME,
      max: 2,
    });
  });
  after(async () => {
    for (const child of running) if (child.exitCode === null) child.kill('SIGKILL');
    await notifications?.stop();
    await db?.end();
    await isolated?.drop();
  });

  const environment = () => ({
    ...(process.env as Record<string, string>),
    ...isolated.env,
    STORAGE: 'postgres',
    OUTBOX_POLL_MS: '20',
    OTEL_SDK_DISABLED: 'true',
  });
  /** An orders process started as production starts it; its relay drains the outbox as soon as it is up. */
  async function startOrdersProcess(): Promise<ChildProcess> {
    const { child } = await spawnService(require.resolve('@glassbox/orders'), environment());
    running.push(child);
    return child;
  }
  const published = async () => (await count(db, 'outbox WHERE published_at IS NOT NULL')) ?? 0;

  it(`re-sends at most one event per crash, and the consumer stores each order’s notification once`, async () => {
    // Every copy the broker routes is kept here, beside the notifications queue, to be counted by event id.
    const broker = await connect(isolated.env.AMQP_URL as string);
    const channel = await broker.createChannel();
    const counted = 'test.order-created.copies';
    await channel.assertExchange('glassbox.events', 'topic', { durable: true });
    await channel.assertQueue(counted, { durable: true });
    await channel.bindQueue(counted, 'glassbox.events', 'order.created');
    try {
      notifications = await startOnFreePort(
        await buildNotificationsService(
          notificationsConfig({ ...environment(), RETRY_DELAY_MS: '200' }),
          captureLogs('notifications').logger,
        ),
      );
      let orders = await startOrdersProcess();
      // The events of EVENTS orders at once, as if placed while RabbitMQ was away.
      await db.query(
        `INSERT INTO outbox (event_id, payload)
         SELECT id, jsonb_build_object('eventId', id, 'type', 'order.created', 'occurredAt', now(),
                  'order', jsonb_build_object('id', n, 'userId', 7, 'items', jsonb_build_array(
                    jsonb_build_object('productId', 3, 'quantity', 1))))
           FROM (SELECT gen_random_uuid() AS id, n FROM generate_series(1, $1::int) AS n) AS events`,
        [EVENTS],
      );

      const killedAt: number[] = [];
      for (let crash = 1; crash <= CRASHES; crash++) {
        const threshold = Math.round((crash * EVENTS) / (CRASHES + 1));
        while ((await published()) < threshold) await sleep(2);
        orders.kill('SIGKILL');
        await once(orders, 'exit');
        killedAt.push(await published());
        orders = await startOrdersProcess();
      }
      await eventually(async () => (await published()) === EVENTS, 'every event published', 60_000);
      orders.kill('SIGTERM');
      await once(orders, 'exit');

      const copies = new Map<string, number>();
      await eventually(async () => (await channel.checkQueue(counted)).messageCount >= EVENTS, 'every copy routed');
      const take = () => channel.get(counted, { noAck: true });
      for (let message = await take(); message; message = await take()) {
        const eventId = String(message.properties.messageId);
        copies.set(eventId, (copies.get(eventId) ?? 0) + 1);
      }
      const sent = [...copies.values()].reduce((sum, n) => sum + n, 0);
      const resent = sent - copies.size;
      console.log(
        `      ${EVENTS} events, ${CRASHES} SIGKILLs (at ${killedAt.join(', ')} marked published): ` +
          `${sent} messages, ${resent} re-sent (the bound: ${CRASHES}, one per crash)`,
      );
      assert.equal(copies.size, EVENTS, 'every event went out');
      assert.ok(resent <= CRASHES, `${resent} events re-sent after ${CRASHES} crashes`);

      await eventually(async () => (await count(db, 'notifications')) === EVENTS, `${EVENTS} notifications`, 60_000);
      assert.equal(await count(db, 'notifications'), EVENTS, 'one notification per order');
      const metrics = async () => (await fetch(`${notifications?.management}/metrics`)).text();
      await eventually(
        async () => new RegExp(`^notifications_duplicates_total ${resent}$`, 'm').test(await metrics()),
        `${resent} duplicates acknowledged without a second notification`,
      );
    } finally {
      await broker.close();
    }
  });
});
