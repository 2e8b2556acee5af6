import { z } from 'zod';
import { env, httpServerConfig, loadServiceConfig, storageConfig } from '@glassbox/service-kit';

const productsConfig = z.object({
  ...httpServerConfig,
  ...storageConfig,
  PORT: env.port(8082),
  /** /healthz, /readyz, /metrics and /admin/faults: never published, scraped by Prometheus. */
  MANAGEMENT_PORT: env.port(9082),
  /** ProductService, for orders. HOST applies to both listeners. */
  GRPC_PORT: env.port(50051),
});

export type ProductsConfig = ReturnType<typeof readConfig>;

export function readConfig(environment: NodeJS.ProcessEnv = process.env) {
  return loadServiceConfig(productsConfig, environment);
}
