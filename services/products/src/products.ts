import { z } from 'zod';
import { AppError, type FaultSwitches, notFound, type Page, singleLineText } from '@glassbox/service-kit';

export interface Product {
  id: number;
  name: string;
  priceCents: number;
  stock: number;
}

/** One line of a reservation: take `quantity` units of product `productId`. */
export interface StockItem {
  productId: number;
  quantity: number;
}

/** No order line takes more than this; a bigger number is a caller's bug, not a big order. */
export const MAX_QUANTITY = 1000;
/** One reservation holds a row lock per product until it commits: keep it short. */
export const MAX_RESERVATION_ITEMS = 100;

/** PostgreSQL's integer: ids, prices and stock all live in `integer` columns. */
const INT32_MAX = 2_147_483_647;

/** What a caller may send to create a product. Unknown fields are refused, not ignored. */
export const productInput = z.strictObject({
  name: singleLineText(1, 200),
  priceCents: z.number().int('must be an integer').positive('must be positive').max(INT32_MAX),
  stock: z.number().int('must be an integer').min(0, 'must not be negative').max(INT32_MAX),
});
export type ProductInput = z.output<typeof productInput>;

/**
 * The gRPC messages arrive already typed as numbers (proto int32), so these
 * check ranges, not shapes. A field the caller left out arrives as 0, which
 * the positive checks refuse.
 */
const productId = z.number().int().positive('must be a positive integer');

export const getProductInput = z.object({ id: productId });

const reservationId = z.uuid('must be a UUID');

export const reservationInput = z.object({
  reservationId,
  items: z
    .array(
      z.object({
        productId,
        quantity: z
          .number()
          .int()
          .min(1, `must be between 1 and ${MAX_QUANTITY}`)
          .max(MAX_QUANTITY, `must be between 1 and ${MAX_QUANTITY}`),
      }),
    )
    .min(1, 'must name at least one item')
    .max(MAX_RESERVATION_ITEMS, `must name at most ${MAX_RESERVATION_ITEMS} items`),
});

export const releaseInput = z.object({ reservationId });

/** Stock taken for one caller, under the id the caller chose, so that it can be given back. */
export interface Reservation {
  id: string;
  items: StockItem[];
}

/**
 * When the caller stops waiting for an answer. A reservation its caller no
 * longer waits for must not be committed: nobody would learn of it, and
 * nobody would ever release it.
 */
export interface CallerDeadline {
  /** Epoch milliseconds; Infinity when the caller set no deadline. */
  at: number;
  /** Aborts when the caller gives up: its deadline passed, or it cancelled the call. */
  signal: AbortSignal;
}

export interface ProductPage {
  items: Product[];
  page: Page & { total: number };
}

export const productMissing = (id: number) => notFound(`product ${id} does not exist`);

/**
 * 409 over HTTP, FAILED_PRECONDITION over gRPC: the request was well formed,
 * the world just does not hold enough units right now.
 */
export const stockShort = (id: number, available: number, requested: number) =>
  new AppError(409, 'insufficient_stock', `product ${id} has ${available} in stock, ${requested} requested`, {
    details: { productId: id, available, requested },
  });

/** 504 over HTTP, DEADLINE_EXCEEDED over gRPC: the caller gave up before the reservation was committed. */
export const callerGone = (cause?: unknown) => new AppError(504, 'deadline_exceeded', CALLER_GONE, { cause });

const CALLER_GONE = 'the caller stopped waiting before the reservation was committed; nothing was taken';

/**
 * A reservation id names one reservation for good: once used, or released
 * before it was ever used (see release), it can not take stock again.
 */
export const reservationIdUsed = (id: string) =>
  new AppError(
    409,
    'reservation_id_used',
    `reservation ${id} was made or released before; a new reservation needs a new id`,
  );

/** Where products are kept: PostgreSQL, or memory for fast tests (repository.ts). */
export interface ProductRepository {
  list(page: Page): Promise<{ items: Product[]; total: number }>;
  find(id: number): Promise<Product | undefined>;
  insert(input: ProductInput): Promise<Product>;
  /**
   * Takes `quantity` from each product's stock, all or nothing, records it
   * under the reservation's id, and resolves with the products as they are
   * afterwards, in the order of `items` (one item per product). Throws a 404
   * for an unknown product and a 409 for one short of stock, naming it, a 409
   * for an id used before, and a 504 when `caller` gave up before the commit;
   * whatever it throws, no stock has changed.
   */
  reserve(reservation: Reservation, caller: CallerDeadline): Promise<Product[]>;
  /**
   * Gives a reservation's stock back and marks it released. Resolves false,
   * changing no stock, for a reservation released before or never made; a
   * never-made id is then recorded as released, so that a reserve with it
   * arriving late is refused.
   */
  release(reservationId: string): Promise<boolean>;
  /** Resolves when the store answers: what /readyz asks. */
  ping(): Promise<void>;
}

/** The faults products can play (docs/scenarios/). */
export const PRODUCTS_FAULTS = {
  'event-loop-block': 'GET /products computes synchronously for 150 ms, blocking every other request',
};

/** The products service's logic. The repository owns atomicity; this owns what a reservation means. */
export class ProductCatalog {
  constructor(
    private readonly repository: ProductRepository,
    private readonly faults?: FaultSwitches,
  ) {}

  async list(page: Page): Promise<ProductPage> {
    const { items, total } = await this.repository.list(page);
    if (this.faults?.enabled('event-loop-block')) rankBySimilaritySynchronously(150);
    return { items, page: { ...page, total } };
  }

  async get(id: number): Promise<Product> {
    const product = await this.repository.find(id);
    if (!product) throw productMissing(id);
    return product;
  }

  add(input: ProductInput): Promise<Product> {
    return this.repository.insert(input);
  }

  /**
   * Takes stock for every item or for none. An order may name the same
   * product on two lines; they are merged first, so "2 + 3 of product 7"
   * is checked against stock as 5, not as two separate 2 and 3.
   */
  reserve({ id, items }: Reservation, caller: CallerDeadline): Promise<Product[]> {
    const merged = new Map<number, number>();
    for (const { productId, quantity } of items) merged.set(productId, (merged.get(productId) ?? 0) + quantity);
    const lines = [...merged].map(([productId, quantity]) => ({ productId, quantity }));
    return this.repository.reserve({ id, items: lines }, caller);
  }

  release(reservationId: string): Promise<boolean> {
    return this.repository.release(reservationId);
  }
}

/**
 * The event-loop-block scenario's bug: CPU work done inline. While it runs,
 * no other request of this process, HTTP or gRPC, makes any progress.
 */
function rankBySimilaritySynchronously(milliseconds: number): void {
  const until = performance.now() + milliseconds;
  let score = 0;
  while (performance.now() < until) score = (score * 31 + 7) % 1_000_003;
  if (score < 0) throw new Error('unreachable');
}
