import type * as grpc from '@grpc/grpc-js';
import { trace } from '@opentelemetry/api';
import { parseInput } from '@glassbox/service-kit';
import { unaryHandler } from '@glassbox/service-kit/grpc';
import type { Logger } from '@glassbox/telemetry';
import { getProductInput, releaseInput, reservationInput, type CallerDeadline, type ProductCatalog } from './products';
import type { ProductServiceHandlers, ReserveStockRequest, ReserveStockResponse } from './proto';

/**
 * ProductService over gRPC: what app.ts is to HTTP. The server span itself
 * comes from the grpc instrumentation; the handlers add only what it can not
 * know: the product, the size of the order, the reservation. Errors become
 * gRPC statuses in the kit (unaryHandler), from the same table the client reads.
 */
export function productServiceHandlers(catalog: ProductCatalog, logger: Logger): ProductServiceHandlers {
  return {
    GetProduct: unaryHandler('GetProduct', logger, async (request) => {
      const { id } = parseInput(getProductInput, request, '');
      trace.getActiveSpan()?.setAttribute('glassbox.product.id', id);
      return catalog.get(id);
    }),

    // unaryHandler hands a handler the request only; a reservation also needs
    // the call, to know when its caller stops waiting.
    ReserveStock(call, callback) {
      const handle = unaryHandler<ReserveStockRequest, ReserveStockResponse>(
        'ReserveStock',
        logger,
        async (request) => {
          const span = trace.getActiveSpan();
          span?.setAttribute('glassbox.order.item_count', request.items.length);
          const { reservationId, items } = parseInput(reservationInput, request, '');
          span?.setAttribute('glassbox.reservation.id', reservationId);
          const products = await catalog.reserve({ id: reservationId, items }, callerOf(call));
          logger.info({ reservation_id: reservationId, product_ids: products.map((p) => p.id) }, 'stock reserved');
          return { products };
        },
      );
      handle(call, callback);
    },

    ReleaseStock: unaryHandler('ReleaseStock', logger, async (request) => {
      const { reservationId } = parseInput(releaseInput, request, '');
      const span = trace.getActiveSpan();
      span?.setAttribute('glassbox.reservation.id', reservationId);
      const released = await catalog.release(reservationId);
      span?.setAttribute('glassbox.stock.released', released);
      logger.info(
        { reservation_id: reservationId, released },
        released ? 'stock released' : 'nothing to release: reservation unknown or released before',
      );
      return { released };
    }),
  };
}

/**
 * The call's deadline and cancellation, as the domain sees them. grpc-js
 * marks a call cancelled when the client cancels or its connection drops;
 * the timer covers the deadline itself, which the client enforces on its side.
 */
function callerOf(call: grpc.ServerUnaryCall<unknown, unknown>): CallerDeadline {
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  const cancelled = new AbortController();
  if (call.cancelled) cancelled.abort();
  else call.once('cancelled', () => cancelled.abort());
  const signals = [cancelled.signal];
  if (Number.isFinite(at)) signals.push(AbortSignal.timeout(Math.max(0, at - Date.now())));
  return { at, signal: AbortSignal.any(signals) };
}
