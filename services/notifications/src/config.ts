import { z } from 'zod';
import { env, httpServerConfig, loadConfig, postgresConfig, rabbitMqConfig } from '@glassbox/service-kit';

const notificationsConfig = z.object({
  ...httpServerConfig,
  ...rabbitMqConfig,
  PORT: env.port(8084),
  /** `memory` runs without a database: for a first look, and for fast tests. */
  STORAGE: z.enum(['postgres', 'memory']).default('postgres'),
  /** Messages handled at once: the consumer channel's prefetch. */
  CONSUMER_PREFETCH: env.positiveInt(10),
  /** Processing attempts per message (the first included) before it is dead-lettered. */
  RETRY_MAX_ATTEMPTS: env.positiveInt(5),
  /** How long a message whose processing failed waits in the retry queue before the next attempt. */
  RETRY_DELAY_MS: env.positiveInt(5_000),
});

export type NotificationsConfig = z.output<typeof notificationsConfig> & {
  postgres?: z.output<z.ZodObject<typeof postgresConfig>>;
};

export function readConfig(environment: NodeJS.ProcessEnv = process.env): NotificationsConfig {
  const config: NotificationsConfig = loadConfig(notificationsConfig, environment);
  if (config.STORAGE === 'postgres') config.postgres = loadConfig(z.object(postgresConfig), environment);
  return config;
}
