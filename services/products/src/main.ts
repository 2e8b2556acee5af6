/**
 * The products service's process: read config, build the repository, the
 * logic, the HTTP routes and the gRPC handlers, start both listeners. Wiring
 * only; every decision lives in the files it names. Started as
 * `node --require @glassbox/telemetry/register dist/src/main.js`.
 */
import { createLogger, type Logger } from '@glassbox/telemetry';
import {
  createApp,
  createHttpService,
  FaultSwitches,
  openStore,
  runService,
  type Service,
  type Store,
} from '@glassbox/service-kit';
import { productsRoutes } from './app';
import { readConfig, type ProductsConfig } from './config';
import { productServiceHandlers } from './grpc-handlers';
import { createGrpcService } from './grpc-server';
import { PRODUCTS_FAULTS, ProductCatalog } from './products';
import { productServiceDefinition } from './proto';
import { InMemoryProductRepository, PostgresProductRepository, type ProductRepository } from './repository';

/**
 * A Service whose start() resolves with the HTTP port, as every Service's
 * does, and which also serves gRPC. With PORT=0 and GRPC_PORT=0 (tests),
 * ports() says which ports were taken.
 */
export interface ProductsService extends Service {
  ports(): { http: number; grpc: number };
}

/** `given` replaces the configured store: tests use it to share or stage a repository. */
export async function buildProductsService(
  config: ProductsConfig,
  logger: Logger,
  given?: Store<ProductRepository>,
): Promise<ProductsService> {
  const store =
    given ??
    (await openStore<ProductRepository>(config.postgres, logger, {
      memory: () => new InMemoryProductRepository(),
      postgres: (pool) => new PostgresProductRepository(pool),
    }));
  const { repository } = store;
  const faults = new FaultSwitches(PRODUCTS_FAULTS, logger);
  const catalog = new ProductCatalog(repository, faults);
  const app = createApp({
    logger,
    routes: productsRoutes(catalog),
    faults,
    adminToken: config.ADMIN_TOKEN,
    readiness: [{ name: config.STORAGE, check: () => repository.ping() }],
  });
  const http = createHttpService({
    app,
    logger,
    config,
  });
  const grpc = createGrpcService({
    definition: productServiceDefinition(),
    handlers: productServiceHandlers(catalog, logger),
    logger,
    host: config.HOST,
    port: config.GRPC_PORT,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  });

  let bound: { http: number; grpc: number } | undefined;
  return {
    async start(port?: number) {
      const grpcPort = await grpc.start();
      // Half a service is worse than none: if HTTP can not listen, gRPC must not stay up.
      const httpPort = await http.start(port).catch(async (error: unknown) => {
        await grpc.stop();
        throw error;
      });
      bound = { http: httpPort, grpc: grpcPort };
      return httpPort;
    },
    async stop() {
      // Both drain at once; the store closes only when neither has a call left that might use it.
      await Promise.all([http.stop(), grpc.stop()]);
      bound = undefined;
      await store.close();
    },
    ports() {
      if (!bound) throw new Error('the products service is not started');
      return bound;
    },
  };
}

if (require.main === module) {
  runService('products', async () => {
    const config = readConfig();
    const logger = createLogger({ name: 'products' });
    return { service: await buildProductsService(config, logger), logger };
  });
}
