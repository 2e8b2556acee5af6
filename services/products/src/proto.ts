import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { Product, StockItem } from './products';

/**
 * The .proto file ships beside dist/, not inside it. This file compiles to
 * dist/src/proto.js, two levels below the package root, as src/proto.ts is:
 * the same relative path works from both.
 */
export const PROTO_PATH = join(__dirname, '..', '..', 'proto', 'products.proto');

/**
 * The messages as @grpc/proto-loader hands them over with the options below:
 * fields in camelCase (price_cents -> priceCents, so a Product message is the
 * domain's Product), and every scalar present, so a product with no stock
 * carries `stock: 0` instead of no `stock` at all.
 */
export interface GetProductRequest {
  id: number;
}
export interface ReserveStockRequest {
  reservationId: string;
  items: StockItem[];
}
export interface ReserveStockResponse {
  products: Product[];
}
export interface ReleaseStockRequest {
  reservationId: string;
}
export interface ReleaseStockResponse {
  released: boolean;
}

/** What the server implements; the client calls the same three methods. */
export interface ProductServiceHandlers extends grpc.UntypedServiceImplementation {
  GetProduct: grpc.handleUnaryCall<GetProductRequest, Product>;
  ReserveStock: grpc.handleUnaryCall<ReserveStockRequest, ReserveStockResponse>;
  ReleaseStock: grpc.handleUnaryCall<ReleaseStockRequest, ReleaseStockResponse>;
}

export interface ProductServiceStub extends grpc.Client {
  GetProduct(
    request: GetProductRequest,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<Product>,
  ): grpc.ClientUnaryCall;
  ReserveStock(
    request: ReserveStockRequest,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<ReserveStockResponse>,
  ): grpc.ClientUnaryCall;
  ReleaseStock(
    request: ReleaseStockRequest,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<ReleaseStockResponse>,
  ): grpc.ClientUnaryCall;
}

export type ProductServiceClientConstructor = new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ClientOptions,
) => ProductServiceStub;

let loaded: grpc.ServiceClientConstructor | undefined;

/**
 * Parses the .proto at run time (no generated code to keep in sync), once per
 * process, on first use rather than at import, so importing the client costs
 * nothing until a client is made.
 */
function productServiceConstructor(): grpc.ServiceClientConstructor {
  if (loaded) return loaded;
  const definition = loadSync(PROTO_PATH, { keepCase: false, defaults: true, arrays: true, longs: Number });
  const root = grpc.loadPackageDefinition(definition) as {
    glassbox: { products: { v1: { ProductService: grpc.ServiceClientConstructor } } };
  };
  loaded = root.glassbox.products.v1.ProductService;
  return loaded;
}

/** For server.addService(). */
export function productServiceDefinition(): grpc.ServiceDefinition {
  return productServiceConstructor().service;
}

/** The generic client class for ProductService, typed with the methods above. */
export function productServiceClient(): ProductServiceClientConstructor {
  return productServiceConstructor() as unknown as ProductServiceClientConstructor;
}
