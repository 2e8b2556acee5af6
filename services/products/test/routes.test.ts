import assert from 'node:assert/strict';
import { call, captureLogs, startOnFreePort, type Running } from '@glassbox/service-kit/testing';
import { readConfig } from '../src/config';
import { buildProductsService } from '../src/main';

describe('products service over HTTP (in-memory repository)', () => {
  let products: Running;

  beforeEach(async () => {
    const config = readConfig({ STORAGE: 'memory', GRPC_PORT: '0' });
    products = await startOnFreePort(await buildProductsService(config, captureLogs('products').logger));
  });
  afterEach(() => products.stop());

  const add = (name: string, priceCents = 1999, stock = 5) =>
    call(products.url, 'POST', '/products', { body: { name, priceCents, stock } });

  it('adds a product, then serves it by id', async () => {
    const created = await add('  Teapot  ', 2450, 3);
    assert.equal(created.status, 201);
    assert.deepEqual(created.body, { id: 1, name: 'Teapot', priceCents: 2450, stock: 3 }, 'names are trimmed');
    assert.equal(created.headers.get('location'), '/products/1');

    const fetched = await call(products.url, 'GET', '/products/1');
    assert.equal(fetched.status, 200);
    assert.deepEqual(fetched.body, created.body);
  });

  it('accepts a product with no stock yet', async () => {
    const created = await add('Back-ordered kettle', 999, 0);
    assert.equal(created.status, 201);
    assert.equal(created.body.stock, 0);
  });

  it('lists products a page at a time and says how many there are', async () => {
    for (let i = 1; i <= 5; i++) await add(`product ${i}`);
    const page = await call(products.url, 'GET', '/products?limit=2&offset=1');
    assert.equal(page.status, 200);
    assert.deepEqual(
      page.body.items.map((p: { name: string }) => p.name),
      ['product 2', 'product 3'],
    );
    assert.deepEqual(page.body.page, { limit: 2, offset: 1, total: 5 });

    const defaults = await call(products.url, 'GET', '/products');
    assert.deepEqual(defaults.body.page, { limit: 20, offset: 0, total: 5 });
    assert.equal(defaults.body.items.length, 5);

    const largest = await call(products.url, 'GET', '/products?limit=100&offset=4');
    assert.equal(largest.status, 200);
    assert.deepEqual(
      largest.body.items.map((p: { name: string }) => p.name),
      ['product 5'],
    );

    const beyond = await call(products.url, 'GET', '/products?offset=10');
    assert.deepEqual(beyond.body, { items: [], page: { limit: 20, offset: 10, total: 5 } });
  });

  for (const [query, field] of [
    ['limit=0', 'query.limit'],
    ['limit=101', 'query.limit'],
    ['limit=ten', 'query.limit'],
    ['limit=2.5', 'query.limit'],
    ['offset=-1', 'query.offset'],
  ]) {
    it(`refuses a page outside its bounds (${query}) naming ${field}`, async () => {
      const reply = await call(products.url, 'GET', `/products?${query}`);
      assert.equal(reply.status, 400);
      assert.equal(reply.body.error.code, 'validation_failed');
      assert.equal(reply.body.error.details[0].field, field);
    });
  }

  const invalidBodies: Array<[string, unknown, string]> = [
    ['missing name', { priceCents: 100, stock: 1 }, 'body.name'],
    ['blank name', { name: '   ', priceCents: 100, stock: 1 }, 'body.name'],
    ['name of the wrong type', { name: 42, priceCents: 100, stock: 1 }, 'body.name'],
    ['zero price', { name: 'a', priceCents: 0, stock: 1 }, 'body.priceCents'],
    ['negative price', { name: 'a', priceCents: -5, stock: 1 }, 'body.priceCents'],
    ['fractional price', { name: 'a', priceCents: 10.5, stock: 1 }, 'body.priceCents'],
    ['price as a string', { name: 'a', priceCents: '100', stock: 1 }, 'body.priceCents'],
    ['price beyond a PostgreSQL integer', { name: 'a', priceCents: 2 ** 31, stock: 1 }, 'body.priceCents'],
    ['negative stock', { name: 'a', priceCents: 100, stock: -1 }, 'body.stock'],
    ['fractional stock', { name: 'a', priceCents: 100, stock: 1.5 }, 'body.stock'],
    ['missing stock', { name: 'a', priceCents: 100 }, 'body.stock'],
    ['unknown field', { name: 'a', priceCents: 100, stock: 1, discount: 10 }, 'body.discount'],
    ['an id of its own', { id: 7, name: 'a', priceCents: 100, stock: 1 }, 'body.id'],
    ['an array instead of an object', [], 'body'],
  ];
  for (const [what, body, field] of invalidBodies) {
    it(`refuses a product with ${what}, naming ${field}`, async () => {
      const reply = await call(products.url, 'POST', '/products', { body });
      assert.equal(reply.status, 400);
      assert.ok(
        reply.body.error.details.some((d: { field: string }) => d.field === field),
        JSON.stringify(reply.body),
      );
      assert.match(reply.body.error.message, new RegExp(field.replace('.', '\\.')));
      assert.equal((await call(products.url, 'GET', '/products')).body.page.total, 0, 'nothing was stored');
    });
  }

  it('refuses a body that is not JSON with 400', async () => {
    const reply = await call(products.url, 'POST', '/products', { raw: '{"name": "a",' });
    assert.equal(reply.status, 400);
    assert.equal(reply.body.error.code, 'malformed_json');
  });

  it('refuses a body that is not declared as JSON with 415', async () => {
    const reply = await call(products.url, 'POST', '/products', { raw: 'name=a', contentType: 'text/plain' });
    assert.equal(reply.status, 415);
  });

  it('refuses a missing body with 400 naming it', async () => {
    const reply = await call(products.url, 'POST', '/products');
    assert.equal(reply.status, 400);
    assert.equal(reply.body.error.details[0].field, 'body');
  });

  for (const id of ['abc', '0', '-3', '1.5', '99999999999']) {
    it(`answers 400, not 404, for an id of the wrong shape (${id})`, async () => {
      const reply = await call(products.url, 'GET', `/products/${id}`);
      assert.equal(reply.status, 400);
      assert.equal(reply.body.error.details[0].field, 'params.id');
    });
  }

  it('answers 404 with a JSON body for a product that does not exist', async () => {
    const reply = await call(products.url, 'GET', '/products/42');
    assert.equal(reply.status, 404);
    assert.deepEqual(reply.body.error, { code: 'not_found', message: 'product 42 does not exist' });
  });

  it('answers 405 for methods it does not offer: stock changes only through gRPC', async () => {
    const reply = await call(products.url, 'PUT', '/products/1', { body: { stock: 1_000_000 } });
    assert.equal(reply.status, 405);
    assert.match(reply.body.error.message, /allowed: .*GET/);
  });

  it('reports live and ready', async () => {
    assert.deepEqual((await call(products.url, 'GET', '/healthz')).body, { status: 'ok' });
    const ready = await call(products.management, 'GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { ready: true, checks: { memory: 'ok' } });
  });
});
