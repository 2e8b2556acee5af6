/**
 * The gateway's process: the public entry of glassbox. Wiring only.
 * Started as `node --require @glassbox/telemetry/register dist/src/main.js`.
 */
import { createLogger, type Logger } from '@glassbox/telemetry';
import { createApp, createHttpService, runService, type Service } from '@glassbox/service-kit';
import { gatewayRoutes } from './app';
import { readConfig, type GatewayConfig } from './config';
import { Upstream } from './upstream';

export function buildGateway(config: GatewayConfig, logger: Logger): Service {
  const timeout = config.UPSTREAM_TIMEOUT_MS;
  const upstreams = {
    users: new Upstream('users', config.USERS_URL, timeout),
    products: new Upstream('products', config.PRODUCTS_URL, timeout),
    orders: new Upstream('orders', config.ORDERS_URL, timeout),
  };
  const app = createApp({
    logger,
    routes: gatewayRoutes(upstreams),
    readiness: Object.values(upstreams).map((upstream) => ({ name: upstream.name, check: () => upstream.ping() })),
  });
  return createHttpService({
    app,
    logger,
    config,
  });
}

if (require.main === module) {
  runService('gateway', () => {
    const config = readConfig();
    const logger = createLogger({ name: 'gateway' });
    return Promise.resolve({ service: buildGateway(config, logger), logger });
  });
}
