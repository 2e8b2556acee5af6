/**
 * The typed ProductService client, for other services (orders):
 *
 *   const products = createProductsClient('products:50051', { deadlineMs: 2000 });
 *   const reservationId = randomUUID();
 *   const reserved = await products.reserveStock(reservationId, [{ productId: 7, quantity: 2 }]);
 *   // ...and if what needed the stock fails afterwards:
 *   await products.releaseStock(reservationId);
 *
 * Every call carries a deadline: a products service that hangs costs the
 * caller `deadlineMs`, never a stuck request. The trace context travels in the
 * call's metadata without any code here: the grpc instrumentation (loaded by
 * the telemetry preload) injects it and makes the CLIENT span.
 */
import * as grpc from '@grpc/grpc-js';
import type { AppError } from '@glassbox/service-kit';
import { appErrorFromGrpc } from '@glassbox/service-kit/grpc';
import type { Product, StockItem } from './products';
import { productServiceClient } from './proto';

export type { Product, StockItem } from './products';
export { status as GrpcStatus } from '@grpc/grpc-js';

export interface ProductsClientOptions {
  /** The longest any one call may take, in milliseconds, before it fails with DEADLINE_EXCEEDED. */
  deadlineMs: number;
}

export interface ProductsClient {
  /** Rejects with a 404 AppError when there is no such product. */
  getProduct(id: number): Promise<Product>;
  /**
   * All or nothing, recorded under `reservationId` (a UUID the caller makes
   * for this reservation alone). Resolves with the reserved products and
   * their stock afterwards; rejects with a 409 (not enough stock, or an id
   * used before), 404 (unknown product) or 400 (empty, bad quantity), and
   * then nothing was taken. A 503 or 504 leaves the outcome unknown: release
   * the id to be sure nothing stays taken.
   */
  reserveStock(reservationId: string, items: StockItem[]): Promise<Product[]>;
  /**
   * Gives the reservation's stock back. Idempotent: resolves false when
   * there was nothing to give back (never made, or released before), so a
   * caller may retry it, or send it whenever it is unsure.
   */
  releaseStock(reservationId: string): Promise<boolean>;
  /** Closes the channel; calls made afterwards fail. */
  close(): void;
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
      return call<Product>(options, (callback) => stub.GetProduct({ id }, callOptions(), callback));
    },
    async reserveStock(reservationId, items) {
      const response = await call<{ products: Product[] }>(options, (callback) =>
        stub.ReserveStock({ reservationId, items }, callOptions(), callback),
      );
      return response.products;
    },
    async releaseStock(reservationId) {
      const response = await call<{ released: boolean }>(options, (callback) =>
        stub.ReleaseStock({ reservationId }, callOptions(), callback),
      );
      return response.released;
    },
    close() {
      stub.close();
    },
  };
}

/**
 * Turns one callback-style unary call into a promise. A failure comes back as
 * the kit's AppError (the gRPC status read through the kit's one table, the
 * ServiceError as its cause), so a caller handles products' errors exactly as
 * it handles its own.
 */
function call<Response>(
  options: ProductsClientOptions,
  start: (callback: grpc.requestCallback<Response>) => grpc.ClientUnaryCall,
): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    start((error, response) => {
      if (error) reject(appErrorFromGrpc('products', error, options.deadlineMs) satisfies AppError);
      else resolve(response as Response);
    });
  });
}
