import {
  connect,
  type Channel,
  type ChannelModel,
  type ConfirmChannel,
  type ConsumeMessage,
  type Options,
} from 'amqplib';
import { z } from 'zod';
import type { Logger } from '@glassbox/telemetry';
import { dependencyUnavailable } from './errors';
import type { ConsumerQueues } from './events';
import { withTimeout } from './readiness';
import type { Part } from './service';

/** RabbitMQ, as the compose stack names it. */
export const rabbitMqConfig = {
  AMQP_URL: z
    .url({ protocol: /^amqps?$/, hostname: /^.+$/, error: 'expected an amqp:// or amqps:// URL' })
    .default('amqp://glassbox:glassbox@rabbitmq:5672'),
};

/** How many times processing a message failed before this delivery; absent on the first. */
export const ATTEMPTS_HEADER = 'x-attempts';

/** A message as a consumer's handler sees it: the bytes and what the broker says about them. */
export interface Delivery {
  content: Buffer;
  /** Failed processing attempts before this one (the x-attempts header), 0 on a first delivery. */
  attempts: number;
  messageId: string | undefined;
}

/**
 * What the handler decided; the connection manager carries it out.
 *   ack          done (or already done before: handlers are idempotent)
 *   dead-letter  nack without requeue: the queue's dead-letter exchange takes it
 *   retry        a copy goes to the retry queue with x-attempts + 1, then the original is acked;
 *                `counted: false` keeps x-attempts as it was (the failure was not the message's fault)
 */
export type Verdict =
  { action: 'ack' } | { action: 'dead-letter' } | { action: 'retry'; delayMs: number; counted?: boolean };

export type Handler = (delivery: Delivery) => Promise<Verdict>;

export interface RabbitMqOptions {
  url: string;
  logger: Logger;
  /**
   * Declared on every (re)connect. A publisher lists its consumers' queues
   * here, so an event published before a consumer ever started is kept, not
   * dropped as unroutable.
   */
  topology?: ConsumerQueues[];
  /** TCP connect plus AMQP handshake. */
  connectTimeoutMs?: number;
  /** How long publish() waits for the broker's confirm. */
  publishTimeoutMs?: number;
  /** Reconnect backoff: doubles from `initialMs` up to `maxMs`, with jitter. */
  reconnectDelay?: { initialMs: number; maxMs: number };
}

interface Consumer {
  queues: ConsumerQueues;
  handler: Handler;
  prefetch: number;
  /** Set while the consumer runs on the current connection. */
  active?: { channel: Channel; consumerTag: string };
}

/**
 * One AMQP connection that stays up: it reconnects with backoff when the
 * broker goes away, re-declares the topology and restarts the consumers each
 * time, and never lets a broker error crash the process.
 *
 * Channels: one confirm channel for publishing, one channel per consumer (its
 * prefetch is per channel). Losing any channel is treated as losing the
 * connection: simpler than repairing channels one by one, and rare.
 */
