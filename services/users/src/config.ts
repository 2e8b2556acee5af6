import { z } from 'zod';
import { env, httpServerConfig, loadServiceConfig, storageConfig } from '@glassbox/service-kit';

const usersConfig = z.object({
  ...httpServerConfig,
  ...storageConfig,
  PORT: env.port(8081),
  /** /healthz, /readyz, /metrics and /admin/faults: never published, scraped by Prometheus. */
  MANAGEMENT_PORT: env.port(9081),
});

export type UsersConfig = ReturnType<typeof readConfig>;

export function readConfig(environment: NodeJS.ProcessEnv = process.env) {
  return loadServiceConfig(usersConfig, environment);
}
