import { z } from 'zod';
import { AppError, notFound, type FaultSwitches, type Page } from '@glassbox/service-kit';

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
  name: z.string().trim().min(1, 'required').max(200),
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

export const reservationInput = z.object({
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

/** Where products are kept: PostgreSQL, or memory for fast tests (repository.ts). */
export interface ProductRepository {
  list(page: Page): Promise<{ items: Product[]; total: number }>;
  find(id: number): Promise<Product | undefined>;
  insert(input: ProductInput): Promise<Product>;
  /**
   * Takes `quantity` from each product's stock, all or nothing, and resolves
   * with the products as they are afterwards, in the order of `items` (one
   * item per product). Throws a 404 for an unknown product and a 409 for one
   * short of stock, naming it; either way no stock has changed.
   */
  reserve(items: StockItem[]): Promise<Product[]>;
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
  reserve(items: StockItem[]): Promise<Product[]> {
    const merged = new Map<number, number>();
    for (const { productId, quantity } of items) merged.set(productId, (merged.get(productId) ?? 0) + quantity);
    return this.repository.reserve([...merged].map(([productId, quantity]) => ({ productId, quantity })));
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
