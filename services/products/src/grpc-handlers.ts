import { trace } from '@opentelemetry/api';
import { parseInput } from '@glassbox/service-kit';
import { unaryHandler } from '@glassbox/service-kit/grpc';
import type { Logger } from '@glassbox/telemetry';
import { getProductInput, reservationInput, type ProductCatalog } from './products';
import type { ProductServiceHandlers } from './proto';

/**
 * ProductService over gRPC: what app.ts is to HTTP. The server span itself
 * comes from the grpc instrumentation; the handlers add only what it can not
 * know, the product id and the size of the order. Errors become gRPC
 * statuses in the kit (unaryHandler), from the same table the client reads.
 */
export function productServiceHandlers(catalog: ProductCatalog, logger: Logger): ProductServiceHandlers {
  return {
    GetProduct: unaryHandler('GetProduct', logger, async (request) => {
      const { id } = parseInput(getProductInput, request, '');
      trace.getActiveSpan()?.setAttribute('glassbox.product.id', id);
      return catalog.get(id);
    }),

    ReserveStock: unaryHandler('ReserveStock', logger, async (request) => {
      trace.getActiveSpan()?.setAttribute('glassbox.order.item_count', request.items.length);
      const { items } = parseInput(reservationInput, request, '');
      const products = await catalog.reserve(items);
      logger.info({ product_ids: products.map((p) => p.id) }, 'stock reserved');
      return { products };
    }),
  };
}
