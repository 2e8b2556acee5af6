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
  /**
   * Open connections the public port accepts at once; beyond it, a new one is
   * closed as soon as it is accepted. Each connection holds a socket and
   * parser memory however little it sends, so without a cap a caller that
   * opens thousands of idle ones exhausts the gateway for everyone.
   */
  GATEWAY_MAX_CONNECTIONS: env.positiveInt(1_000),
  /** Where the storefront page's "open this trace" links point: Jaeger's UI as the visitor's browser reaches it. */
  JAEGER_UI_URL: env.url('http://127.0.0.1:16686'),
  /** The collector's OTLP/HTTP traces endpoint, where the gateway relays the page's spans. */
  BROWSER_OTLP_TRACES_URL: env.url('http://otel-collector:4318/v1/traces'),
  /** Span exports the gateway relays per caller: on average per second, and in a burst. */
  BROWSER_OTLP_RATE_PER_SECOND: env.positiveInt(5),
  BROWSER_OTLP_BURST: env.positiveInt(20),
});

export type GatewayConfig = z.output<typeof gatewayConfig>;

export function readConfig(environment: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return loadConfig(gatewayConfig, environment);
}
