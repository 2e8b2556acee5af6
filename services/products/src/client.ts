/**
 * The typed ProductService client, for other services (orders):
 *
 *   const products = createProductsClient('products:50051', { deadlineMs: 2000 });
 *   const reserved = await products.reserveStock([{ productId: 7, quantity: 2 }]);
 *
 * Every call carries a deadline: a products service that hangs costs the
 * caller `deadlineMs`, never a stuck request. The trace context travels in the
 * call's metadata without any code here: the grpc instrumentation (loaded by
 * the telemetry preload) injects it and makes the CLIENT span.
 */
import * as grpc from '@grpc/grpc-js';
import type { Product, StockItem } from './products';
import { productServiceClient } from './proto';

export type { Product, StockItem } from './products';
export { status as GrpcStatus } from '@grpc/grpc-js';

export interface ProductsClientOptions {
  /** The longest any one call may take, in milliseconds, before it fails with DEADLINE_EXCEEDED. */
  deadlineMs: number;
}

export interface ProductsClient {
  /** Rejects with NOT_FOUND when there is no such product. */
  getProduct(id: number): Promise<Product>;
  /**
   * All or nothing. Resolves with the reserved products and their stock
   * afterwards; rejects with FAILED_PRECONDITION (not enough stock),
   * NOT_FOUND (unknown product) or INVALID_ARGUMENT (empty, bad quantity),
   * and then nothing was taken.
   */
  reserveStock(items: StockItem[]): Promise<Product[]>;
  /** Closes the channel; calls made afterwards fail. */
  close(): void;
}

/**
 * A failed call. `code` is the gRPC status (compare it with GrpcStatus.*) so
 * that callers can map it: FAILED_PRECONDITION -> 409, NOT_FOUND -> 422,
 * DEADLINE_EXCEEDED -> 504, UNAVAILABLE -> 503. `details` is the server's
 * own message, e.g. "product 7 has 1 in stock, 2 requested".
 */
export class ProductsClientError extends Error {
  readonly code: grpc.status;
  readonly details: string;

  constructor(method: string, cause: grpc.ServiceError) {
    super(`ProductService.${method} failed: ${grpc.status[cause.code] ?? cause.code}: ${cause.details}`, { cause });
    this.name = 'ProductsClientError';
    this.code = cause.code;
    this.details = cause.details;
  }
}

export function createProductsClient(address: string, options: ProductsClientOptions): ProductsClient {
  if (!(Number.isFinite(options.deadlineMs) && options.deadlineMs > 0)) {
    throw new RangeError(`deadlineMs must be a positive number of milliseconds, got ${options.deadlineMs}`);
  }
  const ProductService = productServiceClient();
  const stub = new ProductService(address, grpc.credentials.createInsecure());
  // The deadline is computed per call: a fixed Date would expire for every call after the first.
  const callOptions = (): grpc.CallOptions => ({ deadline: Date.now() + options.deadlineMs });

  return {
    getProduct(id) {
      return call<Product>('GetProduct', (callback) => stub.GetProduct({ id }, callOptions(), callback));
    },
    async reserveStock(items) {
      const response = await call<{ products: Product[] }>('ReserveStock', (callback) =>
        stub.ReserveStock({ items }, callOptions(), callback),
      );
      return response.products;
    },
    close() {
      stub.close();
    },
  };
}

/** Turns one callback-style unary call into a promise, wrapping its error. */
function call<Response>(
  method: string,
  start: (callback: grpc.requestCallback<Response>) => grpc.ClientUnaryCall,
): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    start((error, response) => {
      if (error) reject(new ProductsClientError(method, error));
      else resolve(response as Response);
    });
  });
}