export class RabbitMq implements Part {
  readonly name = 'rabbitmq';
  private connection: ChannelModel | undefined;
  private publisher: ConfirmChannel | undefined;
  private readonly consumers: Consumer[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private reconnecting = false;
  private closed = false;
  private wakeUp: (() => void) | undefined;
  private readonly connectedWaiters = new Set<() => void>();

  constructor(private readonly options: RabbitMqOptions) {}

  /** Starts connecting in the background; the service starts even while the broker is down. */
  start(): void {
    void this.keepConnected();
  }

  /** What /readyz asks. */
  isConnected(): boolean {
    return this.connection !== undefined;
  }

  /** Resolves once connected; rejects after `timeoutMs` (the connection keeps trying). */
  async waitForConnection(timeoutMs: number): Promise<void> {
    if (this.isConnected()) return;
    let resolve!: () => void;
    const connected = new Promise<void>((done) => (resolve = done));
    this.connectedWaiters.add(resolve);
    try {
      await withTimeout(connected, timeoutMs, `RabbitMQ not connected within ${timeoutMs} ms`);
    } finally {
      this.connectedWaiters.delete(resolve);
    }
  }

  /**
   * Publishes an event as a persistent JSON message whose messageId is the
   * eventId, and resolves only when the broker has confirmed it (it is then
   * on disk for durable queues). Rejects with a 503 AppError when the broker
   * is away, nacks it, or does not confirm in time. A confirm that is merely
   * late means the caller may publish twice: consumers must be idempotent.
   */
  async publish(
    exchange: string,
    routingKey: string,
    event: { eventId: string },
    headers: Record<string, unknown> = {},
  ): Promise<void> {
    // A copy: the amqplib instrumentation writes the trace context (traceparent) into the headers it is given.
    await this.send(exchange, routingKey, Buffer.from(JSON.stringify(event)), {
      messageId: event.eventId,
      headers: { ...headers },
    });
  }

  /**
   * Registers a consumer: manual acks, at most `prefetch` unacknowledged
   * messages at once. It starts now if connected, and again after every
   * reconnect.
   */
  consume(queues: ConsumerQueues, handler: Handler, options: { prefetch?: number } = {}): void {
    const consumer: Consumer = { queues, handler, prefetch: options.prefetch ?? 10 };
    this.consumers.push(consumer);
    const connection = this.connection;
    if (connection) {
      this.startConsumer(connection, consumer).catch((error: unknown) => this.restart(connection, error));
    }
  }

  /** The kit's lifecycle: stop() is close() within the time left of the shutdown deadline. */
  stop(timeoutMs: number): Promise<void> {
    return this.close(timeoutMs);
  }

  /**
   * Graceful stop: cancel the consumers (no new deliveries), wait for the
   * handlers in flight to settle their messages, then close the connection.
   * Anything still unacknowledged then goes back to its queue.
   */
  async close(drainTimeoutMs = 10_000): Promise<void> {
    this.closed = true;
    this.wakeUp?.();
    for (const { active } of this.consumers) {
      if (active) await active.channel.cancel(active.consumerTag).catch(() => undefined);
    }
    await withTimeout(Promise.allSettled(this.inFlight), drainTimeoutMs, 'handlers still running').catch(() =>
      this.options.logger.warn({ inFlight: this.inFlight.size }, 'closing RabbitMQ with messages still in flight'),
    );
    const { connection, publisher } = this;
    this.connection = undefined;
    this.publisher = undefined;
    // Channels first: closing the connection right after an ack can lose the
    // ack (RabbitMQ tears the channel down before it reads it, and requeues
    // the message). A channel close is a handshake the broker answers only
    // after everything sent before it on that channel.
    for (const consumer of this.consumers) {
      await consumer.active?.channel.close().catch(() => undefined);
      consumer.active = undefined;
    }
    await publisher?.close().catch(() => undefined);
    await connection?.close().catch(() => undefined);
  }

  /** Connects, retrying with backoff until it works or close() is called. One loop at a time. */
  private async keepConnected(): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    const { initialMs, maxMs } = this.options.reconnectDelay ?? { initialMs: 500, maxMs: 10_000 };
    try {
      for (let attempt = 0; !this.closed; attempt++) {
        try {
          await this.open();
          return;
        } catch (error) {
          // Jitter keeps a fleet of consumers from knocking on a restarted broker in step.
          const delayMs = Math.round(Math.min(maxMs, initialMs * 2 ** attempt) * (0.8 + Math.random() * 0.4));
          this.options.logger.warn(
            { err: error, attempt: attempt + 1, delayMs },
            'RabbitMQ connection failed; retrying',
          );
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, delayMs);
            this.wakeUp = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
      }
    } finally {
      this.reconnecting = false;
    }
  }

  /** One connection attempt: connect, declare, start consumers. Throws if any step fails. */
  private async open(): Promise<void> {
    const url = new URL(this.options.url);
    // RabbitMQ suggests 60 s heartbeats: a broker that vanished without closing
    // the socket would go unnoticed for minutes. 15 s notices it within 30 s.
    if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', '15');
    const connection = await connect(url.toString(), { timeout: this.options.connectTimeoutMs ?? 5_000 });
    // Without an 'error' listener, an EventEmitter error kills the process.
    // 'close' always follows 'error', so recovery lives there.
    connection.on('error', (error: Error) => this.options.logger.warn({ err: error }, 'RabbitMQ connection error'));
    connection.on('close', () => this.lost(connection));
    // A broker short of memory or disk stops reading from publishers; their confirms then time out.
    connection.on('blocked', (reason: string) => this.options.logger.warn({ reason }, 'RabbitMQ blocked publishing'));
    connection.on('unblocked', () => this.options.logger.info('RabbitMQ unblocked publishing'));
    try {
      const publisher = await connection.createConfirmChannel();
      this.watch(publisher, connection);
      for (const queues of this.options.topology ?? []) await declareTopology(publisher, queues);
      // Publishing works from here on: a consumer's first retry may need it.
      this.connection = connection;
      this.publisher = publisher;
      for (const consumer of this.consumers) await this.startConsumer(connection, consumer);
      if (this.closed) throw new Error('closed while connecting');
      if (this.connection !== connection) throw new Error('connection lost while setting up');
    } catch (error) {
      await connection.close().catch(() => undefined);
      throw error;
    }
    this.options.logger.info({ host: url.host }, 'RabbitMQ connected');
    for (const resolve of this.connectedWaiters) resolve();
  }

