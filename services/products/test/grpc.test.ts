import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { createPool } from '@glassbox/service-kit';
import { call, captureLogs } from '@glassbox/service-kit/testing';
import { createProductsClient, GrpcStatus, type ProductsClient, type StockItem } from '../src/client';
import { readConfig } from '../src/config';
import { AppError, type Service, type Store as KitStore } from '@glassbox/service-kit';
import { grpcFailure } from './grpc-failure';
import { buildProductsService } from '../src/main';
import type { ProductRepository } from '../src/products';
import { InMemoryProductRepository, PostgresProductRepository } from '../src/repository';

const DEADLINE_MS = 2_000;

type Store = KitStore<ProductRepository>;

async function startProducts(store: Store, environment: NodeJS.ProcessEnv = {}): Promise<Service> {
  const config = readConfig({ STORAGE: 'memory', HOST: '127.0.0.1', PORT: '0', GRPC_PORT: '0', ...environment });
  const service = await buildProductsService(config, captureLogs('products').logger, { store });
  await service.start(0);
  return service;
}

const memoryStore = (repository = new InMemoryProductRepository()): Store => ({
  repository,
  close: () => Promise.resolve(),
});

/** Asserts that `promise` fails with gRPC status `code`, and that the status message matches. */
async function rejectsWith(promise: Promise<unknown>, code: GrpcStatus, details: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    const failure = grpcFailure(error);
    assert.equal(failure.code, code, `expected ${GrpcStatus[code]}, got ${failure.message}`);
    assert.match(failure.details, details);
    return true;
  });
}

