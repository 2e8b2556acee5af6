import { z } from 'zod';
import { env, httpServerConfig, loadConfig, postgresConfig, rabbitMqConfig } from '@glassbox/service-kit';

const ordersConfig = z.object({
  ...httpServerConfig,
  ...rabbitMqConfig,
  PORT: env.port(8083),
  STORAGE: z.enum(['postgres', 'memory']).default('postgres'),
  // The services orders calls, addressed by their compose DNS names.
  USERS_URL: env.url('http://users:8081'),
  PRODUCTS_GRPC_ADDRESS: env.text('products:50051'),
  /** The longest orders waits for users or products before answering 503/504. */
  UPSTREAM_TIMEOUT_MS: env.positiveInt(2_000),
  /** How often the outbox relay looks for events still to publish. */
  OUTBOX_POLL_MS: env.positiveInt(500),
});

export type OrdersConfig = z.output<typeof ordersConfig> & {
  postgres?: z.output<z.ZodObject<typeof postgresConfig>>;
};

export function readConfig(environment: NodeJS.ProcessEnv = process.env): OrdersConfig {
  const config: OrdersConfig = loadConfig(ordersConfig, environment);
  if (config.STORAGE === 'postgres') config.postgres = loadConfig(z.object(postgresConfig), environment);
  return config;
}
