/**
 * The orders service's process. Wiring only, in the order every glassbox
 * service's main.ts reads: its dependencies, its parts, createService.
 * Started as `node --require @glassbox/telemetry/register dist/src/main.js`.
 */
import { createProductsClient, type ProductsClient } from '@glassbox/products/client';
import type { Logger } from '@glassbox/telemetry';
import {
  createApp,
  createService,
  FaultSwitches,
  httpListener,
  managementListener,
  NOTIFICATIONS_ORDER_CREATED,
  openStore,
  RabbitMq,
  runService,
  type Service,
  type Store,
} from '@glassbox/service-kit';
import { ordersRoutes } from './app';
import { readConfig, type OrdersConfig } from './config';
import { createOrdersMetrics } from './metrics';
import { ORDERS_FAULTS, OrderDesk, type OrderRepository } from './orders';
import { captureTraceContext, OutboxRelay, type EventPublisher } from './outbox';
import { InMemoryOrderRepository, PostgresOrderRepository } from './repository';
import { UsersClient } from './users-client';

/** What the service needs from outside; a test may pass any of them in `overrides`. */
export interface OrdersDependencies {
  store: Store<OrderRepository>;
  publisher: EventPublisher;
  products: ProductsClient;
}

export async function buildOrdersService(
  config: OrdersConfig,
  logger: Logger,
  overrides: Partial<OrdersDependencies> = {},
): Promise<Service> {
  const store =
    overrides.store ??
    (await openStore<OrderRepository>(config.postgres, logger, {
      memory: () => new InMemoryOrderRepository(),
      postgres: (pool) => new PostgresOrderRepository(pool),
    }));
  // The notifications queue is declared by the publisher too: an event
  // published before notifications ever started is kept, not dropped.
  const publisher =
    overrides.publisher ?? new RabbitMq({ url: config.AMQP_URL, logger, topology: [NOTIFICATIONS_ORDER_CREATED] });
  const products =
    overrides.products ??
    createProductsClient(config.PRODUCTS_GRPC_ADDRESS, { deadlineMs: config.UPSTREAM_TIMEOUT_MS });

  const relay = new OutboxRelay(store.repository, publisher, logger, {
    pollMs: config.OUTBOX_POLL_MS,
    retentionHours: config.OUTBOX_RETENTION_HOURS,
  });
  const metrics = createOrdersMetrics(store.repository);
  const faults = new FaultSwitches(ORDERS_FAULTS, logger);
  const users = new UsersClient(config.USERS_URL, config.UPSTREAM_TIMEOUT_MS);
  const desk = new OrderDesk({
    repository: store.repository,
    users,
    products,
    captureTrace: captureTraceContext,
    metrics,
    logger,
    faults,
    config,
  });
  const app = createApp({
    logger,
    metrics,
    routes: ordersRoutes(desk, {
      placed() {
        metrics.ordersPlaced.inc();
        relay.nudge();
      },
      replayed: () => metrics.idempotentReplays.inc(),
    }),
  });

  // RabbitMQ is not asked: orders are accepted while it is away (the outbox keeps them).
  const readiness = [{ name: config.STORAGE, check: () => store.repository.ping() }];

  return createService({
    logger,
    config,
    // The broker connection first, then the relay that publishes over it; stopped the other way round.
    workers: [publisher, relay],
    listeners: [
      httpListener({ app, logger, config }),
      managementListener({ logger, config, metrics, faults, readiness }),
    ],
    closers: [() => products.close(), store.close],
  });
}

if (require.main === module) runService('orders', readConfig, buildOrdersService);