describe('ProductService over gRPC, through the typed client', () => {
  let repository: InMemoryProductRepository;
  let service: Service;
  let products: ProductsClient;

  beforeEach(async () => {
    repository = new InMemoryProductRepository();
    await repository.insert({ name: 'Teapot', priceCents: 2450, stock: 10 });
    await repository.insert({ name: 'Cup', priceCents: 600, stock: 3 });
    await repository.insert({ name: 'Sold-out saucer', priceCents: 300, stock: 0 });
    service = await startProducts(memoryStore(repository));
    products = createProductsClient(`127.0.0.1:${service.ports().grpc}`, { deadlineMs: DEADLINE_MS });
  });
  afterEach(async () => {
    products.close();
    await service.stop();
  });

  const stockOf = async (id: number) => (await repository.find(id))?.stock;

  describe('GetProduct', () => {
    it('answers with the product and its stock', async () => {
      assert.deepEqual(await products.getProduct(1), { id: 1, name: 'Teapot', priceCents: 2450, stock: 10 });
    });

    it('says stock 0 for a sold-out product, rather than leaving the field out', async () => {
      assert.deepEqual(await products.getProduct(3), { id: 3, name: 'Sold-out saucer', priceCents: 300, stock: 0 });
    });

    it('answers NOT_FOUND naming a product that does not exist', async () => {
      await rejectsWith(products.getProduct(99), GrpcStatus.NOT_FOUND, /^product 99 does not exist$/);
    });

    it('answers INVALID_ARGUMENT for an id that is not positive', async () => {
      await rejectsWith(products.getProduct(0), GrpcStatus.INVALID_ARGUMENT, /id: must be a positive integer/);
      await rejectsWith(products.getProduct(-4), GrpcStatus.INVALID_ARGUMENT, /id: must be a positive integer/);
    });
  });

  describe('ReserveStock', () => {
    it('takes stock for every item and answers with the stock left, in the order asked', async () => {
      const reserved = await products.reserveStock(randomUUID(), [
        { productId: 2, quantity: 3 },
        { productId: 1, quantity: 4 },
      ]);
      assert.deepEqual(reserved, [
        { id: 2, name: 'Cup', priceCents: 600, stock: 0 },
        { id: 1, name: 'Teapot', priceCents: 2450, stock: 6 },
      ]);
      assert.equal(await stockOf(1), 6);
      assert.equal(await stockOf(2), 0);
    });

    it('counts two lines for the same product together', async () => {
      const reserved = await products.reserveStock(randomUUID(), [
        { productId: 1, quantity: 6 },
        { productId: 1, quantity: 4 },
      ]);
      assert.deepEqual(reserved, [{ id: 1, name: 'Teapot', priceCents: 2450, stock: 0 }]);

      await repository.insert({ name: 'Spoon', priceCents: 100, stock: 4 });
      await rejectsWith(
        products.reserveStock(randomUUID(), [
          { productId: 4, quantity: 3 },
          { productId: 4, quantity: 2 },
        ]),
        GrpcStatus.FAILED_PRECONDITION,
        /^product 4 has 4 in stock, 5 requested$/,
      );
      assert.equal(await stockOf(4), 4);
    });

    it('a reservation that exceeds stock fails with FAILED_PRECONDITION naming the product and changes nothing', async () => {
      await rejectsWith(
        products.reserveStock(randomUUID(), [
          { productId: 1, quantity: 2 },
          { productId: 2, quantity: 4 },
        ]),
        GrpcStatus.FAILED_PRECONDITION,
        /^product 2 has 3 in stock, 4 requested$/,
      );
      assert.equal(await stockOf(1), 10, 'the item that would have fitted was not taken either');
      assert.equal(await stockOf(2), 3);
    });

    it('a reservation naming an unknown product fails with NOT_FOUND naming it and changes nothing', async () => {
      await rejectsWith(
        products.reserveStock(randomUUID(), [
          { productId: 1, quantity: 1 },
          { productId: 42, quantity: 1 },
        ]),
        GrpcStatus.NOT_FOUND,
        /^product 42 does not exist$/,
      );
      assert.equal(await stockOf(1), 10);
    });

    const invalid: Array<[string, StockItem[], RegExp]> = [
      ['no items', [], /^items: must name at least one item$/],
      ['a quantity of 0', [{ productId: 1, quantity: 0 }], /^items\.0\.quantity: must be between 1 and 1000$/],
      ['a negative quantity', [{ productId: 1, quantity: -2 }], /^items\.0\.quantity: must be between 1 and 1000$/],
      [
        'a quantity over 1000',
        [
          { productId: 1, quantity: 1 },
          { productId: 2, quantity: 1001 },
        ],
        /^items\.1\.quantity: must be between 1 and 1000$/,
      ],
      ['a product id of 0', [{ productId: 0, quantity: 1 }], /^items\.0\.productId: must be a positive integer$/],
      [
        'more than 100 items',
        Array.from({ length: 101 }, () => ({ productId: 1, quantity: 1 })),
        /^items: must name at most 100 items$/,
      ],
    ];
    for (const [what, items, details] of invalid) {
      it(`refuses ${what} with INVALID_ARGUMENT and changes nothing`, async () => {
        await rejectsWith(products.reserveStock(randomUUID(), items), GrpcStatus.INVALID_ARGUMENT, details);
        assert.equal(await stockOf(1), 10);
        assert.equal(await stockOf(2), 3);
      });
    }

    it('lets exactly as many concurrent reservations through as there is stock', async () => {
      const attempts = await Promise.allSettled(
        Array.from({ length: 20 }, () => products.reserveStock(randomUUID(), [{ productId: 1, quantity: 1 }])),
      );
      const refused = attempts.filter((a): a is PromiseRejectedResult => a.status === 'rejected');
      assert.equal(attempts.length - refused.length, 10);
      for (const { reason } of refused) assert.equal(grpcFailure(reason).code, GrpcStatus.FAILED_PRECONDITION);
      assert.equal(await stockOf(1), 0);
    });

    it('refuses a reservation id used before with FAILED_PRECONDITION and takes nothing more', async () => {
      const id = randomUUID();
      await products.reserveStock(id, [{ productId: 1, quantity: 2 }]);
      await rejectsWith(
        products.reserveStock(id, [{ productId: 1, quantity: 2 }]),
        GrpcStatus.FAILED_PRECONDITION,
        new RegExp(`^reservation ${id} was made or released before`),
      );
      assert.equal(await stockOf(1), 8);
    });

    it('refuses a reservation id that is not a UUID with INVALID_ARGUMENT', async () => {
      await rejectsWith(
        products.reserveStock('order-7', [{ productId: 1, quantity: 1 }]),
        GrpcStatus.INVALID_ARGUMENT,
        /^reservationId: must be a UUID$/,
      );
      assert.equal(await stockOf(1), 10);
    });
  });

  describe('ReleaseStock', () => {
    it('gives a reservation’s stock back, once, however often it is asked', async () => {
      const id = randomUUID();
      await products.reserveStock(id, [
        { productId: 1, quantity: 4 },
        { productId: 2, quantity: 1 },
        { productId: 1, quantity: 2 },
      ]);
      assert.equal(await stockOf(1), 4);
      assert.equal(await products.releaseStock(id), true);
      assert.equal(await stockOf(1), 10);
      assert.equal(await stockOf(2), 3);
      assert.deepEqual(await Promise.all([products.releaseStock(id), products.releaseStock(id)]), [false, false]);
      assert.equal(await stockOf(1), 10, 'a retried release gives nothing back twice');
    });

    it('succeeds for an unknown reservation, and then refuses a reservation arriving late under its id', async () => {
      const id = randomUUID();
      assert.equal(await products.releaseStock(id), false);
      await rejectsWith(
        products.reserveStock(id, [{ productId: 1, quantity: 1 }]),
        GrpcStatus.FAILED_PRECONDITION,
        /was made or released before/,
      );
      assert.equal(await stockOf(1), 10);
    });

    it('refuses a reservation id that is not a UUID with INVALID_ARGUMENT', async () => {
      await rejectsWith(products.releaseStock(''), GrpcStatus.INVALID_ARGUMENT, /^reservationId: must be a UUID$/);
    });
  });
});

