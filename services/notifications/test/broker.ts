/**
 * What the integration tests share: where the local RabbitMQ and PostgreSQL
 * are (scripts/deps.sh starts them), queue names no other run uses, a raw
 * AMQP channel for looking at queues, and bounded waiting.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { connect, type Channel, type ChannelModel, type GetMessage } from 'amqplib';
import type { ConsumerQueues } from '@glassbox/service-kit';

export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://glassbox:glassbox@127.0.0.1:55672';

export const postgresEnv = {
  DB_HOST: process.env.DB_HOST ?? '127.0.0.1',
  DB_PORT: process.env.DB_PORT ?? '55432',
  DB_USER: process.env.DB_USER ?? 'glassbox',
  DB_PASSWORD: process.env.DB_PASSWORD ?? 'glassbox',
  DB_NAME: process.env.DB_NAME ?? 'glassbox',
};

/** The same shape as notifications' real subscription, under names only this test uses. */
export function uniqueQueues(): ConsumerQueues {
  const id = randomUUID().slice(0, 8);
  return {
    exchange: `test.events.${id}`,
    routingKey: 'order.created',
    queue: `test.notifications.${id}`,
    retryQueue: `test.notifications.${id}.retry`,
    deadLetterExchange: `test.dead-letter.${id}`,
    deadLetterQueue: `test.notifications.${id}.dead`,
  };
}

/** A plain amqplib connection, outside the code under test, to look at and clean up queues. */
export class Broker {
  private constructor(
    private readonly connection: ChannelModel,
    readonly channel: Channel,
  ) {}

  static async open(): Promise<Broker> {
    const connection = await connect(AMQP_URL, { timeout: 5_000 });
    connection.on('error', () => undefined);
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    return new Broker(connection, channel);
  }

  /** Publishes bytes as they are, bypassing the kit: how a poison message gets in. */
  publishRaw(queues: ConsumerQueues, content: Buffer): void {
    this.channel.publish(queues.exchange, queues.routingKey, content, { persistent: true });
  }

  async messageCount(queue: string): Promise<number> {
    return (await this.channel.checkQueue(queue)).messageCount;
  }

  /** Takes the next message off `queue`, waiting up to `timeoutMs` for one to arrive. */
  async take(queue: string, timeoutMs = 10_000): Promise<GetMessage> {
    return eventually(
      `a message in ${queue}`,
      async () => (await this.channel.get(queue, { noAck: true })) || undefined,
      timeoutMs,
    );
  }

  async remove(queues: ConsumerQueues): Promise<void> {
    for (const queue of [queues.queue, queues.retryQueue, queues.deadLetterQueue])
      await this.channel.deleteQueue(queue);
    await this.channel.deleteExchange(queues.exchange);
    await this.channel.deleteExchange(queues.deadLetterExchange);
  }

  close(): Promise<void> {
    return this.connection.close().catch(() => undefined);
  }
}

/** Polls `probe` until it returns something, every 50 ms, for at most `timeoutMs`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: Error | undefined;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error as Error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no ${what} within ${timeoutMs} ms${lastError ? ` (last error: ${lastError.message})` : ''}`);
}

/** Stops or starts one of the local dependencies (scripts/deps.sh). */
export function deps(command: 'stop' | 'start', which: 'postgres' | 'rabbitmq'): void {
  const script = join(__dirname, '..', '..', '..', '..', 'scripts', 'deps.sh');
  execFileSync('sh', [script, command, which], { stdio: 'ignore', timeout: 90_000 });
}
