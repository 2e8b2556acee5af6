import assert from 'node:assert/strict';
import type { ConsumeMessage, MessagePropertyHeaders, Options } from 'amqplib';
import { AppError } from '../src/errors';
import { NOTIFICATIONS_ORDER_CREATED } from '../src/events';
import {
  attemptsOf,
  declareTopology,
  publishConfirmed,
  RabbitMq,
  settleDelivery,
  type ConfirmingChannel,
  type DeclaringChannel,
  type Handler,
  type Publish,
  type Verdict,
} from '../src/rabbitmq';
import { captureLogs } from '../src/testing';

const queues = NOTIFICATIONS_ORDER_CREATED;

/** A delivery as amqplib hands it to a consumer. */
function delivery(headers?: MessagePropertyHeaders, deliveryTag = 1): ConsumeMessage {
  return {
    content: Buffer.from('{"eventId":"e-1"}'),
    fields: {
      deliveryTag,
      redelivered: false,
      exchange: queues.exchange,
      routingKey: queues.routingKey,
      consumerTag: 'consumer-1',
    },
    properties: {
      contentType: 'application/json',
      contentEncoding: undefined,
      headers,
      deliveryMode: 2,
      priority: undefined,
      correlationId: undefined,
      replyTo: undefined,
      expiration: undefined,
      messageId: 'e-1',
      timestamp: undefined,
      type: undefined,
      userId: undefined,
      appId: undefined,
      clusterId: undefined,
    },
  };
}

const decide =
  (verdict: Verdict): Handler =>
  () =>
    Promise.resolve(verdict);

describe('attemptsOf', () => {
  it('reads x-attempts, and counts anything but a whole number >= 0 as a first delivery', () => {
    const read = (headers?: MessagePropertyHeaders) => attemptsOf(delivery(headers));

    assert.deepEqual(
      [
        read(),
        read({}),
        read({ 'x-attempts': 3 }),
        read({ 'x-attempts': -1 }),
        read({ 'x-attempts': 1.5 }),
        read({ 'x-attempts': '2' }),
      ],
      [0, 0, 3, 0, 0, 0],
    );
  });
});

describe('declareTopology', () => {
  let declared: unknown[][];

  beforeEach(async () => {
    declared = [];
    const channel: DeclaringChannel = {
      assertExchange(exchange, type, options) {
        declared.push(['exchange', exchange, type, options]);
        return Promise.resolve({ exchange });
      },
      assertQueue(queue, options) {
        declared.push(['queue', queue, options]);
        return Promise.resolve({ queue: queue ?? '', messageCount: 0, consumerCount: 0 });
      },
      bindQueue(queue, source, pattern) {
        declared.push(['bind', queue, source, pattern]);
        return Promise.resolve({});
      },
    };

    await declareTopology(channel, queues);
  });

  const find = (kind: string, name: string) => declared.filter(([k, n]) => k === kind && n === name);

  it('binds the work queue to the events exchange by routing key, and sends what it rejects to the dead-letter exchange', () => {
    assert.deepEqual(find('exchange', queues.exchange), [['exchange', queues.exchange, 'topic', { durable: true }]]);
    assert.deepEqual(find('queue', queues.queue), [
      [
        'queue',
        'notifications.order-created',
        {
          durable: true,
          deadLetterExchange: 'glassbox.dead-letter',
          deadLetterRoutingKey: 'notifications.order-created.dead',
        },
      ],
    ]);
    assert.deepEqual(find('bind', queues.queue), [['bind', queues.queue, 'glassbox.events', 'order.created']]);
  });

  it('lets an expired retry flow back to the work queue alone, through the default exchange, with no queue TTL', () => {
    assert.deepEqual(find('queue', queues.retryQueue), [
      [
        'queue',
        'notifications.order-created.retry',
        { durable: true, deadLetterExchange: '', deadLetterRoutingKey: 'notifications.order-created' },
      ],
    ]);
    assert.deepEqual(find('bind', queues.retryQueue), [], 'no other subscriber of the event may see a retry');
  });

  it('binds the dead-letter queue to the dead-letter exchange under its own name', () => {
    assert.deepEqual(find('exchange', queues.deadLetterExchange), [
      ['exchange', 'glassbox.dead-letter', 'direct', { durable: true }],
    ]);
    assert.deepEqual(find('queue', queues.deadLetterQueue), [
      ['queue', 'notifications.order-created.dead', { durable: true }],
    ]);
    assert.deepEqual(find('bind', queues.deadLetterQueue), [
      ['bind', 'notifications.order-created.dead', 'glassbox.dead-letter', 'notifications.order-created.dead'],
    ]);
  });

  it('declares an exchange and a queue before binding them', () => {
    const position = (kind: string, name: string) => declared.findIndex(([k, n]) => k === kind && n === name);

    declared.forEach(([kind, queue, exchange], binding) => {
      if (kind !== 'bind') return;
      assert.ok(position('exchange', String(exchange)) < binding, `exchange ${String(exchange)} before its binding`);
      assert.ok(position('queue', String(queue)) < binding, `queue ${String(queue)} before its binding`);
    });
  });
});

