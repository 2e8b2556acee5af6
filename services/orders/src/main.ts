/**
 * The orders service's process. Wiring only.
 * Started as `node --require @glassbox/telemetry/register dist/src/main.js`.
 */
import { createProductsClient, type ProductsClient } from '@glassbox/products/client';
import { createLogger, type Logger } from '@glassbox/telemetry';
import {
  createApp,
  createHttpService,
  FaultSwitches,
  NOTIFICATIONS_ORDER_CREATED,
  openStore,
  RabbitMq,
  runService,
  type Service,
} from '@glassbox/service-kit';
import { ordersRoutes } from './app';
import { readConfig, type OrdersConfig } from './config';
import { createOrdersMetrics } from './metrics';
import { ORDERS_FAULTS, OrderDesk } from './orders';
import { captureTraceContext, OutboxRelay, type EventPublisher } from './outbox';
import { InMemoryOrderRepository, PostgresOrderRepository, type OrderRepository } from './repository';
import { UsersClient } from './users-client';

/** What a test may replace: the store, the broker, the products client. */
export interface OrdersDependencies {
  repository: OrderRepository;
  publisher: EventPublisher;
  products: ProductsClient;
  close: () => Promise<void>;
}

async function openDependencies(config: OrdersConfig, logger: Logger): Promise<OrdersDependencies> {
  const store = await openStore<OrderRepository>(config.postgres, logger, {
    memory: () => new InMemoryOrderRepository(),
    postgres: (pool) => new PostgresOrderRepository(pool),
  });
  // The notifications queue is declared by the publisher too: an event
  // published before notifications ever started is kept, not dropped.
  const rabbit = new RabbitMq({ url: config.AMQP_URL, logger, topology: [NOTIFICATIONS_ORDER_CREATED] });
  rabbit.start();
  const products = createProductsClient(config.PRODUCTS_GRPC_ADDRESS, { deadlineMs: config.UPSTREAM_TIMEOUT_MS });
  return {
    repository: store.repository,
    publisher: rabbit,
    products,
    // The relay has stopped by now: the broker first, then the store it read from.
    close: async () => {
      await rabbit.close();
      products.close();
      await store.close();
    },
  };
}

export async function buildOrdersService(
  config: OrdersConfig,
  logger: Logger,
  dependencies?: OrdersDependencies,
): Promise<Service> {
  const { repository, publisher, products, close } = dependencies ?? (await openDependencies(config, logger));
  const relay = new OutboxRelay(repository, publisher, logger, { pollMs: config.OUTBOX_POLL_MS });
  const metrics = createOrdersMetrics(repository);
  const faults = new FaultSwitches(ORDERS_FAULTS, logger);
  const users = new UsersClient(config.USERS_URL, config.UPSTREAM_TIMEOUT_MS);
  const desk = new OrderDesk(repository, users, products, captureTraceContext, faults);
  const app = createApp({
    logger,
    metrics,
    routes: ordersRoutes(desk, () => {
      metrics.ordersPlaced.inc();
      relay.nudge();
    }),
    faults,
    adminToken: config.ADMIN_TOKEN,
    // RabbitMQ is not asked: orders are accepted while it is away (the outbox keeps them).
    readiness: [{ name: config.STORAGE, check: () => repository.ping() }],
  });
  const http = createHttpService({
    app,
    logger,
    config,
    closers: [() => relay.stop(), close],
  });
  return {
    async start(port) {
      const taken = await http.start(port);
      relay.start();
      return taken;
    },
    stop: () => http.stop(),
  };
}

if (require.main === module) {
  runService('orders', async () => {
    const config = readConfig();
    const logger = createLogger({ name: 'orders' });
    return { service: await buildOrdersService(config, logger), logger };
  });
}
