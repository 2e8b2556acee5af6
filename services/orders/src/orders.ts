import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SpanStatusCode, trace } from '@opentelemetry/api';
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
import type { Product, ProductsClient } from '@glassbox/products/client';
import type { Logger } from '@glassbox/telemetry';
import type { OrdersMetrics } from './metrics';
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

export const MAX_IDEMPOTENCY_KEY_LENGTH = 200;

/**
 * The Idempotency-Key request header (optional): 1 to 200 printable ASCII
 * characters, sent once. Read from Node's headersDistinct, where a header
 * sent twice is two values instead of one joined by a comma.
 */
export const idempotencyHeaders = z.object({
  'idempotency-key': z
    .array(z.string())
    .max(1, 'must be sent once')
    .optional()
    .transform((sent) => sent?.[0])
    .pipe(
      z
        .string()
        .min(1, 'must not be empty')
        .max(MAX_IDEMPOTENCY_KEY_LENGTH, `must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`)
        .regex(/^[\x20-\x7e]+$/, 'must be printable ASCII')
        .optional(),
    ),
});

/**
 * The request an Idempotency-Key stands for, as a hash: the same user and
 * the same lines, however the JSON was spaced, its keys ordered or its
 * lines listed (a product appears on one line at most).
 */
export function requestHashOf(input: OrderInput): string {
  const lines = [...input.items].sort((a, b) => a.productId - b.productId);
  const canonical = { userId: input.userId, items: lines.map(({ productId, quantity }) => ({ productId, quantity })) };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

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

/** One request's hold on an Idempotency-Key while it places the order. */
export interface KeyClaim {
  key: string;
  /** requestHashOf the request that holds, or held, the key. */
  requestHash: string;
  /** New for every request: only the request holding the claim may store an order under the key. */
  claimId: string;
}

/** Who holds an Idempotency-Key, as a claim found it. */
export type KeyHolder =
  | { holder: 'this request' }
  /** `orderId` once that request stored its order; undefined while it still works on it. */
  | { holder: 'another request'; requestHash: string; orderId: number | undefined };

export interface OrderRepository {
  /**
   * Stores the order and the event `eventFor` makes for it, atomically: both
   * or neither. This is the outbox pattern's whole point. With a `claim`,
   * the order is bound to its Idempotency-Key in the same transaction; if
   * the claim was taken over meanwhile, nothing is stored and it throws
   * keyInUse.
   */
  insertWithEvent(draft: OrderDraft, eventFor: (orderId: number) => PendingEvent, claim?: KeyClaim): Promise<Order>;
  /**
   * Claims an Idempotency-Key for this request, unless another request
   * holds it. A key past its expiry is claimed afresh; so is one whose
   * request stored no order within `leaseMs` (its process died).
   */
  claimKey(claim: KeyClaim, policy: { ttlMs: number; leaseMs: number }): Promise<KeyHolder>;
  /** Lets go of a claim that stored no order, so that a retry may place it afresh. */
  releaseKey(claim: KeyClaim): Promise<void>;
  find(id: number): Promise<Order | undefined>;
  /** `oneQueryPerOrder`: the n-plus-one fault scenario, items fetched order by order. */
  listByUser(
    userId: number,
    page: { limit: number; offset: number },
    options?: { oneQueryPerOrder?: boolean },
  ): Promise<OrderPage>;
  /**
   * Hands up to `limit` unpublished events, oldest first, one at a time, to
   * `publish`, and marks each one published in a commit of its own as soon
   * as `publish` resolves (the broker confirmed it). So a crash between a
   * confirm and its commit re-sends that one event, never a batch. Stops at
   * the first failure (that event and those after it stay pending) and
   * rethrows it. Resolves with the number published.
   */
  drainOutbox(limit: number, publish: (entry: OutboxEntry) => Promise<void>): Promise<number>;
  /** For the outbox gauges: how many events wait, and since when. */
  outboxBacklog(): Promise<{ pending: number; oldest: Date | undefined }>;
  /** Deletes up to `limit` events published before `before`; resolves with how many. */
  purgePublished(before: Date, limit: number): Promise<number>;
  /** Deletes up to `limit` Idempotency-Keys past their expiry; resolves with how many. */
  purgeExpiredKeys(limit: number): Promise<number>;
  ping(): Promise<void>;
}

/** The faults orders can play (docs/scenarios/). */
export const ORDERS_FAULTS = {
  'n-plus-one': 'GET /orders?userId= loads each order’s items with a query of its own',
};

/** What a POST /orders came to: a new order, or the one an earlier request with its Idempotency-Key placed. */
export interface Placement {
  order: Order;
  replayed: boolean;
}

export interface OrderDeskOptions {
  repository: OrderRepository;
  users: UsersClient;
  products: ProductsClient;
  captureTrace: () => Record<string, string>;
  metrics: Pick<OrdersMetrics, 'stockReleases'>;
  logger: Logger;
  faults?: FaultSwitches;
  config: { IDEMPOTENCY_TTL_HOURS: number; UPSTREAM_TIMEOUT_MS: number };
}

export const HOUR_MS = 3_600_000;

/**
 * The calls one placement makes, each bounded by UPSTREAM_TIMEOUT_MS: users,
 * products, the store (bounded by its own statement timeout, of the same
 * order), and a release. A request with an Idempotency-Key in use waits this
 * many timeouts for the first one; a claim older than that is abandoned.
 */
const PLACEMENT_STEPS = 4;

/** Releasing stock is idempotent, so a release that got no answer is sent again: three attempts, 100 and 200 ms apart. */
const RELEASE_ATTEMPTS = 3;

const tracer = trace.getTracer('glassbox.orders');

/**
 * Placing an order, in the order a careful shop does it: is the customer
 * real (users, HTTP), is the stock there (products, gRPC, all or nothing),
 * then the order and its `order.created` event are stored together, in one
 * transaction. The event is published later by the outbox relay, so an order
 * accepted while RabbitMQ is down is never lost.
 *
 * Two things can go wrong between those steps, and both are undone here:
 * the stock was taken but the order is not stored (released again, see
 * compensate), and a client that did not hear the answer sends the same
 * order again (the Idempotency-Key returns the first order instead).
 */
export class OrderDesk {
  private readonly idempotency: { ttlMs: number; leaseMs: number };

  constructor(private readonly parts: OrderDeskOptions) {
    const { IDEMPOTENCY_TTL_HOURS, UPSTREAM_TIMEOUT_MS } = parts.config;
    this.idempotency = { ttlMs: IDEMPOTENCY_TTL_HOURS * HOUR_MS, leaseMs: PLACEMENT_STEPS * UPSTREAM_TIMEOUT_MS };
  }

  /**
   * Without a key, every call places a new order. With one, the first
   * request holding it places the order and binds it to the key; any other
   * with the same key and request answers with that order, waiting for it
   * while the first is still at work. The same key with another request is
   * a 422. A failed placement lets go of its key, so a retry starts afresh.
   */
  async place(input: OrderInput, idempotencyKey?: string): Promise<Placement> {
    const span = trace.getActiveSpan();
    span?.setAttribute('glassbox.order.item_count', input.items.length);
    const placement = idempotencyKey
      ? await this.placeOnce(input, idempotencyKey)
      : { order: await this.placeNew(input), replayed: false };
    span?.setAttribute('glassbox.order.id', placement.order.id);
    if (idempotencyKey) span?.setAttribute('glassbox.idempotency.replayed', placement.replayed);
    return placement;
  }

  async get(id: number): Promise<Order> {
    trace.getActiveSpan()?.setAttribute('glassbox.order.id', id);
    return (await this.parts.repository.find(id)) ?? missing(id);
  }

  list(userId: number, page: { limit: number; offset: number }) {
    return this.parts.repository.listByUser(userId, page, {
      oneQueryPerOrder: this.parts.faults?.enabled('n-plus-one'),
    });
  }

  private async placeOnce(input: OrderInput, key: string): Promise<Placement> {
    const { repository } = this.parts;
    const claim: KeyClaim = { key, requestHash: requestHashOf(input), claimId: randomUUID() };
    const giveUpAt = Date.now() + this.idempotency.leaseMs;
    for (let pauseMs = 10; ; pauseMs = Math.min(2 * pauseMs, 200)) {
      const found = await repository.claimKey(claim, this.idempotency);
      if (found.holder === 'this request') {
        try {
          return { order: await this.placeNew(input, claim), replayed: false };
        } catch (error) {
          // Should letting go fail too (the database is away), the claim lapses after its lease.
          await repository.releaseKey(claim).catch(() => undefined);
          // Taken over while it worked (it outlived its lease): the new holder's order is the answer.
          if (error instanceof AppError && error.code === 'idempotency_key_in_use') continue;
          throw error;
        }
      }
      if (found.requestHash !== claim.requestHash) throw keyReused(key);
      if (found.orderId !== undefined) return { order: await this.get(found.orderId), replayed: true };
      if (Date.now() >= giveUpAt) throw keyInUse(key);
      await sleep(pauseMs);
    }
  }

  private async placeNew(input: OrderInput, claim?: KeyClaim): Promise<Order> {
    await this.parts.users.assertExists(input.userId);
    const reservationId = randomUUID();
    const reserved = await this.reserve(reservationId, input);
    const prices = new Map(reserved.map((product) => [product.id, product.priceCents]));
    const items = input.items
      .map((item) => ({ ...item, unitPriceCents: prices.get(item.productId) ?? 0 }))
      .sort((a, b) => a.productId - b.productId);
    const eventFor = (id: number) => ({
      event: newOrderCreated({ id, userId: input.userId, items: input.items }),
      traceCarrier: this.parts.captureTrace(),
    });
    try {
      return await this.parts.repository.insertWithEvent({ userId: input.userId, items }, eventFor, claim);
    } catch (error) {
      await this.compensate(reservationId, 'order_not_stored');
      throw error;
    }
  }

  /**
   * A refusal (400, 404, 409) took nothing. A 503 or 504 is no answer: the
   * stock may have been taken, or be taken in a moment by a reservation
   * still waiting for a row lock, so it is released to be sure.
   */
  private async reserve(reservationId: string, input: OrderInput): Promise<Product[]> {
    try {
      return await this.parts.products.reserveStock(reservationId, input.items);
    } catch (error) {
      if (!(error instanceof AppError) || error.status >= 500) {
        await this.compensate(reservationId, 'reservation_unanswered');
      }
      throw reservationError(error);
    }
  }

  /**
   * The compensation of a placement that failed after stock may have been
   * taken: release it. A span of its own under the request's span, so the
   * trace shows the undo beside the failure that caused it. It never
   * throws: the caller answers with the original failure, and a release that
   * failed on every attempt is logged with its reservation id and counted,
   * for someone to release by hand.
   */
  private compensate(reservationId: string, reason: 'order_not_stored' | 'reservation_unanswered'): Promise<void> {
    const attributes = { 'glassbox.reservation.id': reservationId, 'glassbox.order.compensation.reason': reason };
    return tracer.startActiveSpan('glassbox.order.compensation', { attributes }, async (span) => {
      try {
        const released = await this.releaseStock(reservationId);
        span.setAttribute('glassbox.stock.released', released);
        this.parts.metrics.stockReleases.inc({ outcome: released ? 'released' : 'nothing_held' });
      } catch (error) {
        span.recordException(error instanceof Error ? error : new Error(String(error)));
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'reserved stock could not be released' });
        this.parts.metrics.stockReleases.inc({ outcome: 'failed' });
        this.parts.logger.error(
          { err: error, reservation_id: reservationId, reason },
          'reserved stock could not be released: release it with ReleaseStock',
        );
      } finally {
        span.end();
      }
    });
  }

  private async releaseStock(reservationId: string): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.parts.products.releaseStock(reservationId);
      } catch (error) {
        const retryable = error instanceof AppError && error.status >= 500;
        if (!retryable || attempt === RELEASE_ATTEMPTS) throw error;
        await sleep(100 * attempt);
      }
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

const IDEMPOTENCY_KEY_FIELD = { field: 'headers.idempotency-key' };

/** 422: the key names another request. Reusing a key for a new order is a client bug, not a retry. */
export const keyReused = (key: string) =>
  unprocessable(
    `Idempotency-Key ${JSON.stringify(key)} was used with a different request; send a new key for a new order`,
    IDEMPOTENCY_KEY_FIELD,
  );

/** 409: the first request with this key is still being placed; retrying later returns its order. */
export const keyInUse = (key: string) =>
  new AppError(
    409,
    'idempotency_key_in_use',
    `a request with Idempotency-Key ${JSON.stringify(key)} is still being processed; retry later for its answer`,
    { details: IDEMPOTENCY_KEY_FIELD },
  );