describe('settleDelivery: carrying out what the handler decided', () => {
  let logs: ReturnType<typeof captureLogs>;
  /** What happened to the delivery, in order: publishes on the publisher, acks and nacks on the channel. */
  let steps: unknown[][];
  let publish: Publish;

  beforeEach(() => {
    logs = captureLogs('kit');
    steps = [];
    publish = (exchange, routingKey, _content, options) => {
      steps.push(['publish', exchange, routingKey, options]);
      return Promise.resolve();
    };
  });

  const settle = (message: ConsumeMessage, handler: Handler) =>
    settleDelivery(
      message,
      { queues, handler },
      {
        channel: {
          ack: (settled, allUpTo) => steps.push(['ack', settled.fields.deliveryTag, { allUpTo }]),
          nack: (settled, allUpTo, requeue) => steps.push(['nack', settled.fields.deliveryTag, { allUpTo, requeue }]),
        },
        publish: (...args) => publish(...args),
        logger: logs.logger,
      },
    );

  it("gives the handler the message's content, its messageId and the failed attempts before it", async () => {
    const seen: unknown[] = [];

    await settle(delivery({ 'x-attempts': 2 }), (received) => {
      seen.push(received);
      return Promise.resolve({ action: 'ack' });
    });

    assert.deepEqual(seen, [{ content: Buffer.from('{"eventId":"e-1"}'), attempts: 2, messageId: 'e-1' }]);
  });

  it('acks the delivery when the handler is done with it', async () => {
    await settle(delivery(undefined, 7), decide({ action: 'ack' }));

    assert.deepEqual(steps, [['ack', 7, { allUpTo: undefined }]]);
  });

  it('nacks without requeue on dead-letter, so the queue dead-letters it', async () => {
    await settle(delivery(undefined, 7), decide({ action: 'dead-letter' }));

    assert.deepEqual(steps, [['nack', 7, { allUpTo: false, requeue: false }]]);
  });

  it('dead-letters the delivery when the handler throws, and logs the bug', async () => {
    await settle(delivery(), () => Promise.reject(new Error('undefined is not a function')));

    assert.deepEqual(steps, [['nack', 1, { allUpTo: false, requeue: false }]]);
    const logged = logs.lines().find((line) => line.level === 50);
    assert.equal(logged?.msg, 'message handler threw; dead-lettering the message');
    assert.equal(logged?.queue, queues.queue);
  });

  it('on retry, publishes a copy to the retry queue with x-attempts + 1 and the delay as its expiration, then acks', async () => {
    const message = delivery({
      'x-attempts': 2,
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      'x-death': [
        {
          count: 1,
          reason: 'expired',
          queue: queues.retryQueue,
          time: { '!': 'timestamp', value: 1 },
          exchange: '',
          'routing-keys': [queues.retryQueue],
        },
      ],
      'x-first-death-exchange': '',
      'x-first-death-queue': queues.retryQueue,
      'x-first-death-reason': 'expired',
      'x-last-death-queue': queues.retryQueue,
      'x-last-death-reason': 'expired',
    });

    await settle(message, decide({ action: 'retry', delayMs: 1500 }));

    const copy: Options.Publish = {
      messageId: 'e-1',
      headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'x-attempts': 3 },
      expiration: '1500',
    };
    assert.deepEqual(steps, [
      ['publish', '', 'notifications.order-created.retry', copy],
      ['ack', 1, { allUpTo: undefined }],
    ]);
  });

  it('counts a first failure as attempt 1', async () => {
    await settle(delivery(), decide({ action: 'retry', delayMs: 100 }));

    assert.deepEqual((steps[0]?.[3] as Options.Publish).headers, { 'x-attempts': 1 });
  });

  it('keeps x-attempts as it was for a retry that is not counted', async () => {
    await settle(delivery({ 'x-attempts': 2 }), decide({ action: 'retry', delayMs: 100, counted: false }));

    assert.deepEqual((steps[0]?.[3] as Options.Publish).headers, { 'x-attempts': 2 });
  });

  it('requeues the original, unacked, when the retry copy can not be published', async () => {
    publish = (exchange, routingKey) => {
      steps.push(['publish', exchange, routingKey]);
      return Promise.reject(new AppError(503, 'dependency_unavailable', 'RabbitMQ is unavailable'));
    };

    await settle(delivery(), decide({ action: 'retry', delayMs: 100 }));

    assert.deepEqual(steps, [
      ['publish', '', queues.retryQueue],
      ['nack', 1, { allUpTo: false, requeue: true }],
    ]);
    assert.ok(logs.lines().some((line) => line.msg === 'could not schedule a retry; requeueing the message'));
  });

  it('resolves even when the channel can not settle (it closed meanwhile): the broker redelivers', async () => {
    await settleDelivery(
      delivery(),
      { queues, handler: decide({ action: 'ack' }) },
      {
        channel: {
          ack: () => {
            throw new Error('Channel closed');
          },
          nack: () => undefined,
        },
        publish,
        logger: logs.logger,
      },
    );

    assert.ok(logs.lines().some((line) => line.msg === 'could not settle the message; the broker will redeliver it'));
  });
});