describe('ProductService when things go wrong', () => {
  const stopAfter: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const stop of stopAfter.splice(0).reverse()) await stop();
  });

  async function started(store: Store, environment?: NodeJS.ProcessEnv, deadlineMs = DEADLINE_MS) {
    const service = await startProducts(store, environment);
    stopAfter.push(() => service.stop());
    const client = createProductsClient(`127.0.0.1:${service.ports().grpc}`, { deadlineMs });
    stopAfter.push(() => client.close());
    return { service, client };
  }

  function slowRepository(delayMs: number): InMemoryProductRepository {
    const repository = new InMemoryProductRepository();
    const find = repository.find.bind(repository);
    repository.find = async (id) => {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return find(id);
    };
    return repository;
  }

  it('fails a call that outlives its deadline with DEADLINE_EXCEEDED, on time', async () => {
    const repository = slowRepository(1_000);
    await repository.insert({ name: 'Teapot', priceCents: 2450, stock: 1 });
    const { client } = await started(memoryStore(repository), {}, 100);
    const began = Date.now();
    await rejectsWith(client.getProduct(1), GrpcStatus.DEADLINE_EXCEEDED, /deadline/i);
    const waited = Date.now() - began;
    assert.ok(waited >= 90 && waited < 800, `gave up after ${waited} ms, not about 100`);
  });

  it('takes no stock for a reservation whose caller’s deadline passed while it waited', async () => {
    const repository = new InMemoryProductRepository();
    await repository.insert({ name: 'Teapot', priceCents: 2450, stock: 5 });
    let reached: () => void;
    const reachedRepository = new Promise<void>((resolve) => (reached = resolve));
    const reserve = repository.reserve.bind(repository);
    repository.reserve = async (reservation, caller) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      reached();
      return reserve(reservation, caller);
    };
    const { client } = await started(memoryStore(repository), {}, 100);
    await rejectsWith(
      client.reserveStock(randomUUID(), [{ productId: 1, quantity: 2 }]),
      GrpcStatus.DEADLINE_EXCEEDED,
      /deadline/i,
    );
    await reachedRepository;
    assert.equal((await repository.find(1))?.stock, 5, 'the reservation came too late and was not made');
  });

  it('answers UNAVAILABLE when the database is down, over gRPC; 503 over HTTP; not ready', async () => {
    const pool = createPool(
      {
        DB_HOST: '127.0.0.1',
        DB_PORT: await closedPort(),
        DB_USER: 'glassbox',
        DB_PASSWORD: 'glassbox',
        DB_NAME: 'glassbox',
        DB_POOL_SIZE: 2,
        DB_STATEMENT_TIMEOUT_MS: 1_000,
      },
      captureLogs('pg').logger,
    );
    const store = { repository: new PostgresProductRepository(pool), close: () => pool.end() };
    // The store is handed in, so the configured DB_* are never used; STORAGE names the readiness check.
    const { service, client } = await started(store, { STORAGE: 'postgres', DB_PASSWORD: 'unused' });

    await rejectsWith(client.getProduct(1), GrpcStatus.UNAVAILABLE, /^PostgreSQL is unavailable$/);
    await rejectsWith(
      client.reserveStock(randomUUID(), [{ productId: 1, quantity: 1 }]),
      GrpcStatus.UNAVAILABLE,
      /^PostgreSQL is unavailable$/,
    );

    const base = `http://127.0.0.1:${service.ports().http}`;
    const list = await call(base, 'GET', '/products');
    assert.equal(list.status, 503);
    assert.equal(list.body.error.code, 'dependency_unavailable');
    const ready = await call(`http://127.0.0.1:${service.ports().management}`, 'GET', '/readyz');
    assert.equal(ready.status, 503);
    assert.match(ready.body.checks.postgres, /^failed: PostgreSQL is unavailable/);
  });

  it('answers INTERNAL, not UNKNOWN, for a bug, without leaking its message', async () => {
    const repository = new InMemoryProductRepository();
    repository.reserve = () => Promise.reject(new TypeError('cannot read properties of undefined'));
    const { client } = await started(memoryStore(repository));
    await rejectsWith(
      client.reserveStock(randomUUID(), [{ productId: 1, quantity: 1 }]),
      GrpcStatus.INTERNAL,
      /^internal error$/,
    );
  });

  it('answers UNAVAILABLE when nothing listens at the address', async () => {
    const client = createProductsClient(`127.0.0.1:${await closedPort()}`, { deadlineMs: DEADLINE_MS });
    stopAfter.push(() => client.close());
    await rejectsWith(client.getProduct(1), GrpcStatus.UNAVAILABLE, /./);
  });

  it('lets a call in flight finish when the service stops, then refuses new ones', async () => {
    const repository = slowRepository(300);
    await repository.insert({ name: 'Teapot', priceCents: 2450, stock: 1 });
    const service = await startProducts(memoryStore(repository));
    const client = createProductsClient(`127.0.0.1:${service.ports().grpc}`, { deadlineMs: DEADLINE_MS });
    stopAfter.push(() => client.close());

    const inFlight = client.getProduct(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await service.stop();
    assert.equal((await inFlight).name, 'Teapot');
    await rejectsWith(client.getProduct(1), GrpcStatus.UNAVAILABLE, /./);
  });

  it('cuts a call still running after the shutdown timeout', async () => {
    const repository = slowRepository(5_000);
    await repository.insert({ name: 'Teapot', priceCents: 2450, stock: 1 });
    const service = await startProducts(memoryStore(repository), { SHUTDOWN_TIMEOUT_MS: '100' });
    const client = createProductsClient(`127.0.0.1:${service.ports().grpc}`, { deadlineMs: 10_000 });
    stopAfter.push(() => client.close());

    const inFlight = client.getProduct(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const began = Date.now();
    await service.stop();
    assert.ok(Date.now() - began < 1_000, 'stop() did not wait for the slow call');
    await assert.rejects(inFlight, AppError);
  });

  it('refuses a client without a usable deadline', () => {
    for (const deadlineMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => createProductsClient('127.0.0.1:1', { deadlineMs }), /deadlineMs must be a positive/);
    }
  });
});

/** A port nothing listens on: bound by us a moment ago, then released. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
