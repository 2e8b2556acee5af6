/**
 * The gateway's process: the public entry of glassbox. Wiring only, in the
 * order every glassbox service's main.ts reads: its dependencies (here, the
 * services behind it), its parts, createService.
 * Started as `node --require @glassbox/telemetry/register dist/src/main.js`.
 */
import { createHttpMetrics, type Logger } from '@glassbox/telemetry';
import {
  createApp,
  createService,
  httpListener,
  managementListener,
  runService,
  type Service,
} from '@glassbox/service-kit';
import { gatewayRoutes } from './app';
import { readConfig, type GatewayConfig } from './config';
import { RateLimiter } from './rate-limit';
import { storefrontRoutes } from './storefront';
import { Upstream } from './upstream';

/** The gateway opens nothing that a test would replace: its dependencies are URLs in its config. */
export function buildGatewayService(config: GatewayConfig, logger: Logger): Promise<Service> {
  const timeout = config.UPSTREAM_TIMEOUT_MS;
  const upstreams = {
    users: new Upstream('users', config.USERS_URL, timeout),
    products: new Upstream('products', config.PRODUCTS_URL, timeout),
    orders: new Upstream('orders', config.ORDERS_URL, timeout),
  };

  const metrics = createHttpMetrics();
  const storefront = storefrontRoutes({
    logger,
    jaegerUiUrl: config.JAEGER_UI_URL,
    collectorTracesUrl: config.BROWSER_OTLP_TRACES_URL,
    timeoutMs: config.UPSTREAM_TIMEOUT_MS,
    limiter: new RateLimiter(config.BROWSER_OTLP_RATE_PER_SECOND, config.BROWSER_OTLP_BURST),
  });
  const app = createApp({ logger, metrics, routes: [storefront, gatewayRoutes(upstreams)] });

  const readiness = Object.values(upstreams).map((upstream) => ({
    name: upstream.name,
    check: () => upstream.ping(),
  }));

  return Promise.resolve(
    createService({
      logger,
      config,
      listeners: [
        httpListener({ app, logger, config, maxConnections: config.GATEWAY_MAX_CONNECTIONS }),
        managementListener({ logger, config, metrics, readiness }),
      ],
    }),
  );
}

if (require.main === module) runService('gateway', readConfig, buildGatewayService);