describe('publishConfirmed: waiting for the broker to confirm', () => {
  let published: unknown[][];

  /** A confirm channel that answers every publish the way `confirm` says. */
  function confirmChannel(confirm: (callback: (error: unknown) => void) => void): ConfirmingChannel {
    return {
      publish(exchange, routingKey, content, options, callback) {
        published.push([exchange, routingKey, content.toString('utf8'), options]);
        if (callback) confirm((error) => callback(error, {}));
        return true;
      },
    };
  }

  beforeEach(() => {
    published = [];
  });

  /** Asserts that `promise` rejects with the kit's 503 for RabbitMQ, caused by `cause`. */
  async function rejectsWith503(promise: Promise<unknown>, cause: RegExp): Promise<void> {
    await assert.rejects(promise, (error: unknown) => {
      assert.ok(error instanceof AppError);
      assert.equal(error.status, 503);
      assert.equal(error.code, 'dependency_unavailable');
      assert.deepEqual(error.details, { dependency: 'RabbitMQ' });
      assert.match((error.cause as Error).message, cause);
      return true;
    });
  }

  it('resolves once the broker confirms, having published a persistent JSON message', async () => {
    const channel = confirmChannel((callback) => setImmediate(() => callback(null)));

    await publishConfirmed(
      channel,
      'glassbox.events',
      'order.created',
      Buffer.from('{"eventId":"e-1"}'),
      { messageId: 'e-1', headers: { traceparent: 't' } },
      1000,
    );

    assert.deepEqual(published, [
      [
        'glassbox.events',
        'order.created',
        '{"eventId":"e-1"}',
        { persistent: true, contentType: 'application/json', messageId: 'e-1', headers: { traceparent: 't' } },
      ],
    ]);
  });

  it('rejects with a 503 naming RabbitMQ when the broker nacks the message', async () => {
    const channel = confirmChannel((callback) => setImmediate(() => callback(new Error('message nacked'))));

    await rejectsWith503(
      publishConfirmed(channel, 'glassbox.events', 'order.created', Buffer.from('{}'), {}, 1000),
      /^RabbitMQ did not take the message$/,
    );
  });

  it('rejects with a 503 once publishTimeoutMs has passed without a confirm', async () => {
    const channel = confirmChannel(() => undefined);
    const started = Date.now();

    await rejectsWith503(
      publishConfirmed(channel, 'glassbox.events', 'order.created', Buffer.from('{}'), {}, 100),
      /^RabbitMQ did not confirm within 100 ms$/,
    );

    const waited = Date.now() - started;
    assert.ok(waited >= 90 && waited < 1000, `waited ${waited} ms`);
  });

  it('a RabbitMq that is not connected refuses to publish with the same 503, without waiting', async () => {
    const rabbit = new RabbitMq({
      url: 'amqp://127.0.0.1:1',
      logger: captureLogs('kit').logger,
      publishTimeoutMs: 5000,
    });
    const started = Date.now();

    await rejectsWith503(rabbit.publish('glassbox.events', 'order.created', { eventId: 'e-1' }), /^not connected$/);

    assert.ok(Date.now() - started < 1000);
    assert.equal(rabbit.isConnected(), false);
  });
});
