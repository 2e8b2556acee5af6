/**
 * A database and a RabbitMQ virtual host of a suite's own, on the servers of
 * scripts/deps.sh. Suites that count rows or messages need them: other
 * suites (and a native stack with its load generator) place orders and
 * publish order.created on the same servers at the same time, and a
 * notifications consumer of one run would take another run's events off a
 * shared queue.
 */
import pg from 'pg';
import { localDependencies } from '@glassbox/service-kit/testing';
import { port } from './ports';

export interface Isolated {
  /** DB_NAME and AMQP_URL, to lay over the environment of scripts/deps.sh (startSystem's overrides). */
  env: Record<string, string>;
  drop(): Promise<void>;
}

export async function isolatedDependencies(purpose: string): Promise<Isolated> {
  const { amqpUrl } = localDependencies();
  const name = `glassbox_${purpose}_${process.pid}_${Date.now()}`;
  await asAdmin(`CREATE DATABASE ${name}`);
  const amqp = new URL(amqpUrl);
  await rabbitMqManagement('PUT', `/vhosts/${name}`);
  await rabbitMqManagement('PUT', `/permissions/${name}/${encodeURIComponent(decodeURIComponent(amqp.username))}`, {
    configure: '.*',
    write: '.*',
    read: '.*',
  });
  amqp.pathname = `/${name}`;
  return {
    env: { DB_NAME: name, AMQP_URL: amqp.toString() },
    async drop() {
      await rabbitMqManagement('DELETE', `/vhosts/${name}`);
      await asAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

async function asAdmin(statement: string): Promise<void> {
  const { postgres } = localDependencies();
  const client = new pg.Client({
    host: postgres.DB_HOST,
    port: Number(postgres.DB_PORT),
    user: postgres.DB_USER,
    password: postgres.DB_PASSWORD,
    database: postgres.DB_NAME,
    connectionTimeoutMillis: 5_000,
  });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** RabbitMQ's management API (deploy/ports.env), with the credentials of AMQP_URL. */
async function rabbitMqManagement(method: string, path: string, body?: unknown): Promise<void> {
  const amqp = new URL(localDependencies().amqpUrl);
  const credentials = `${decodeURIComponent(amqp.username)}:${decodeURIComponent(amqp.password)}`;
  const response = await fetch(`http://${amqp.hostname}:${port('RABBITMQ_MANAGEMENT_PORT')}/api${path}`, {
    method,
    headers: {
      authorization: `Basic ${Buffer.from(credentials).toString('base64')}`,
      'content-type': 'application/json',
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) {
    throw new Error(`RabbitMQ management ${method} ${path}: ${response.status} ${await response.text()}`);
  }
}
