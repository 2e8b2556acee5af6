import { z } from 'zod';
import { env, httpServerConfig, loadServiceConfig, rabbitMqConfig, storageConfig } from '@glassbox/service-kit';

/** A duration in hours, fractions allowed (0.5 is half an hour), up to a year. */
const hours = (fallback: number) =>
  z.coerce
    .number()
    .positive()
    .max(24 * 366)
    .default(fallback);

const ordersConfig = z.object({
  ...httpServerConfig,
  ...storageConfig,
  ...rabbitMqConfig,
  PORT: env.port(8083),
  /** /healthz, /readyz, /metrics and /admin/faults: never published, scraped by Prometheus. */
  MANAGEMENT_PORT: env.port(9083),
  // The services orders calls, addressed by their compose DNS names.
  USERS_URL: env.url('http://users:8081'),
  PRODUCTS_GRPC_ADDRESS: env.text('products:50051'),
  /** The longest orders waits for users or products before answering 503/504. */
  UPSTREAM_TIMEOUT_MS: env.positiveInt(2_000),
  /** How often the outbox relay looks for events still to publish. */
  OUTBOX_POLL_MS: env.positiveInt(500),
  /** How long a published event stays in the outbox table (for looking into) before the relay purges it. */
  OUTBOX_RETENTION_HOURS: hours(24),
  /** How long an Idempotency-Key answers with its order; a retry later than this places a new one. */
  IDEMPOTENCY_TTL_HOURS: hours(24),
});

export type OrdersConfig = ReturnType<typeof readConfig>;

export function readConfig(environment: NodeJS.ProcessEnv = process.env) {
  return loadServiceConfig(ordersConfig, environment);
}
