/**
 * The products service's process. Wiring only, in the order every glassbox
 * service's main.ts reads: its dependencies, its parts, createService.
 * It serves HTTP (reads, for the gateway) and gRPC (ProductService, for
 * orders); `service.ports()` says which ports each took.
 * Started as `node --require @glassbox/telemetry/register dist/src/main.js`.
 */
import { createHttpMetrics, type Logger } from '@glassbox/telemetry';
import {
  createApp,
  createService,
  FaultSwitches,
  httpListener,
  managementListener,
  openStore,
  runService,
  type Service,
  type Store,
} from '@glassbox/service-kit';
import { grpcListener } from '@glassbox/service-kit/grpc';
import { productsRoutes } from './app';
import { readConfig, type ProductsConfig } from './config';
import { productServiceHandlers } from './grpc-handlers';
import { PRODUCTS_FAULTS, ProductCatalog, type ProductRepository } from './products';
import { productServiceDefinition } from './proto';
import { InMemoryProductRepository, PostgresProductRepository } from './repository';

/** What the service needs from outside; a test may pass any of them in `overrides`. */
export interface ProductsDependencies {
  store: Store<ProductRepository>;
}

export async function buildProductsService(
  config: ProductsConfig,
  logger: Logger,
  overrides: Partial<ProductsDependencies> = {},
): Promise<Service> {
  const store =
    overrides.store ??
    (await openStore<ProductRepository>(config.postgres, logger, {
      memory: () => new InMemoryProductRepository(),
      postgres: (pool) => new PostgresProductRepository(pool),
    }));

  const metrics = createHttpMetrics();
  const faults = new FaultSwitches(PRODUCTS_FAULTS, logger);
  const catalog = new ProductCatalog(store.repository, faults);
  const app = createApp({ logger, metrics, routes: productsRoutes(catalog) });
  const grpc = { definition: productServiceDefinition(), handlers: productServiceHandlers(catalog, logger) };

  const readiness = [{ name: config.STORAGE, check: () => store.repository.ping() }];

  return createService({
    logger,
    config,
    listeners: [
      httpListener({ app, logger, config }),
      grpcListener({ ...grpc, logger, config }),
      managementListener({ logger, config, metrics, faults, readiness }),
    ],
    closers: [store.close],
  });
}

if (require.main === module) runService('products', readConfig, buildProductsService);
