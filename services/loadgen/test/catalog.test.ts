import assert from 'node:assert/strict';
import { ensureCatalog, SEED_PRODUCTS, SEED_USERS, type CatalogOptions } from '../src/catalog';
import { closedPort, startFakeGateway, type FakeGateway } from './fake-gateway';

describe('the catalog the journeys use', () => {
  let gateway: FakeGateway | undefined;
  afterEach(async () => {
    await gateway?.close();
    gateway = undefined;
  });
  const options = (target: string, more: Partial<CatalogOptions> = {}): CatalogOptions => ({
    target,
    waitMs: 0,
    requestTimeoutMs: 2000,
    log: () => undefined,
    ...more,
  });
  const posts = (fake: FakeGateway) => fake.arrivals.filter((a) => a.method === 'POST');

  it('seeds an empty platform with the same users and products every time', async () => {
    gateway = await startFakeGateway({ users: 0, products: 0 });
    const catalog = await ensureCatalog(options(gateway.url));
    assert.deepEqual(catalog, { userIds: [1, 2, 3, 4, 5], productIds: [1, 2, 3, 4, 5, 6, 7, 8] });
    assert.deepEqual(
      posts(gateway).map((a) => [a.url, JSON.parse(a.body)]),
      [
        ...SEED_USERS.map((user) => ['/api/users', user]),
        ...SEED_PRODUCTS.map((product) => ['/api/products', product]),
      ],
    );
    // Run again: the data is there, nothing more is created.
    const before = posts(gateway).length;
    assert.deepEqual(await ensureCatalog(options(gateway.url)), catalog);
    assert.equal(posts(gateway).length, before);
  });

  it('uses the users and products already there, and creates none', async () => {
    gateway = await startFakeGateway({ users: 3, products: 2 });
    assert.deepEqual(await ensureCatalog(options(gateway.url)), { userIds: [1, 2, 3], productIds: [1, 2] });
    assert.equal(posts(gateway).length, 0);
  });

  it('leaves alone products whose stock would run out, and adds its own', async () => {
    gateway = await startFakeGateway({ users: 1, products: 2, stock: 10 });
    const catalog = await ensureCatalog(options(gateway.url));
    assert.deepEqual(catalog.productIds, [3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('waits for a gateway that is not answering yet, and says so', async () => {
    gateway = await startFakeGateway({ unavailableFor: 1 });
    const lines: string[] = [];
    const catalog = await ensureCatalog(options(gateway.url, { waitMs: 5000, log: (line) => lines.push(line) }));
    assert.equal(catalog.userIds.length, 5);
    assert.equal(gateway.arrivals.length, 3);
    assert.deepEqual(lines, [
      `waiting for the gateway at ${gateway.url} (503 {"error":{"code":"dependency_unavailable"}})`,
    ]);
  });

  it('gives up on an unreachable gateway after the wait, naming it', async () => {
    const target = `http://127.0.0.1:${await closedPort()}`;
    const began = Date.now();
    await assert.rejects(
      ensureCatalog(options(target, { waitMs: 1500 })),
      (error: Error) =>
        error.message === `the gateway at ${target} did not answer GET /api/users?limit=100: ECONNREFUSED`,
    );
    assert.ok(Date.now() - began >= 1000);
  });
});
