import { z } from 'zod';
import { env, httpServerConfig, loadConfig, postgresConfig } from '@glassbox/service-kit';

const usersConfig = z.object({
  ...httpServerConfig,
  PORT: env.port(8081),
  /** `memory` runs without a database: for a first look, and for fast tests. */
  STORAGE: z.enum(['postgres', 'memory']).default('postgres'),
});

export type UsersConfig = z.output<typeof usersConfig> & {
  postgres?: z.output<z.ZodObject<typeof postgresConfig>>;
};

export function readConfig(environment: NodeJS.ProcessEnv = process.env): UsersConfig {
  const config: UsersConfig = loadConfig(usersConfig, environment);
  if (config.STORAGE === 'postgres') config.postgres = loadConfig(z.object(postgresConfig), environment);
  return config;
}
