import * as grpc from '@grpc/grpc-js';
import { trace } from '@opentelemetry/api';
import { AppError, parseInput } from '@glassbox/service-kit';
import type { Logger } from '@glassbox/telemetry';
import { getProductInput, reservationInput, type ProductCatalog } from './products';
import type { ProductServiceHandlers } from './proto';

/**
 * ProductService over gRPC: what app.ts is to HTTP. The server span itself
 * comes from the grpc instrumentation; the handlers add only what it can not
 * know, the product id and the size of the order.
 */
export function productServiceHandlers(catalog: ProductCatalog, logger: Logger): ProductServiceHandlers {
  return {
    GetProduct: unary('GetProduct', logger, async (request) => {
      const { id } = parseInput(getProductInput, request, '');
      trace.getActiveSpan()?.setAttribute('glassbox.product.id', id);
      return catalog.get(id);
    }),

    ReserveStock: unary('ReserveStock', logger, async (request) => {
      trace.getActiveSpan()?.setAttribute('glassbox.order.item_count', request.items.length);
      const { items } = parseInput(reservationInput, request, '');
      const products = await catalog.reserve(items);
      logger.info({ product_ids: products.map((p) => p.id) }, 'stock reserved');
      return { products };
    }),
  };
}

/**
 * What each known failure is called in gRPC. Without this table every error
 * a handler throws reaches the caller as UNKNOWN, which no caller can act on.
 */
const GRPC_STATUS_BY_HTTP_STATUS: Record<number, grpc.status> = {
  400: grpc.status.INVALID_ARGUMENT,
  404: grpc.status.NOT_FOUND,
  409: grpc.status.FAILED_PRECONDITION,
  422: grpc.status.FAILED_PRECONDITION,
  503: grpc.status.UNAVAILABLE,
  504: grpc.status.DEADLINE_EXCEEDED,
};

/** Adapts a promise-returning handler to grpc-js's callback style, turning errors into statuses. */
function unary<Request, Response>(
  method: string,
  logger: Logger,
  handle: (request: Request) => Promise<Response>,
): grpc.handleUnaryCall<Request, Response> {
  return function handleUnary(call, callback) {
    handle(call.request).then(
      (response) => callback(null, response),
      (error: unknown) => callback(toServiceError(error, method, logger)),
    );
  };
}

/**
 * The gRPC twin of the kit's HTTP error handler: known errors keep their
 * message and get their status; anything else is a bug, reported as INTERNAL
 * with a generic message, its stack going to the log and the span only.
 */
function toServiceError(error: unknown, method: string, logger: Logger): grpc.ServerErrorResponse {
  const known = error instanceof AppError ? error : undefined;
  const code = (known && GRPC_STATUS_BY_HTTP_STATUS[known.status]) ?? grpc.status.INTERNAL;
  const details = known?.expose ? known.message : 'internal error';
  if (code === grpc.status.INTERNAL || code === grpc.status.UNAVAILABLE) {
    const cause = known?.cause ?? error;
    trace.getActiveSpan()?.recordException(cause instanceof Error ? cause : new Error(String(cause)));
    logger.error({ err: error, grpc_code: code }, `${method} failed: ${details}`);
  } else {
    logger.info({ grpc_code: code }, `${method} refused: ${details}`);
  }
  return Object.assign(new Error(details), { code, details });
}
