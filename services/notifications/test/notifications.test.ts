import assert from 'node:assert/strict';
import { dependencyUnavailable } from '@glassbox/service-kit';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { createHttpMetrics } from '@glassbox/telemetry';
import { testTelemetry } from '@glassbox/telemetry/testing';
import {
  AppError,
  attemptsOf,
  newOrderCreated,
  translatePgError,
  type Delivery,
  type OrderCreated,
} from '@glassbox/service-kit';
import { captureLogs } from '@glassbox/service-kit/testing';
import { createNotificationMetrics, type NotificationMetrics } from '../src/metrics';
import { NotificationRecorder, type NotificationRepository } from '../src/notifications';
import { InMemoryNotificationRepository } from '../src/repository';

const policy = { maxAttempts: 5, delayMs: 250 };

function delivery(body: unknown, attempts = 0): Delivery {
  const content = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  return { content, attempts, messageId: 'm-1' };
}

const order = (id: number): OrderCreated =>
  newOrderCreated({ id, userId: 7, items: [{ productId: 3, quantity: 2 }] }, new Date('2026-11-26T10:00:00Z'));

async function count(metrics: NotificationMetrics, name: keyof NotificationMetrics, reason?: string) {
  const { values } = await metrics[name].get();
  return values.filter((v) => reason === undefined || v.labels.reason === reason).reduce((sum, v) => sum + v.value, 0);
}

/** Export can lag span.end() (the resource's async attributes come first): wait for `count` spans named `name`. */
async function exported(name: string, count: number) {
  for (let i = 0; i < 100; i++) {
    const spans = testTelemetry.spans.getFinishedSpans().filter((s) => s.name === name);
    if (spans.length >= count) return spans;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`fewer than ${count} spans named ${name} were exported`);
}

/** A repository whose record() fails `failures` times, then works. */
function flaky(failures: number): NotificationRepository & { calls: number } {
  const inner = new InMemoryNotificationRepository();
  const repository = {
    calls: 0,
    record(notification: Parameters<NotificationRepository['record']>[0]) {
      repository.calls++;
      if (repository.calls <= failures) return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
      return inner.record(notification);
    },
    findByOrder: (orderId: number) => inner.findByOrder(orderId),
    ping: () => inner.ping(),
  };
  return repository;
}

