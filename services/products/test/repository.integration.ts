import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { AppError, createPool } from '@glassbox/service-kit';
import { call, captureLogs } from '@glassbox/service-kit/testing';
import { createProductsClient, GrpcStatus } from '../src/client';
import { grpcFailure } from './grpc-failure';
import { readConfig } from '../src/config';
import { buildProductsService } from '../src/main';
import type { StockItem } from '../src/products';
import { PostgresProductRepository } from '../src/repository';
import { patientCaller } from './reservations';
import { createScratchDatabase, type ScratchDatabase } from './scratch-database';

/** Asserts that `promise` rejects with an AppError of `status` whose message matches. */
async function rejectsWithStatus(promise: Promise<unknown>, status: number, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof AppError, String(error));
    assert.equal(error.status, status);
    assert.match(error.message, message);
    return true;
  });
}

describe('products on PostgreSQL', () => {
  let database: ScratchDatabase;
  let pool: pg.Pool;
  let repository: PostgresProductRepository;

  before(async () => {
    database = await createScratchDatabase('products');
    pool = createPool(database.config, captureLogs('pg').logger);
    repository = new PostgresProductRepository(pool);
    await repository.migrate();
  });
  after(async () => {
    await pool?.end();
    await database?.drop();
  });
  beforeEach(() => pool.query('TRUNCATE products, stock_reservations RESTART IDENTITY'));

  const stockOf = async (id: number) => (await repository.find(id))?.stock;
  const reserve = (items: StockItem[]) => repository.reserve({ id: randomUUID(), items }, patientCaller());

  it('migrates twice, and twice at once, without error or loss', async () => {
    await repository.insert({ name: 'Teapot', priceCents: 2450, stock: 3 });
    await repository.migrate();
    await Promise.all([repository.migrate(), repository.migrate()]);
    assert.deepEqual(await repository.find(1), { id: 1, name: 'Teapot', priceCents: 2450, stock: 3 });
  });

  it('stores products, finds them by id and lists them a page at a time in id order', async () => {
    const teapot = await repository.insert({ name: 'Teapot', priceCents: 2450, stock: 3 });
    assert.deepEqual(teapot, { id: 1, name: 'Teapot', priceCents: 2450, stock: 3 });
    for (let i = 2; i <= 5; i++) await repository.insert({ name: `product ${i}`, priceCents: i * 100, stock: i });

    assert.deepEqual(await repository.find(1), teapot);
    assert.equal(await repository.find(99), undefined);

    const page = await repository.list({ limit: 2, offset: 1 });
    assert.equal(page.total, 5);
    assert.deepEqual(
      page.items.map((p) => p.id),
      [2, 3],
    );
    assert.deepEqual(await repository.list({ limit: 10, offset: 5 }), { items: [], total: 5 });
  });

  it('refuses, in the database itself, stock below zero and a price of zero', async () => {
    await assert.rejects(pool.query(`INSERT INTO products (name, price_cents, stock) VALUES ('x', 100, -1)`), /check/);
    await assert.rejects(pool.query(`INSERT INTO products (name, price_cents, stock) VALUES ('x', 0, 1)`), /check/);
  });

  it('reserves every item in one go and answers with the stock left, in the order asked', async () => {
    await repository.insert({ name: 'Teapot', priceCents: 2450, stock: 10 });
    await repository.insert({ name: 'Cup', priceCents: 600, stock: 3 });
    const reserved = await reserve([
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

  it('a reservation that exceeds stock changes nothing, not even the items that fitted', async () => {
    await repository.insert({ name: 'Teapot', priceCents: 2450, stock: 10 });
    await repository.insert({ name: 'Cup', priceCents: 600, stock: 3 });
    await rejectsWithStatus(
      reserve([
        { productId: 1, quantity: 5 },
        { productId: 2, quantity: 4 },
      ]),
      409,
      /^product 2 has 3 in stock, 4 requested$/,
    );
    assert.equal(await stockOf(1), 10, 'the UPDATE of product 1 was rolled back');
    assert.equal(await stockOf(2), 3);
  });

  it('a reservation naming an unknown product changes nothing and names it', async () => {
    await repository.insert({ name: 'Teapot', priceCents: 2450, stock: 10 });
    await rejectsWithStatus(
      reserve([
        { productId: 1, quantity: 1 },
        { productId: 7, quantity: 1 },
      ]),
      404,
      /^product 7 does not exist$/,
    );
    assert.equal(await stockOf(1), 10);
  });

  it('lets exactly 10 of 20 concurrent reservations of 1 through against a stock of 10', async () => {
    await repository.insert({ name: 'Teapot', priceCents: 2450, stock: 10 });
    const attempts = await Promise.allSettled(
      Array.from({ length: 20 }, () => reserve([{ productId: 1, quantity: 1 }])),
    );
    const refused = attempts.filter((a): a is PromiseRejectedResult => a.status === 'rejected');
    assert.equal(attempts.length - refused.length, 10);
    for (const { reason } of refused) {
      assert.equal((reason as AppError).status, 409, String(reason));
    }
    assert.equal(await stockOf(1), 0);
  });

  it('never deadlocks when concurrent reservations name the same products in opposite orders', async () => {
    await repository.insert({ name: 'Teapot', priceCents: 2450, stock: 1000 });
    await repository.insert({ name: 'Cup', priceCents: 600, stock: 1000 });
    const forwards = [
      { productId: 1, quantity: 1 },
      { productId: 2, quantity: 1 },
    ];
    const backwards = [...forwards].reverse();
    const attempts = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) => reserve(i % 2 ? forwards : backwards)),
    );
    assert.deepEqual(
      attempts.filter((a) => a.status === 'rejected'),
      [],
    );
    assert.equal(await stockOf(1), 960);
    assert.equal(await stockOf(2), 960);
  });

  it('gives a reservation back once, and remembers an unknown one as released so it can not be made late', async () => {
    await repository.insert({ name: 'Teapot', priceCents: 2450, stock: 10 });
    const id = randomUUID();
    await repository.reserve({ id, items: [{ productId: 1, quantity: 4 }] }, patientCaller());
    assert.deepEqual(await Promise.all([repository.release(id), repository.release(id)]).then((r) => r.sort()), [
      false,
      true,
    ]);
    assert.equal(await stockOf(1), 10);

    const neverMade = randomUUID();
    assert.equal(await repository.release(neverMade), false);
    await rejectsWithStatus(
      repository.reserve({ id: neverMade, items: [{ productId: 1, quantity: 1 }] }, patientCaller()),
      409,
      /was made or released before/,
    );
    assert.equal(await stockOf(1), 10);
  });

  describe('while another transaction holds the product’s row lock', () => {
    let holder: pg.PoolClient;
    const unlock = async () => {
      await holder.query('ROLLBACK');
      holder.release();
    };
    beforeEach(async () => {
      await repository.insert({ name: 'Teapot', priceCents: 2450, stock: 5 });
      holder = await pool.connect();
      await holder.query('BEGIN');
      await holder.query('SELECT stock FROM products WHERE id = 1 FOR UPDATE');
    });
    const heldReservations = async () =>
      (await pool.query('SELECT count(*)::int AS n FROM stock_reservations WHERE released_at IS NULL')).rows[0].n;

    it('gives up when the caller’s deadline passes, takes nothing, and leaves no reservation', async () => {
      const began = Date.now();
      await rejectsWithStatus(
        repository.reserve(
          { id: randomUUID(), items: [{ productId: 1, quantity: 2 }] },
          { at: Date.now() + 300, signal: AbortSignal.timeout(300) },
        ),
        504,
        /^the caller stopped waiting before the reservation was committed; nothing was taken$/,
      );
      const waited = Date.now() - began;
      assert.ok(waited >= 250 && waited < 1_000, `gave up after ${waited} ms, not at the 300 ms deadline`);
      await unlock();
      assert.equal(await stockOf(1), 5);
      assert.equal(await heldReservations(), 0);
    });

    it('rolls back instead of committing when the caller cancels while it waits', async () => {
      const cancelled = new AbortController();
      const refused = rejectsWithStatus(
        repository.reserve(
          { id: randomUUID(), items: [{ productId: 1, quantity: 2 }] },
          { at: Infinity, signal: cancelled.signal },
        ),
        504,
        /caller stopped waiting/,
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      cancelled.abort();
      await unlock();
      await refused;
      assert.equal(await stockOf(1), 5);
      assert.equal(await heldReservations(), 0);
    });

    it('a release sent while its reservation still waits gives the stock back once that reservation commits', async () => {
      const id = randomUUID();
      const reserving = repository.reserve({ id, items: [{ productId: 1, quantity: 2 }] }, patientCaller());
      await new Promise((resolve) => setTimeout(resolve, 100));
      const releasing = repository.release(id);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await unlock();
      assert.equal((await reserving)[0]?.stock, 3);
      assert.equal(await releasing, true, 'the release waited for the reservation, then undid it');
      assert.equal(await stockOf(1), 5);
    });
  });

  it('answers ping', async () => {
    await repository.ping();
  });
});

describe('products service on PostgreSQL, over HTTP and gRPC', () => {
  let database: ScratchDatabase;

  before(async () => {
    database = await createScratchDatabase('products_service');
  });
  after(() => database?.drop());

  it('migrates at start, serves what HTTP added to gRPC, and reserves from it', async () => {
    const config = readConfig({ ...database.environment, HOST: '127.0.0.1', PORT: '0', GRPC_PORT: '0' });
    assert.equal(config.STORAGE, 'postgres');
    const service = await buildProductsService(config, captureLogs('products').logger);
    await service.start(0);
    const products = createProductsClient(`127.0.0.1:${service.ports().grpc}`, { deadlineMs: 5_000 });
    try {
      const base = `http://127.0.0.1:${service.ports().http}`;
      const created = await call(base, 'POST', '/products', { body: { name: 'Teapot', priceCents: 2450, stock: 2 } });
      assert.equal(created.status, 201);

      assert.deepEqual(await products.getProduct(created.body.id), created.body);
      const [reserved] = await products.reserveStock(randomUUID(), [{ productId: created.body.id, quantity: 2 }]);
      assert.equal(reserved?.stock, 0);
      await assert.rejects(
        products.reserveStock(randomUUID(), [{ productId: created.body.id, quantity: 1 }]),
        (error) => grpcFailure(error).code === GrpcStatus.FAILED_PRECONDITION,
      );

      assert.equal((await call(base, 'GET', `/products/${created.body.id}`)).body.stock, 0);

      const reservationId = randomUUID();
      const refill = await call(base, 'POST', '/products', { body: { name: 'Cup', priceCents: 600, stock: 4 } });
      const pool = createPool(database.config, captureLogs('pg').logger);
      const holder = await pool.connect();
      try {
        await holder.query('BEGIN');
        await holder.query('SELECT stock FROM products WHERE id = $1 FOR UPDATE', [refill.body.id]);
        const impatient = createProductsClient(`127.0.0.1:${service.ports().grpc}`, { deadlineMs: 300 });
        await assert.rejects(
          impatient.reserveStock(reservationId, [{ productId: refill.body.id, quantity: 1 }]),
          (error) => grpcFailure(error).code === GrpcStatus.DEADLINE_EXCEEDED,
        );
        impatient.close();
        // The server's own wait ends with the caller's deadline (lock_timeout), not when the lock goes.
        await new Promise((resolve) => setTimeout(resolve, 200));
        const waiting = await pool.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        );
        assert.equal(waiting.rows[0].n, 0, 'no reservation still waits for the lock');
      } finally {
        await holder.query('ROLLBACK');
        holder.release();
        await pool.end();
      }
      assert.equal((await call(base, 'GET', `/products/${refill.body.id}`)).body.stock, 4, 'nothing was taken');
      assert.equal(await products.releaseStock(reservationId), false, 'and nothing is there to release');
      assert.deepEqual((await call(`http://127.0.0.1:${service.ports().management}`, 'GET', '/readyz')).body, {
        ready: true,
        checks: { postgres: 'ok' },
      });
    } finally {
      products.close();
      await service.stop();
    }
  });
});
