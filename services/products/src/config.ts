import { z } from 'zod';
import { env, httpServerConfig, loadConfig, postgresConfig } from '@glassbox/service-kit';

const productsConfig = z.object({
  ...httpServerConfig,
  PORT: env.port(8082),
  /** ProductService, for orders. HOST applies to both listeners. */
  GRPC_PORT: env.port(50051),
  /** `memory` runs without a database: for a first look, and for fast tests. */
  STORAGE: z.enum(['postgres', 'memory']).default('postgres'),
});

export type ProductsConfig = z.output<typeof productsConfig> & {
  postgres?: z.output<z.ZodObject<typeof postgresConfig>>;
};

export function readConfig(environment: NodeJS.ProcessEnv = process.env): ProductsConfig {
  const config: ProductsConfig = loadConfig(productsConfig, environment);
  if (config.STORAGE === 'postgres') config.postgres = loadConfig(z.object(postgresConfig), environment);
  return config;
}
