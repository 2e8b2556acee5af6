/**
 * The notifications service's process. Wiring only, in the order every
 * glassbox service's main.ts reads: its dependencies, its parts,
 * createService. Its input is a queue, not a route: the RabbitMQ consumer is
 * a worker, and the HTTP listener serves only health and metrics.
 * Started as `node --require @glassbox/telemetry/register dist/src/main.js`.
 */
import Router from '@koa/router';
import { createHttpMetrics, type Logger } from '@glassbox/telemetry';
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
  type ConsumerQueues,
  type Service,
  type Store,
} from '@glassbox/service-kit';
import { readConfig, type NotificationsConfig } from './config';
import { QueueDepth } from './dead-letters';
import { createNotificationMetrics } from './metrics';
import { NOTIFICATIONS_FAULTS, NotificationRecorder, type NotificationRepository } from './notifications';
import { InMemoryNotificationRepository, PostgresNotificationRepository } from './repository';

/** What the service needs from outside; a test may pass any of them in `overrides`. */
export interface NotificationsDependencies {
  store: Store<NotificationRepository>;
  /** Where it reads order.created from; tests use queues of their own, to keep runs apart. */
  queues: ConsumerQueues;
}

export async function buildNotificationsService(
  config: NotificationsConfig,
  logger: Logger,
  overrides: Partial<NotificationsDependencies> = {},
): Promise<Service> {
  const store =
    overrides.store ??
    (await openStore<NotificationRepository>(config.postgres, logger, {
      memory: () => new InMemoryNotificationRepository(),
      postgres: (pool) => new PostgresNotificationRepository(pool),
    }));
  const queues = overrides.queues ?? NOTIFICATIONS_ORDER_CREATED;

  const metrics = createHttpMetrics();
  const deadLetters = new QueueDepth(config.AMQP_URL, queues.deadLetterQueue);
  const faults = new FaultSwitches(NOTIFICATIONS_FAULTS, logger);
  const recorder = new NotificationRecorder(
    store.repository,
    { maxAttempts: config.RETRY_MAX_ATTEMPTS, delayMs: config.RETRY_DELAY_MS },
    createNotificationMetrics(metrics.registry, deadLetters),
    logger,
    faults,
  );
  // The broker may be down at start: the connection keeps trying, /readyz says 503 meanwhile.
  const consumer = new RabbitMq({ url: config.AMQP_URL, logger });
  consumer.consume(queues, (delivery) => recorder.handle(delivery), { prefetch: config.CONSUMER_PREFETCH });
  // No routes of its own: its input is the queue. Its public port answers only /healthz.
  const app = createApp({ logger, metrics, routes: new Router() });

  const readiness = [
    { name: config.STORAGE, check: () => store.repository.ping() },
    {
      name: 'rabbitmq',
      check: () => (consumer.isConnected() ? Promise.resolve() : Promise.reject(notConnected())),
    },
  ];

  return createService({
    logger,
    config,
    // Stopping the consumer lets the handlers in flight finish; they need the pool, closed after.
    workers: [consumer],
    listeners: [
      httpListener({ app, logger, config }),
      managementListener({ logger, config, metrics, faults, readiness }),
    ],
    closers: [store.close, () => deadLetters.close()],
  });
}

const notConnected = () => new Error('not connected');

if (require.main === module) runService('notifications', readConfig, buildNotificationsService);