  private async startConsumer(connection: ChannelModel, consumer: Consumer): Promise<void> {
    const channel = await connection.createChannel();
    this.watch(channel, connection);
    await declareTopology(channel, consumer.queues);
    await channel.prefetch(consumer.prefetch);
    // Retries publish through send(), so they use whichever publisher channel is current at the time.
    const via = { channel, publish: this.send.bind(this), logger: this.options.logger };
    const { consumerTag } = await channel.consume(
      consumer.queues.queue,
      (message) => {
        // null: the broker cancelled us (the queue was deleted). Start over, which re-declares it.
        if (message === null) this.restart(connection, new Error(`consumer of ${consumer.queues.queue} cancelled`));
        else this.track(settleDelivery(message, consumer, via));
      },
      { noAck: false },
    );
    consumer.active = { channel, consumerTag };
  }

  private async send(exchange: string, routingKey: string, content: Buffer, options: Options.Publish): Promise<void> {
    const channel = this.publisher;
    if (!channel) throw dependencyUnavailable('RabbitMQ', new Error('not connected'));
    await publishConfirmed(channel, exchange, routingKey, content, options, this.options.publishTimeoutMs ?? 5_000);
  }

  private track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  private watch(channel: Channel, connection: ChannelModel): void {
    channel.on('error', (error: Error) => this.options.logger.warn({ err: error }, 'RabbitMQ channel error'));
    channel.on('close', () => this.restart(connection, new Error('channel closed')));
  }

  /** Closes `connection` so that its 'close' handler reconnects from scratch. */
  private restart(connection: ChannelModel, reason: unknown): void {
    if (this.closed || this.connection !== connection) return;
    this.options.logger.warn({ err: reason }, 'RabbitMQ channel lost; reconnecting');
    connection.close().catch(() => this.lost(connection));
  }

  private lost(connection: ChannelModel): void {
    if (this.connection !== connection) return;
    this.connection = undefined;
    this.publisher = undefined;
    for (const consumer of this.consumers) consumer.active = undefined;
    if (this.closed) return;
    this.options.logger.warn('RabbitMQ connection lost; reconnecting');
    void this.keepConnected();
  }
}

/** The part of a channel that settles deliveries: an amqplib Channel, or a fake in a test. */
export type SettlingChannel = Pick<Channel, 'ack' | 'nack'>;

/** The part of a confirm channel that publishes: an amqplib ConfirmChannel, or a fake in a test. */
export type ConfirmingChannel = Pick<ConfirmChannel, 'publish'>;

/** The part of a channel that declares exchanges, queues and bindings. */
export type DeclaringChannel = Pick<Channel, 'assertExchange' | 'assertQueue' | 'bindQueue'>;

/** Publishes one message and resolves once the broker has confirmed it. */
export type Publish = (
  exchange: string,
  routingKey: string,
  content: Buffer,
  options: Options.Publish,
) => Promise<void>;

/**
 * Runs the handler, then does what it decided. Never rejects: a message
 * that can not be settled (the channel died meanwhile) is redelivered by the
 * broker, which is why handlers must be idempotent.
 *
 * The amqplib instrumentation calls the consume callback inside the consumer
 * span's context, so everything awaited here (the handler's SQL, the retry
 * publish) becomes a child of that span.
 */