describe('notification recorder: handling one order.created delivery', () => {
  let metrics: NotificationMetrics;
  let logs: ReturnType<typeof captureLogs>;

  beforeEach(() => {
    metrics = createNotificationMetrics(createHttpMetrics().registry);
    logs = captureLogs('notifications');
  });

  const recorder = (repository: NotificationRepository) =>
    new NotificationRecorder(repository, policy, metrics, logs.logger);

  it('records a notification for a valid event and acks it', async () => {
    const repository = new InMemoryNotificationRepository();
    const event = order(41);
    assert.deepEqual(await recorder(repository).handle(delivery(event)), { action: 'ack' });
    const stored = await repository.findByOrder(41);
    assert.equal(stored?.userId, 7);
    assert.equal(stored?.eventId, event.eventId);
    assert.equal(await count(metrics, 'recorded'), 1);
  });

  it('acks a redelivered event without recording a second notification', async () => {
    const repository = new InMemoryNotificationRepository();
    const event = order(42);
    const handler = recorder(repository);
    await handler.handle(delivery(event));
    assert.deepEqual(await handler.handle(delivery(event)), { action: 'ack' });
    assert.equal((await repository.findByOrder(42))?.id, 1, 'still the first row');
    assert.equal(await count(metrics, 'recorded'), 1);
    assert.equal(await count(metrics, 'duplicates'), 1);
  });

  it('keeps to one notification per order even when a second event id arrives for it', async () => {
    const repository = new InMemoryNotificationRepository();
    const handler = recorder(repository);
    const first = order(43);
    await handler.handle(delivery(first));
    assert.deepEqual(await handler.handle(delivery(order(43))), { action: 'ack' });
    assert.equal((await repository.findByOrder(43))?.eventId, first.eventId);
  });

  it('accepts fields it does not know yet (a newer publisher is not poison)', async () => {
    const repository = new InMemoryNotificationRepository();
    const event = { ...order(44), channel: 'web', order: { ...order(44).order, coupon: 'X' } };
    assert.deepEqual(await recorder(repository).handle(delivery(event)), { action: 'ack' });
    assert.ok(await repository.findByOrder(44));
  });

  it('dead-letters a message that is not JSON at once, without retrying', async () => {
    const repository = flaky(0);
    const verdict = await recorder(repository).handle(delivery(Buffer.from('{"eventId": '), 0));
    assert.deepEqual(verdict, { action: 'dead-letter' });
    assert.equal(repository.calls, 0, 'the database is not asked');
    assert.equal(await count(metrics, 'deadLettered', 'malformed'), 1);
    const line = logs.lines().find((l) => l.msg === 'unreadable order.created message; dead-lettering it');
    assert.equal(line?.reason, 'malformed');
  });

  const invalid: Array<[string, (event: OrderCreated) => unknown, RegExp]> = [
    ['without a user id', (e) => ({ ...e, order: { ...e.order, userId: undefined } }), /order\.userId/],
    [
      'with a zero quantity',
      (e) => ({ ...e, order: { ...e.order, items: [{ productId: 1, quantity: 0 }] } }),
      /quantity/,
    ],
    ['with no items', (e) => ({ ...e, order: { ...e.order, items: [] } }), /order\.items/],
    ['of another type', (e) => ({ ...e, type: 'order.cancelled' }), /type/],
    ['whose event id is not a uuid', (e) => ({ ...e, eventId: '42' }), /eventId/],
    ['whose order id exceeds a PostgreSQL integer', (e) => ({ ...e, order: { ...e.order, id: 2 ** 31 } }), /order\.id/],
    ['whose date is not ISO 8601', (e) => ({ ...e, occurredAt: 'yesterday' }), /occurredAt/],
    ['that is a JSON array', () => [], /message/],
  ];
  for (const [what, mutate, field] of invalid) {
    it(`dead-letters an event ${what}, naming the field in the log`, async () => {
      const repository = flaky(0);
      const verdict = await recorder(repository).handle(delivery(mutate(order(45))));
      assert.deepEqual(verdict, { action: 'dead-letter' });
      assert.equal(repository.calls, 0);
      assert.equal(await count(metrics, 'deadLettered', 'invalid'), 1);
      const line = logs.lines().find((l) => l.reason === 'invalid');
      assert.match(String(line?.problem), field);
    });
  }

  it('asks for a retry after the configured delay when recording fails', async () => {
    const repository = flaky(1);
    const verdict = await recorder(repository).handle(delivery(order(46), 0));
    assert.deepEqual(verdict, { action: 'retry', delayMs: policy.delayMs });
    assert.equal(await count(metrics, 'retried'), 1);
    const line = logs.lines().find((l) => l.msg === 'recording failed; retrying later');
    assert.equal(line?.attempts, 1);
    assert.equal(line?.order_id, 46);
  });

  it('retries until the last allowed attempt, then dead-letters as exhausted', async () => {
    const repository = flaky(Infinity);
    const handler = recorder(repository);
    const verdicts = [];
    // What the broker does between attempts: the copy in the retry queue carries attempts + 1.
    for (let attempts = 0; attempts < policy.maxAttempts; attempts++) {
      verdicts.push((await handler.handle(delivery(order(47), attempts))).action);
    }
    assert.deepEqual(verdicts, ['retry', 'retry', 'retry', 'retry', 'dead-letter']);
    assert.equal(repository.calls, policy.maxAttempts);
    assert.equal(await count(metrics, 'retried'), 4);
    assert.equal(await count(metrics, 'deadLettered', 'exhausted'), 1);
  });

  it('does not count attempts while the database is unavailable, so an outage never dead-letters', async () => {
    const inner = new InMemoryNotificationRepository();
    let down = true;
    const repository: NotificationRepository = {
      record: (notification) =>
        down ? Promise.reject(dependencyUnavailable('PostgreSQL')) : inner.record(notification),
      findByOrder: (orderId) => inner.findByOrder(orderId),
      ping: () => inner.ping(),
    };
    const handler = recorder(repository);
    for (let i = 0; i < policy.maxAttempts * 2; i++) {
      // Uncounted: the copy in the retry queue keeps attempts at 0.
      assert.deepEqual(await handler.handle(delivery(order(49), 0)), {
        action: 'retry',
        delayMs: policy.delayMs,
        counted: false,
      });
    }
    down = false;
    assert.deepEqual(await handler.handle(delivery(order(49), 0)), { action: 'ack' });
    assert.ok(await inner.findByOrder(49));
    assert.equal(await count(metrics, 'deadLettered', 'exhausted'), 0);
  });

  it('counts a statement timeout as an attempt, so a message that times out every time is dead-lettered', async () => {
    const timedOut = translatePgError(
      Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }),
    );
    assert.ok(timedOut instanceof AppError && timedOut.code === 'dependency_unavailable', 'the kit calls it a 503');
    const repository: NotificationRepository = {
      record: () => Promise.reject(timedOut),
      findByOrder: () => Promise.resolve(undefined),
      ping: () => Promise.resolve(),
    };
    const handler = recorder(repository);
    const verdicts = [];
    for (let attempts = 0; attempts < policy.maxAttempts; attempts++) {
      verdicts.push(await handler.handle(delivery(order(51), attempts)));
    }
    assert.deepEqual(
      verdicts.slice(0, -1),
      Array(policy.maxAttempts - 1).fill({ action: 'retry', delayMs: policy.delayMs }),
    );
    assert.deepEqual(verdicts.at(-1), { action: 'dead-letter' });
    assert.equal(await count(metrics, 'deadLettered', 'exhausted'), 1);
  });

  it('records once when an attempt after a failure succeeds', async () => {
    const repository = flaky(2);
    const handler = recorder(repository);
    const actions = [];
    for (let attempts = 0; attempts < 3; attempts++) {
      actions.push((await handler.handle(delivery(order(48), attempts))).action);
    }
    assert.deepEqual(actions, ['retry', 'retry', 'ack']);
    assert.equal(await count(metrics, 'recorded'), 1);
  });

  it('puts the order id on the active consumer span, and marks a failed attempt as an error', async () => {
    testTelemetry.reset();
    const tracer = trace.getTracer('test');
    await tracer.startActiveSpan('queue process', async (span) => {
      await recorder(new InMemoryNotificationRepository()).handle(delivery(order(49)));
      span.end();
    });
    await tracer.startActiveSpan('queue process', async (span) => {
      await recorder(flaky(1)).handle(delivery(order(50)));
      span.end();
    });
    const [ok, failed] = await exported('queue process', 2);
    assert.equal(ok?.attributes['glassbox.order.id'], 49);
    assert.equal(ok?.status.code, SpanStatusCode.UNSET);
    assert.equal(failed?.attributes['glassbox.order.id'], 50);
    assert.equal(failed?.status.code, SpanStatusCode.ERROR);
    assert.equal(
      failed?.events.find((e) => e.name === 'exception')?.attributes?.['exception.message'],
      'connect ECONNREFUSED 127.0.0.1:5432',
    );
  });
});

describe('the x-attempts header', () => {
  const withHeaders = (headers?: Record<string, unknown>) => ({ properties: { headers } });

  it('counts 0 on a first delivery and reads the count a retry wrote', () => {
    assert.equal(attemptsOf(withHeaders()), 0);
    assert.equal(attemptsOf(withHeaders({})), 0);
    assert.equal(attemptsOf(withHeaders({ 'x-attempts': 3 })), 3);
  });

  it('treats a value no retry could have written as 0, not as a crash', () => {
    for (const value of ['3', -1, 1.5, null]) assert.equal(attemptsOf(withHeaders({ 'x-attempts': value })), 0);
  });
});
