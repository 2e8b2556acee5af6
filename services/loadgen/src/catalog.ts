import { setTimeout as sleep } from 'node:timers/promises';
import type { Catalog } from './journeys';
import { failureKind } from './open-loop';

/** The data a fresh platform gets, always the same, so a fresh stack gets the same ids and the same requests. */
export const SEED_USERS = Array.from({ length: 5 }, (_, i) => ({
  name: `Load User ${i + 1}`,
  email: `load-user-${i + 1}@glassbox.example`,
}));
export const SEED_PRODUCTS = Array.from({ length: 8 }, (_, i) => ({
  name: `Load Product ${i + 1}`,
  priceCents: 499 + 250 * i,
  stock: 1_000_000_000,
}));
/** Products with less stock than this are left alone: orders would soon fail on them for a reason that is not a fault. */
export const MIN_STOCK = 100_000;

interface Page<T> {
  items: T[];
}

export interface CatalogOptions {
  target: string;
  /** How long to keep trying while the gateway (or a service behind it) is not answering yet. */
  waitMs: number;
  requestTimeoutMs: number;
  log: (line: string) => void;
  stop?: AbortSignal;
}

/**
 * The users and products the journeys will name, read through the gateway.
 * When there are none (no users; no products with plenty of stock), the
 * seed data is created first, so the generator works against an empty stack.
 */
export async function ensureCatalog(options: CatalogOptions): Promise<Catalog> {
  const client = new GatewayClient(options);
  let users = (await client.waitForList<{ id: number }>('/api/users?limit=100')).map((user) => user.id);
  if (users.length === 0) {
    for (const user of SEED_USERS) users.push((await client.create<{ id: number }>('/api/users', user)).id);
    options.log(`created ${users.length} users`);
  }
  const listed = await client.waitForList<{ id: number; stock: number }>('/api/products?limit=100');
  let products = listed.filter((product) => product.stock >= MIN_STOCK).map((product) => product.id);
  if (products.length === 0) {
    for (const product of SEED_PRODUCTS)
      products.push((await client.create<{ id: number }>('/api/products', product)).id);
    options.log(`created ${products.length} products`);
  }
  // Sorted, so the ids' order does not depend on how a page happens to be ordered.
  users = users.sort((a, b) => a - b);
  products = products.sort((a, b) => a - b);
  return { userIds: users, productIds: products };
}

class GatewayClient {
  constructor(private readonly options: CatalogOptions) {}

  /** GETs a list, retrying while the gateway is unreachable or answers 5xx, up to `waitMs`. */
  async waitForList<T>(path: string): Promise<T[]> {
    const deadline = Date.now() + this.options.waitMs;
    for (let attempt = 1; ; attempt++) {
      let problem: string;
      try {
        const response = await this.request('GET', path);
        if (response.status === 200) return ((await response.json()) as Page<T>).items;
        problem = `${response.status} ${await response.text()}`;
        if (response.status < 500) throw new Error(`GET ${path} answered ${problem}`);
      } catch (error) {
        if (this.options.stop?.aborted) throw error;
        // fetch fails with a TypeError when no connection could be made, or with the timeout's reason.
        problem = failureKind(error);
        if (!(error instanceof TypeError) && problem !== 'timeout') throw error;
      }
      if (Date.now() >= deadline) {
        throw new Error(`the gateway at ${this.options.target} did not answer GET ${path}: ${problem}`);
      }
      if (attempt === 1) this.options.log(`waiting for the gateway at ${this.options.target} (${problem})`);
      await sleep(1000, undefined, { signal: this.options.stop });
    }
  }

  async create<T>(path: string, body: unknown): Promise<T> {
    const response = await this.request('POST', path, JSON.stringify(body));
    if (response.status !== 201) throw new Error(`POST ${path} answered ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  }

  private request(method: string, path: string, body?: string): Promise<Response> {
    const timeout = AbortSignal.timeout(this.options.requestTimeoutMs);
    return fetch(this.options.target.replace(/\/$/, '') + path, {
      method,
      headers: {
        'user-agent': 'glassbox-loadgen',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body,
      signal: this.options.stop ? AbortSignal.any([timeout, this.options.stop]) : timeout,
    });
  }
}
