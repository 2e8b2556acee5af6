/**
 * The notifications service's process: read config, build the repository,
 * the logic and the consumer, start. Wiring only; every decision lives in the
 * files it names. Started as `node --require @glassbox/telemetry/register dist/src/main.js`.
 */
import Router from '@koa/router';
import { createHttpMetrics, createLogger, type Logger } from '@glassbox/telemetry';
import {
  type ConsumerQueues,
  createApp,
  createHttpService,
  FaultSwitches,
  NOTIFICATIONS_ORDER_CREATED,
  openStore,
  RabbitMq,
  runService,
  type Service,
  type Store,
} from '@glassbox/service-kit';
import { readConfig, type NotificationsConfig } from './config';
import { createNotificationMetrics } from './metrics';
import { NOTIFICATIONS_FAULTS, NotificationRecorder } from './notifications';
import {
  InMemoryNotificationRepository,
  PostgresNotificationRepository,
  type NotificationRepository,
} from './repository';

/** Tests replace the store (to stage failures) and the queues (to keep runs apart). */
export interface NotificationsOverrides {
  store?: Store<NotificationRepository>;
  queues?: ConsumerQueues;
}

export async function buildNotificationsService(
  config: NotificationsConfig,
  logger: Logger,
  overrides: NotificationsOverrides = {},
): Promise<Service> {
  const { repository, close } =
    overrides.store ??
    (await openStore<NotificationRepository>(config.postgres, logger, {
      memory: () => new InMemoryNotificationRepository(),
      postgres: (pool) => new PostgresNotificationRepository(pool),
    }));
  const metrics = createHttpMetrics();
  const faults = new FaultSwitches(NOTIFICATIONS_FAULTS, logger);
  const recorder = new NotificationRecorder(
    repository,
    { maxAttempts: config.RETRY_MAX_ATTEMPTS, delayMs: config.RETRY_DELAY_MS },
    createNotificationMetrics(metrics.registry),
    logger,
    faults,
  );
  const rabbit = new RabbitMq({ url: config.AMQP_URL, logger });
  rabbit.consume(overrides.queues ?? NOTIFICATIONS_ORDER_CREATED, (delivery) => recorder.handle(delivery), {
    prefetch: config.CONSUMER_PREFETCH,
  });
  const app = createApp({
    logger,
    // No routes of its own: its input is the queue. The kit adds /healthz, /readyz and /metrics.
    routes: new Router(),
    faults,
    adminToken: config.ADMIN_TOKEN,
    readiness: [
      { name: config.STORAGE, check: () => repository.ping() },
      { name: 'rabbitmq', check: () => (rabbit.isConnected() ? Promise.resolve() : Promise.reject(notConnected())) },
    ],
    metrics,
  });
  const http = createHttpService({
    app,
    logger,
    config,
    // In this order: stop consuming and let handlers finish (they need the pool), then the pool.
    closers: [() => rabbit.close(config.SHUTDOWN_TIMEOUT_MS), close],
  });
  return {
    start(port) {
      // The broker may be down at start: the connection keeps trying, /readyz says 503 meanwhile.
      rabbit.start();
      return http.start(port);
    },
    stop: () => http.stop(),
  };
}

const notConnected = () => new Error('not connected');

if (require.main === module) {
  runService('notifications', async () => {
    const config = readConfig();
    const logger = createLogger({ name: 'notifications' });
    return { service: await buildNotificationsService(config, logger), logger };
  });
}
