import { z } from 'zod';
import { env, httpServerConfig, loadServiceConfig, rabbitMqConfig, storageConfig } from '@glassbox/service-kit';

const notificationsConfig = z.object({
  ...httpServerConfig,
  ...storageConfig,
  ...rabbitMqConfig,
  PORT: env.port(8084),
  /** /healthz, /readyz, /metrics and /admin/faults: never published, scraped by Prometheus. */
  MANAGEMENT_PORT: env.port(9084),
  /** Messages handled at once: the consumer channel's prefetch. */
  CONSUMER_PREFETCH: env.positiveInt(10),
  /** Processing attempts per message (the first included) before it is dead-lettered. */
  RETRY_MAX_ATTEMPTS: env.positiveInt(5),
  /** How long a message whose processing failed waits in the retry queue before the next attempt. */
  RETRY_DELAY_MS: env.positiveInt(5_000),
});

export type NotificationsConfig = ReturnType<typeof readConfig>;

export function readConfig(environment: NodeJS.ProcessEnv = process.env) {
  return loadServiceConfig(notificationsConfig, environment);
}
