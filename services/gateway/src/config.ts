import { z } from 'zod';
import { env, httpServerConfig, loadConfig } from '@glassbox/service-kit';

const gatewayConfig = z.object({
  ...httpServerConfig,
  PORT: env.port(8080),
  /** /healthz, /readyz, /metrics and /admin/faults: never published, scraped by Prometheus. */
  MANAGEMENT_PORT: env.port(9080),
  // Where the services live. The defaults are the compose stack's DNS names.
  USERS_URL: env.url('http://users:8081'),
  PRODUCTS_URL: env.url('http://products:8082'),
  ORDERS_URL: env.url('http://orders:8083'),
  /** How long the gateway waits for a service before answering 504. */
  UPSTREAM_TIMEOUT_MS: env.positiveInt(5_000),
});

export type GatewayConfig = z.output<typeof gatewayConfig>;

export function readConfig(environment: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return loadConfig(gatewayConfig, environment);
}
