/**
 * The whole of glassbox in one process, every service on a free port, over
 * the real PostgreSQL and RabbitMQ of scripts/deps.sh: what the cross-service
 * tests start. One process means one in-memory span exporter sees every span
 * of every service, so a test can assert the shape of a whole trace.
 */
import pg from 'pg';
import { buildGatewayService } from '@glassbox/gateway';
import { readConfig as gatewayConfig } from '@glassbox/gateway/config';
import { buildNotificationsService } from '@glassbox/notifications';
import { readConfig as notificationsConfig } from '@glassbox/notifications/config';
import { buildOrdersService } from '@glassbox/orders';
import { readConfig as ordersConfig } from '@glassbox/orders/config';
import { buildProductsService } from '@glassbox/products';
import { readConfig as productsConfig } from '@glassbox/products/config';
import { buildUsersService } from '@glassbox/users';
import { readConfig as usersConfig } from '@glassbox/users/config';
import { captureLogs, startOnFreePort, type Running } from '@glassbox/service-kit/testing';

export interface System {
  gateway: Running;
  users: Running;
  orders: Running;
  products: Running;
  notifications: Running;
  /** A plain pool on the same database, for the tests' own checks. */
  db: pg.Pool;
  stop(): Promise<void>;
}

export const TABLES = [
  'notifications',
  'outbox',
  'idempotency_keys',
  'order_items',
  'orders',
  'stock_reservations',
  'products',
  'users',
];

export async function startSystem(overrides: Record<string, string> = {}): Promise<System> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    STORAGE: 'postgres',
    OUTBOX_POLL_MS: '100',
    RETRY_DELAY_MS: '200',
    ...overrides,
  };
  const { logger } = captureLogs('system');
  const users = await startOnFreePort(await buildUsersService(usersConfig(env), logger));
  const productsService = await buildProductsService(productsConfig(env), logger);
  const products = await startOnFreePort(productsService);
  const orders = await startOnFreePort(
    await buildOrdersService(
      ordersConfig({
        ...env,
        USERS_URL: users.url,
        PRODUCTS_GRPC_ADDRESS: `127.0.0.1:${productsService.ports().grpc}`,
      }),
      logger,
    ),
  );
  const notifications = await startOnFreePort(await buildNotificationsService(notificationsConfig(env), logger));
  const gateway = await startOnFreePort(
    await buildGatewayService(
      gatewayConfig({
        ...env,
        USERS_URL: users.url,
        PRODUCTS_URL: products.url,
        ORDERS_URL: orders.url,
        UPSTREAM_TIMEOUT_MS: '3000',
      }),
      logger,
    ),
  );
  const db = new pg.Pool({
    host: env.DB_HOST,
    port: Number(env.DB_PORT),
    user: env.DB_USER,
    password: env.DB_PASSWORD,
    database: env.DB_NAME,
    max: 2,
  });
  db.on('error', () => undefined); // the outage tests stop PostgreSQL under it
  return {
    gateway,
    users,
    orders,
    products,
    notifications,
    db,
    async stop() {
      for (const service of [gateway, orders, notifications, products, users]) await service.stop();
      await db.end();
    },
  };
}

/** Empties every glassbox table, so each test starts from nothing. */
export async function resetDatabase(db: pg.Pool): Promise<void> {
  await db.query(`TRUNCATE ${TABLES.join(', ')} RESTART IDENTITY CASCADE`);
}

/** Polls `check` until it returns something truthy; fails with `what` after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T>,
  what: string,
  timeoutMs = 20_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`,
  );
}
