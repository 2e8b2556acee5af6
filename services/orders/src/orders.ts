import { trace } from '@opentelemetry/api';
import { z } from 'zod';
import {
  AppError,
  conflict,
  newOrderCreated,
  notFound,
  pageQuery,
  rowId,
  rowIdText,
  unprocessable,
  type FaultSwitches,
  type OrderCreated,
} from '@glassbox/service-kit';
import type { ProductsClient } from '@glassbox/products/client';
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

export interface OrderDraft {
  userId: number;
  items: OrderItem[];
}

export interface OrderPage {
  items: Order[];
  page: { limit: number; offset: number; total: number };
}

/** One outbox row: an event not yet confirmed by RabbitMQ. */
export interface OutboxEntry extends PendingEvent {
  id: number;
  createdAt: Date;
}

export interface OrderRepository {
  /**
   * Stores the order and the event `eventFor` makes for it, atomically: both
   * or neither. This is the outbox pattern's whole point.
   */
  insertWithEvent(draft: OrderDraft, eventFor: (orderId: number) => PendingEvent): Promise<Order>;
  find(id: number): Promise<Order | undefined>;
  /** `oneQueryPerOrder`: the n-plus-one fault scenario, items fetched order by order. */
  listByUser(
    userId: number,
    page: { limit: number; offset: number },
    options?: { oneQueryPerOrder?: boolean },
  ): Promise<OrderPage>;
  /**
   * Hands up to `limit` unpublished events, oldest first, to `publish`, and
   * marks each one published once `publish` resolves. Stops at the first
   * failure (that event and those after it stay pending) and rethrows it.
   * Resolves with the number published.
   */
  drainOutbox(limit: number, publish: (entry: OutboxEntry) => Promise<void>): Promise<number>;
  /** For the outbox gauges: how many events wait, and since when. */
  outboxBacklog(): Promise<{ pending: number; oldest: Date | undefined }>;
  ping(): Promise<void>;
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

/**
 * products' refusal, in the terms of the caller of POST /orders: an unknown
 * product or too little stock is about the items it sent (422, 409, naming
 * the field). Anything else (400, 503, 504) passes on as the client made it.
 */
function reservationError(error: unknown): unknown {
  if (!(error instanceof AppError)) return error;
  if (error.status === 404) return unprocessable(error.message, { field: 'items' });
  if (error.status === 409) return conflict(error.message, { field: 'items' });
  return error;
}

function missing(id: number): never {
  throw notFound(`order ${id} does not exist`);
}
