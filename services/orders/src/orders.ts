import { trace } from '@opentelemetry/api';
import { z } from 'zod';
import {
  AppError,
  badRequest,
  conflict,
  notFound,
  pageQuery,
  rowId,
  rowIdText,
  unprocessable,
  type FaultSwitches,
} from '@glassbox/service-kit';
import type { ProductsClient } from '@glassbox/products/client';
import { GrpcStatus, ProductsClientError } from '@glassbox/products/client';
import { newOrderCreated, type OrderCreated } from '@glassbox/service-kit';
import type { OrderRepository } from './repository';
import type { UsersClient } from './users-client';

export interface OrderItem {
  productId: number;
  quantity: number;
  unitPriceCents: number;
}

export interface Order {
  id: number;
  userId: number;
  items: OrderItem[];
  totalCents: number;
  createdAt: string;
}

export const MAX_ITEMS = 50;
export const MAX_QUANTITY = 1000;

/** What a caller sends to place an order. Unknown fields are refused. */
export const orderInput = z
  .strictObject({
    userId: rowId,
    items: z
      .array(z.strictObject({ productId: rowId, quantity: z.number().int().min(1).max(MAX_QUANTITY) }))
      .min(1, 'an order needs at least one item')
      .max(MAX_ITEMS),
  })
  .superRefine((input, ctx) => {
    const seen = new Set<number>();
    input.items.forEach((item, index) => {
      if (seen.has(item.productId)) {
        ctx.addIssue({
          code: 'custom',
          path: ['items', index, 'productId'],
          message: `product ${item.productId} appears twice`,
        });
      }
      seen.add(item.productId);
    });
  });
export type OrderInput = z.output<typeof orderInput>;

export const ordersQuery = pageQuery.extend({ userId: rowIdText });

/** Where an order's events wait for the relay; written in the order's own transaction. */
export interface PendingEvent {
  event: OrderCreated;
  /** The W3C trace context of the request that placed the order (traceparent, tracestate). */
  traceCarrier: Record<string, string>;
}

/** The faults orders can play (docs/scenarios/). */
export const ORDERS_FAULTS = {
  'n-plus-one': 'GET /orders?userId= loads each order’s items with a query of its own',
};

/**
 * Placing an order, in the order a careful shop does it: is the customer
 * real (users, HTTP), is the stock there (products, gRPC, all or nothing),
 * then the order and its `order.created` event are stored together, in one
 * transaction. The event is published later by the outbox relay, so an order
 * accepted while RabbitMQ is down is never lost.
 */
export class OrderDesk {
  constructor(
    private readonly repository: OrderRepository,
    private readonly users: UsersClient,
    private readonly products: ProductsClient,
    private readonly captureTrace: () => Record<string, string>,
    private readonly faults?: FaultSwitches,
  ) {}

  async place(input: OrderInput): Promise<Order> {
    trace.getActiveSpan()?.setAttribute('glassbox.order.item_count', input.items.length);
    await this.users.assertExists(input.userId);
    const reserved = await this.reserve(input);
    const prices = new Map(reserved.map((product) => [product.id, product.priceCents]));
    const items = input.items.map((item) => ({ ...item, unitPriceCents: prices.get(item.productId) ?? 0 }));
    const order = await this.repository.insertWithEvent({ userId: input.userId, items }, (id) => ({
      event: newOrderCreated({ id, userId: input.userId, items: input.items }),
      traceCarrier: this.captureTrace(),
    }));
    trace.getActiveSpan()?.setAttribute('glassbox.order.id', order.id);
    return order;
  }

  async get(id: number): Promise<Order> {
    trace.getActiveSpan()?.setAttribute('glassbox.order.id', id);
    return (await this.repository.find(id)) ?? missing(id);
  }

  list(userId: number, page: { limit: number; offset: number }) {
    return this.repository.listByUser(userId, page, { oneQueryPerOrder: this.faults?.enabled('n-plus-one') });
  }

  private async reserve(input: OrderInput) {
    try {
      return await this.products.reserveStock(input.items);
    } catch (error) {
      throw reservationError(error);
    }
  }
}

/** gRPC status -> what the caller of POST /orders should see. */
function reservationError(error: unknown): unknown {
  if (!(error instanceof ProductsClientError)) return error;
  switch (error.code) {
    case GrpcStatus.FAILED_PRECONDITION:
      return conflict(error.details, { field: 'items' });
    case GrpcStatus.NOT_FOUND:
      return unprocessable(error.details, { field: 'items' });
    case GrpcStatus.INVALID_ARGUMENT:
      return badRequest(error.details);
    case GrpcStatus.DEADLINE_EXCEEDED:
      return new AppError(504, 'upstream_timeout', 'products did not answer in time', { cause: error });
    default:
      return new AppError(503, 'dependency_unavailable', 'products is unavailable', { cause: error });
  }
}

function missing(id: number): never {
  throw notFound(`order ${id} does not exist`);
}