export async function settleDelivery(
  message: ConsumeMessage,
  consumer: { queues: ConsumerQueues; handler: Handler },
  via: { channel: SettlingChannel; publish: Publish; logger: Logger },
): Promise<void> {
  const { channel, logger } = via;
  const attempts = attemptsOf(message);
  let verdict: Verdict;
  try {
    verdict = await consumer.handler({
      content: message.content,
      attempts,
      messageId: message.properties.messageId as string | undefined,
    });
  } catch (error) {
    // Handlers decide; one that throws has a bug, and retrying a bug only repeats it.
    logger.error({ err: error, queue: consumer.queues.queue }, 'message handler threw; dead-lettering the message');
    verdict = { action: 'dead-letter' };
  }
  try {
    if (verdict.action === 'retry') {
      const retried = await via
        .publish('', consumer.queues.retryQueue, message.content, {
          messageId: message.properties.messageId as string | undefined,
          headers: {
            ...withoutDeathHeaders(message.properties.headers),
            [ATTEMPTS_HEADER]: verdict.counted === false ? attempts : attempts + 1,
          },
          // Per-message TTL: when it runs out, the retry queue dead-letters the
          // copy back to the work queue (see declareTopology).
          expiration: String(verdict.delayMs),
        })
        .then(
          () => true,
          (error: unknown) => {
            logger.warn({ err: error }, 'could not schedule a retry; requeueing the message');
            return false;
          },
        );
      if (!retried) {
        channel.nack(message, false, true);
        return;
      }
    }
    if (verdict.action === 'dead-letter') channel.nack(message, false, false);
    else channel.ack(message);
  } catch (error) {
    logger.warn({ err: error }, 'could not settle the message; the broker will redeliver it');
  }
}

/**
 * Publishes a persistent JSON message on a confirm channel and resolves when
 * the broker confirms it. Rejects with a 503 AppError naming RabbitMQ when
 * the broker nacks the message or does not confirm within `timeoutMs`.
 */
export async function publishConfirmed(
  channel: ConfirmingChannel,
  exchange: string,
  routingKey: string,
  content: Buffer,
  options: Options.Publish,
  timeoutMs: number,
): Promise<void> {
  const confirmed = new Promise<void>((resolve, reject) => {
    // The return value (false: the socket buffer is full) does not matter
    // here: waiting for the confirm already paces the publisher.
    channel.publish(
      exchange,
      routingKey,
      content,
      { persistent: true, contentType: 'application/json', ...options },
      (error: unknown) =>
        error ? reject(new Error('RabbitMQ did not take the message', { cause: error })) : resolve(),
    );
  });
  try {
    await withTimeout(confirmed, timeoutMs, `RabbitMQ did not confirm within ${timeoutMs} ms`);
  } catch (error) {
    throw dependencyUnavailable('RabbitMQ', error);
  }
}

/**
 * Declares (idempotently) everything one consumer's queues need:
 *
 *   exchange ──routingKey──▶ queue ──nack, requeue=false──▶ deadLetterExchange ──▶ deadLetterQueue
 *                              ▲
 *   retryQueue ──TTL expired───┘   (dead-lettered through the default exchange, straight
 *                                   back to `queue`, so other subscribers of the event
 *                                   never see the retry)
 *
 * Queue arguments can not change after a queue exists: RabbitMQ refuses a
 * redeclaration that differs (PRECONDITION_FAILED). That is why the retry
 * delay is set per message rather than as the retry queue's x-message-ttl.
 */
export async function declareTopology(channel: DeclaringChannel, queues: ConsumerQueues): Promise<void> {
  await channel.assertExchange(queues.exchange, 'topic', { durable: true });
  await channel.assertExchange(queues.deadLetterExchange, 'direct', { durable: true });
  await channel.assertQueue(queues.queue, {
    durable: true,
    deadLetterExchange: queues.deadLetterExchange,
    deadLetterRoutingKey: queues.deadLetterQueue,
  });
  await channel.bindQueue(queues.queue, queues.exchange, queues.routingKey);
  await channel.assertQueue(queues.retryQueue, {
    durable: true,
    deadLetterExchange: '',
    deadLetterRoutingKey: queues.queue,
  });
  await channel.assertQueue(queues.deadLetterQueue, { durable: true });
  await channel.bindQueue(queues.deadLetterQueue, queues.deadLetterExchange, queues.deadLetterQueue);
}

export function attemptsOf(message: { properties: { headers?: Record<string, unknown> } }): number {
  const value = message.properties.headers?.[ATTEMPTS_HEADER];
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : 0;
}

/** The broker writes x-death when it dead-letters; a republished copy starts without it. */
function withoutDeathHeaders(headers: Record<string, unknown> | undefined): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(headers ?? {}).filter(([name]) => !/^x-(death|first-death-|last-death-)/.test(name)),
  );
}
