/**
 * The local RabbitMQ and PostgreSQL (scripts/deps.sh starts them) as the
 * integration tests use them: queue names and a database no other suite
 * touches, a raw AMQP channel for looking at queues, stopping and starting
 * either dependency, and bounded waiting. Where they are comes from
 * `sh scripts/deps.sh run` (see localDependencies).
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { connect, type Channel, type ChannelModel, type GetMessage } from 'amqplib';
import pg from 'pg';
import type { ConsumerQueues } from '@glassbox/service-kit';
import { localDependencies } from '@glassbox/service-kit/testing';

const { postgres: server, amqpUrl } = localDependencies();
export const AMQP_URL = amqpUrl;

export interface ScratchDatabase {
  /** The DB_* variables that point the service at it. */
  env: Record<string, string>;
  /** A plain pool on it, for the tests' own checks. */
  pool: pg.Pool;
  drop(): Promise<void>;
}

/**
 * A database of its own for one test run: the cross-service suites count
 * every row of the shared `notifications` table, and ours must not show up there.
 */
export async function createScratchDatabase(): Promise<ScratchDatabase> {
  const name = `glassbox_notifications_${process.pid}_${Date.now()}`;
  await asAdmin(`CREATE DATABASE ${name}`);
  const env = { ...server, DB_NAME: name };
  const pool = new pg.Pool({ ...connection(env), connectionTimeoutMillis: 2_000 });
  // Its idle clients die when a test stops PostgreSQL; without a listener that would crash mocha.
  pool.on('error', () => undefined);
  return {
    env,
    pool,
    async drop() {
      await pool.end();
      await asAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

const connection = (env: typeof server) => ({
  host: env.DB_HOST,
  port: Number(env.DB_PORT),
  user: env.DB_USER,
  password: env.DB_PASSWORD,
  database: env.DB_NAME,
});

async function asAdmin(statement: string): Promise<void> {
  const client = new pg.Client({ ...connection(server), connectionTimeoutMillis: 5_000, query_timeout: 10_000 });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

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
