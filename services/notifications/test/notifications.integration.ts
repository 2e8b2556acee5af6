import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SpanKind, trace } from '@opentelemetry/api';
import { testTelemetry, type TestTelemetry } from '@glassbox/telemetry/testing';
import {
  AppError,
  RabbitMq,
  newOrderCreated,
  withTimeout,
  type ConsumerQueues,
  type OrderCreated,
} from '@glassbox/service-kit';
import { call, captureLogs, startOnFreePort, type Running } from '@glassbox/service-kit/testing';
import { readConfig } from '../src/config';
import { buildNotificationsService, type NotificationsDependencies } from '../src/main';
import type { NotificationRepository } from '../src/notifications';
import { InMemoryNotificationRepository } from '../src/repository';
import {
  AMQP_URL,
  Broker,
  createScratchDatabase,
  deps,
  eventually,
  uniqueQueues,
  type ScratchDatabase,
} from './local-deps';

type ReadableSpan = ReturnType<TestTelemetry['trace']>[number];

let nextOrderId = 1;

describe('notifications consuming order.created from RabbitMQ into PostgreSQL', () => {
  let broker: Broker;
  let database: ScratchDatabase;
  let queues: ConsumerQueues;
  let publisher: RabbitMq;
  let service: Running | undefined;
  let logs: ReturnType<typeof captureLogs>;

  before(async () => {
    database = await createScratchDatabase();
  });
  after(() => database.drop());

  beforeEach(async () => {
    // A connection per test: none inherits one that a broker restart killed.
    broker = await Broker.open();
    queues = uniqueQueues();
    logs = captureLogs('notifications');
    // The publisher declares the consumer's queues, as orders will: nothing published is unroutable.
    publisher = new RabbitMq({ url: AMQP_URL, logger: logs.logger, topology: [queues] });
    publisher.start();
    await publisher.waitForConnection(10_000);
  });

  afterEach(async () => {
    try {
      await service?.stop();
      await publisher.close();
    } finally {
      service = undefined;
      await broker.remove(queues).finally(() => broker.close());
    }
  });

  async function startService(env: Record<string, string> = {}, store?: NotificationsDependencies['store']) {
    const config = readConfig({ ...database.env, AMQP_URL, RETRY_DELAY_MS: '300', RETRY_MAX_ATTEMPTS: '3', ...env });
    service = await startOnFreePort(await buildNotificationsService(config, logs.logger, { queues, store }));
    const url = service.management;
    await eventually('ready service', async () =>
      (await call(url, 'GET', '/readyz')).status === 200 ? true : undefined,
    );
    return url;
  }

  function anOrder(): OrderCreated {
    return newOrderCreated({ id: nextOrderId++, userId: 7, items: [{ productId: 3, quantity: 2 }] });
  }

  const rowsOf = async (orderId: number) =>
    (await database.pool.query('SELECT order_id, user_id, event_id FROM notifications WHERE order_id = $1', [orderId]))
      .rows;

  const recorded = (orderId: number, timeoutMs = 10_000) =>
    eventually(`notification for order ${orderId}`, async () => (await rowsOf(orderId))[0], timeoutMs);

  /** One counter's value from /metrics, as Prometheus would read it. */
  async function metric(url: string, series: string): Promise<number> {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line ? Number(line.split(' ')[1]) : 0;
  }

  it('records a notification for an event published with broker confirms', async () => {
    const url = await startService();
    const event = anOrder();
    await publisher.publish(queues.exchange, queues.routingKey, event);
    const row = (await recorded(event.order.id)) as { user_id: number; event_id: string };
    assert.equal(row.user_id, 7);
    assert.equal(row.event_id, event.eventId);
    await eventually('ack', async () => ((await broker.messageCount(queues.queue)) === 0 ? true : undefined));
    assert.equal(await metric(url, 'notifications_recorded_total'), 1);
  });

  it('records one notification when the same event is delivered twice', async () => {
    const url = await startService();
    const event = anOrder();
    await publisher.publish(queues.exchange, queues.routingKey, event);
    await publisher.publish(queues.exchange, queues.routingKey, event);
    await eventually('the duplicate handled', async () =>
      (await metric(url, 'notifications_duplicates_total')) === 1 ? true : undefined,
    );
    assert.equal((await rowsOf(event.order.id)).length, 1);
    assert.equal(await metric(url, 'notifications_recorded_total'), 1);
  });

  it('sends a message that is not JSON straight to the dead-letter queue, untouched', async () => {
    const url = await startService();
    const poison = Buffer.from('{"eventId": "half a message');
    broker.publishRaw(queues, poison);
    const dead = await broker.take(queues.deadLetterQueue);
    assert.deepEqual(dead.content, poison);
    const [death] = dead.properties.headers?.['x-death'] ?? [];
    assert.equal(death?.reason, 'rejected');
    assert.equal(death?.queue, queues.queue);
    assert.equal(await broker.messageCount(queues.retryQueue), 0, 'never retried');
    assert.equal(await metric(url, 'notifications_dead_lettered_total{reason="malformed"}'), 1);
  });

  it('shows how many messages wait in the dead-letter queue on /metrics, as RabbitMQ counts them', async () => {
    const url = await startService();
    broker.publishRaw(queues, Buffer.from('not JSON'));
    broker.publishRaw(queues, Buffer.from('{"eventId": '));
    await eventually('two dead letters', async () =>
      (await broker.messageCount(queues.deadLetterQueue)) === 2 ? true : undefined,
    );
    assert.equal(await metric(url, `notifications_dead_letter_messages{queue="${queues.deadLetterQueue}"}`), 2);
  });

  it('counts a statement timeout as an attempt: a notification whose row stays locked is dead-lettered', async function () {
    this.timeout(30_000);
    const url = await startService({ DB_STATEMENT_TIMEOUT_MS: '300', RETRY_DELAY_MS: '200', RETRY_MAX_ATTEMPTS: '3' });
    const event = anOrder();
    const holder = await database.pool.connect();
    try {
      // An uncommitted row for the same order: the consumer's INSERT waits on it until statement_timeout cancels it.
      await holder.query('BEGIN');
      await holder.query('INSERT INTO notifications (order_id, user_id, event_id) VALUES ($1, 7, $2)', [
        event.order.id,
        randomUUID(),
      ]);
      await publisher.publish(queues.exchange, queues.routingKey, event);
      const dead = await broker.take(queues.deadLetterQueue, 15_000);
      assert.equal(dead.properties.messageId, event.eventId);
      assert.equal(dead.properties.headers?.['x-attempts'], 2, 'three attempts, each one counted');
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    assert.equal(await metric(url, 'notifications_dead_lettered_total{reason="exhausted"}'), 1);
    assert.deepEqual(await rowsOf(event.order.id), []);
  });

  it('sends an event that fails the schema to the dead-letter queue and records nothing', async () => {
    const url = await startService();
    const event = anOrder();
    const invalid = { ...event, order: { ...event.order, items: [{ productId: 3, quantity: -1 }] } };
    await publisher.publish(queues.exchange, queues.routingKey, invalid);
    const dead = await broker.take(queues.deadLetterQueue);
    assert.equal(dead.properties.messageId, event.eventId, 'the messageId is the eventId');
    assert.equal(dead.properties.contentType, 'application/json');
    assert.equal(dead.properties.deliveryMode, 2, 'persistent');
    assert.deepEqual(await rowsOf(event.order.id), []);
    assert.equal(await metric(url, 'notifications_dead_lettered_total{reason="invalid"}'), 1);
  });

  it('retries a failing recording through the retry queue after the delay, then dead-letters it', async () => {
    const calls: number[] = [];
    const failing: NotificationRepository = {
      record: () => {
        calls.push(Date.now());
        return Promise.reject(new Error('disk on fire'));
      },
      findByOrder: () => Promise.resolve(undefined),
      ping: () => Promise.resolve(),
    };
    const url = await startService(
      { STORAGE: 'memory', RETRY_DELAY_MS: '400', RETRY_MAX_ATTEMPTS: '3' },
      {
        repository: failing,
        close: () => Promise.resolve(),
      },
    );
    const event = anOrder();
    await publisher.publish(queues.exchange, queues.routingKey, event);

    const dead = await broker.take(queues.deadLetterQueue, 15_000);
    assert.equal(calls.length, 3, 'three attempts in all');
    const gaps = calls.slice(1).map((at, i) => at - (calls[i] as number));
    assert.ok(
      gaps.every((gap) => gap >= 350),
      `each retry waited out the delay in the retry queue; gaps were ${gaps.join(', ')} ms`,
    );
    assert.equal(dead.properties.headers?.['x-attempts'], 2, 'the dead copy says how many attempts failed before it');
    assert.equal(dead.properties.messageId, event.eventId);
    assert.deepEqual(JSON.parse(dead.content.toString()), event);
    assert.equal(await metric(url, 'notifications_retried_total'), 2);
    assert.equal(await metric(url, 'notifications_dead_lettered_total{reason="exhausted"}'), 1);
    assert.equal(await broker.messageCount(queues.queue), 0);
    assert.equal(await broker.messageCount(queues.retryQueue), 0);
  });

  it('continues the publisher’s trace: publish, consume span, then the INSERT inside it', async () => {
    await startService();
    testTelemetry.reset();
    const event = anOrder();
    const tracer = trace.getTracer('test');
    const parent = await tracer.startActiveSpan('place order', async (span) => {
      await publisher.publish(queues.exchange, queues.routingKey, event);
      span.end();
      return span;
    });
    const traceId = parent.spanContext().traceId;
    await recorded(event.order.id);
    // The consume span ends at the ack, after the INSERT: once it is exported, the trace is complete.
    await eventually('the consume span', () =>
      Promise.resolve(testTelemetry.trace(traceId).find((s) => s.kind === SpanKind.CONSUMER)),
    );
    const spans = testTelemetry.trace(traceId);
    const consume = spans.find((s) => s.kind === SpanKind.CONSUMER) as ReadableSpan;
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    const parentOf = (s: ReadableSpan) => byId.get(s.parentSpanContext?.spanId ?? '');
    console.log(
      spans.map((s) => `      ${SpanKind[s.kind].padEnd(8)} ${s.name}  <- ${parentOf(s)?.name ?? '(root)'}`).join('\n'),
    );

    const publish = spans.find((s) => s.kind === SpanKind.PRODUCER);
    assert.equal(publish?.name, `publish ${queues.exchange}`);
    assert.equal(parentOf(publish), parent, 'publish is a child of the span it was published in');
    assert.equal(consume.name, `${queues.queue} process`);
    assert.equal(parentOf(consume), publish, 'the consumer continues the trace from the message headers');
    assert.equal(consume.attributes['glassbox.order.id'], event.order.id);
    assert.equal(consume.attributes['messaging.message_id'], event.eventId);

    const insert = spans.find((s) => s.kind === SpanKind.CLIENT && s.name.startsWith('pg.query:INSERT'));
    assert.ok(insert, 'the INSERT has a span in the same trace');
    let ancestor = parentOf(insert);
    while (ancestor && ancestor !== consume) ancestor = parentOf(ancestor);
    assert.equal(ancestor, consume, 'the INSERT descends from the consume span');
    assert.match(String(insert.attributes['db.query.text'] ?? insert.attributes['db.statement']), /ON CONFLICT/);
  });

  it('records what was published while PostgreSQL was down, each once, and never exits', async function () {
    this.timeout(120_000);
    const url = await startService({ RETRY_DELAY_MS: '500', RETRY_MAX_ATTEMPTS: '60' });
    const before = anOrder();
    await publisher.publish(queues.exchange, queues.routingKey, before);
    await recorded(before.order.id);

    const during = [anOrder(), anOrder(), anOrder(), anOrder(), anOrder()];
    deps('stop', 'postgres');
    try {
      const ready = await call(url, 'GET', '/readyz');
      assert.equal(ready.status, 503);
      assert.match(ready.body.checks.postgres, /^failed/);
      for (const event of during) await publisher.publish(queues.exchange, queues.routingKey, event);
      await eventually(
        'failed attempts during the outage',
        async () => ((await metric(url, 'notifications_retried_total')) >= during.length ? true : undefined),
        20_000,
      );
    } finally {
      deps('start', 'postgres');
    }

    for (const event of during) await recorded(event.order.id, 30_000);
    const counts = await database.pool.query<{ order_id: number; n: string }>(
      'SELECT order_id, count(*) AS n FROM notifications WHERE order_id = ANY($1) GROUP BY order_id',
      [[before, ...during].map((e) => e.order.id)],
    );
    assert.equal(counts.rows.length, 6, 'none lost');
    assert.ok(
      counts.rows.every((r) => r.n === '1'),
      'none twice',
    );
    assert.equal(await metric(url, 'notifications_recorded_total'), 6);
    assert.equal(await metric(url, 'notifications_dead_lettered_total{reason="exhausted"}'), 0);
    assert.equal(await broker.messageCount(queues.deadLetterQueue), 0);
    assert.equal((await call(url, 'GET', '/healthz')).status, 200, 'still serving');
    assert.equal((await call(url, 'GET', '/readyz')).status, 200);
  });

  it('reconnects after RabbitMQ restarts and consumes again; meanwhile publishing fails fast with a 503', async function () {
    this.timeout(180_000);
    const url = await startService();
    deps('stop', 'rabbitmq');
    try {
      const ready = await eventually('not ready', async () => {
        const reply = await call(url, 'GET', '/readyz');
        return reply.status === 503 ? reply : undefined;
      });
      assert.equal(ready.body.checks.rabbitmq, 'failed: not connected');
      const started = Date.now();
      await assert.rejects(publisher.publish(queues.exchange, queues.routingKey, anOrder()), (error: AppError) => {
        assert.equal(error.status, 503);
        return true;
      });
      assert.ok(Date.now() - started < 1_000, 'no waiting for a confirm that can not come');
      assert.equal((await call(url, 'GET', '/healthz')).status, 200, 'the service lives on without its broker');
    } finally {
      deps('start', 'rabbitmq');
    }
    await publisher.waitForConnection(30_000);
    await broker.close();
    broker = await Broker.open();
    await eventually(
      'ready again',
      async () => ((await call(url, 'GET', '/readyz')).status === 200 ? true : undefined),
      30_000,
    );
    const event = anOrder();
    await publisher.publish(queues.exchange, queues.routingKey, event);
    await recorded(event.order.id);
    const said = logs.lines().map((l) => l.msg);
    const lost = said.indexOf('RabbitMQ connection lost; reconnecting');
    assert.ok(lost >= 0, 'the loss was logged');
    assert.ok(said.slice(lost).includes('RabbitMQ connected'), 'and so was the reconnection');
  });

  it('on stop, lets the handler in flight finish and ack before closing', async () => {
    const repository = new InMemoryNotificationRepository();
    let started!: () => void;
    const handlerStarted = new Promise<void>((resolve) => (started = resolve));
    const slow: NotificationRepository = {
      record: async (notification) => {
        started();
        await new Promise((resolve) => setTimeout(resolve, 500));
        return repository.record(notification);
      },
      findByOrder: (orderId) => repository.findByOrder(orderId),
      ping: () => repository.ping(),
    };
    await startService({ STORAGE: 'memory' }, { repository: slow, close: () => Promise.resolve() });
    const event = anOrder();
    await publisher.publish(queues.exchange, queues.routingKey, event);
    await withTimeout(handlerStarted, 10_000, 'the handler never started');
    await service?.stop();
    service = undefined;
    assert.ok(await repository.findByOrder(event.order.id), 'the handler finished');
    assert.equal(await broker.messageCount(queues.queue), 0, 'and its message was acked, not returned to the queue');
  });
});
