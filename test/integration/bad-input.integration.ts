import assert from 'node:assert/strict';
import { call } from '@glassbox/service-kit/testing';
import { resetDatabase, startSystem, TABLES, type System } from '../src/system';

interface BadRequest {
  what: string;
  method: string;
  path: string;
  body?: unknown;
  raw?: string;
  contentType?: string;
  /** A word the error message or its details must contain: the problem, named. */
  names: RegExp;
}

const order = (items: unknown, userId: unknown = 1) => ({ userId, items });

/** Malformed requests across every public route, each with what its answer must name. */
const BAD: BadRequest[] = [
  // users
  { what: 'broken JSON', method: 'POST', path: '/api/users', raw: '{"name":', names: /JSON/ },
  {
    what: 'form body',
    method: 'POST',
    path: '/api/users',
    raw: 'name=a',
    contentType: 'application/x-www-form-urlencoded',
    names: /application\/json/,
  },
  { what: 'missing name', method: 'POST', path: '/api/users', body: { email: 'x@example.org' }, names: /name/ },
  {
    what: 'name as a number',
    method: 'POST',
    path: '/api/users',
    body: { name: 5, email: 'x@example.org' },
    names: /name/,
  },
  { what: 'invalid email', method: 'POST', path: '/api/users', body: { name: 'a', email: 'nope' }, names: /email/ },
  {
    what: 'extra field on a user',
    method: 'POST',
    path: '/api/users',
    body: { name: 'a', email: 'b@example.org', role: 'admin' },
    names: /role/,
  },
  { what: 'a JSON array as a user', method: 'POST', path: '/api/users', body: [1, 2], names: /body/ },
  {
    what: 'oversized user body',
    method: 'POST',
    path: '/api/users',
    raw: JSON.stringify({ name: 'x'.repeat(70_000), email: 'a@example.org' }),
    names: /exceeds/,
  },
  { what: 'user id of the wrong shape', method: 'GET', path: '/api/users/abc', names: /id/ },
  { what: 'zero user id', method: 'GET', path: '/api/users/0', names: /id/ },
  { what: 'unknown user', method: 'GET', path: '/api/users/999999', names: /999999/ },
  {
    what: 'replace with a bad email',
    method: 'PUT',
    path: '/api/users/1',
    body: { name: 'a', email: 'bad' },
    names: /email/,
  },
  { what: 'delete an unknown user', method: 'DELETE', path: '/api/users/424242', names: /424242/ },
  { what: 'page too large', method: 'GET', path: '/api/users?limit=1000', names: /limit/ },
  { what: 'wrong method on users', method: 'PATCH', path: '/api/users/1', names: /PATCH/ },
  // products
  {
    what: 'product without a price',
    method: 'POST',
    path: '/api/products',
    body: { name: 'p', stock: 1 },
    names: /priceCents/,
  },
  {
    what: 'negative price',
    method: 'POST',
    path: '/api/products',
    body: { name: 'p', priceCents: -5, stock: 1 },
    names: /priceCents/,
  },
  {
    what: 'fractional stock',
    method: 'POST',
    path: '/api/products',
    body: { name: 'p', priceCents: 5, stock: 1.5 },
    names: /stock/,
  },
  {
    what: 'price as a string',
    method: 'POST',
    path: '/api/products',
    body: { name: 'p', priceCents: '5', stock: 1 },
    names: /priceCents/,
  },
  { what: 'product id of the wrong shape', method: 'GET', path: '/api/products/1e3', names: /id/ },
  { what: 'unknown product', method: 'GET', path: '/api/products/777777', names: /777777/ },
  { what: 'negative offset', method: 'GET', path: '/api/products?offset=-1', names: /offset/ },
  { what: 'wrong method on products', method: 'DELETE', path: '/api/products/1', names: /DELETE/ },
  // orders
  { what: 'order with no items', method: 'POST', path: '/api/orders', body: order([]), names: /items/ },
  {
    what: 'zero quantity',
    method: 'POST',
    path: '/api/orders',
    body: order([{ productId: 1, quantity: 0 }]),
    names: /quantity/,
  },
  {
    what: 'negative quantity',
    method: 'POST',
    path: '/api/orders',
    body: order([{ productId: 1, quantity: -1 }]),
    names: /quantity/,
  },
  {
    what: 'huge quantity',
    method: 'POST',
    path: '/api/orders',
    body: order([{ productId: 1, quantity: 10_000_000 }]),
    names: /quantity/,
  },
  {
    what: 'quantity as a string',
    method: 'POST',
    path: '/api/orders',
    body: order([{ productId: 1, quantity: '2' }]),
    names: /quantity/,
  },
  {
    what: 'product id as a string',
    method: 'POST',
    path: '/api/orders',
    body: order([{ productId: 'one', quantity: 1 }]),
    names: /productId/,
  },
  {
    what: 'missing user id',
    method: 'POST',
    path: '/api/orders',
    body: { items: [{ productId: 1, quantity: 1 }] },
    names: /userId/,
  },
  {
    what: 'unknown user on an order',
    method: 'POST',
    path: '/api/orders',
    body: order([{ productId: 1, quantity: 1 }], 555555),
    names: /555555/,
  },
  {
    what: 'unknown product on an order',
    method: 'POST',
    path: '/api/orders',
    body: order([{ productId: 888888, quantity: 1 }]),
    names: /888888/,
  },
  {
    what: 'more than the stock',
    method: 'POST',
    path: '/api/orders',
    body: order([{ productId: 1, quantity: 999 }]),
    names: /product 1/,
  },
  {
    what: 'extra field on an order',
    method: 'POST',
    path: '/api/orders',
    body: { ...order([{ productId: 1, quantity: 1 }]), discount: 50 },
    names: /discount/,
  },
  { what: 'items as an object', method: 'POST', path: '/api/orders', body: order({ productId: 1 }), names: /items/ },
  { what: 'order id of the wrong shape', method: 'GET', path: '/api/orders/-2', names: /id/ },
  { what: 'unknown order', method: 'GET', path: '/api/orders/123456', names: /123456/ },
  { what: 'order list without a user', method: 'GET', path: '/api/orders', names: /userId/ },
  { what: 'wrong method on orders', method: 'PUT', path: '/api/orders/1', names: /PUT/ },
  { what: 'a path nobody serves', method: 'GET', path: '/api/payments', names: /payments/ },
];

describe('bad input at the public API: always a 4xx that names the problem, never a 5xx, nothing stored', function () {
  this.timeout(60_000);
  let system: System;
  let initial: Record<string, number>;

  const counts = async () => {
    const result: Record<string, number> = {};
    for (const table of TABLES) {
      result[table] = (await system.db.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n as number;
    }
    return result;
  };

  it(`has at least 30 cases (${BAD.length})`, () => assert.ok(BAD.length >= 30));

  describe('each malformed request', () => {
    before(async () => {
      system = await startSystem();
      await resetDatabase(system.db);
      await call(system.gateway.url, 'POST', '/api/users', { body: { name: 'Kim', email: 'kim@example.org' } });
      await call(system.gateway.url, 'POST', '/api/products', { body: { name: 'Pen', priceCents: 150, stock: 5 } });
      initial = await counts();
    });
    after(async () => {
      if (system) {
        assert.deepEqual(await counts(), initial, 'no table changed');
        await system.stop();
      }
    });

    for (const bad of BAD) {
      it(`${bad.what}: ${bad.method} ${bad.path}`, async () => {
        const reply = await call(system.gateway.url, bad.method, bad.path, {
          ...(bad.raw !== undefined ? { raw: bad.raw, contentType: bad.contentType } : { body: bad.body }),
        });
        assert.ok(reply.status >= 400 && reply.status < 500, `status ${reply.status}: ${JSON.stringify(reply.body)}`);
        assert.equal(typeof reply.body?.error?.message, 'string', 'a JSON error body');
        const told = `${reply.body.error.message} ${JSON.stringify(reply.body.error.details ?? '')}`;
        assert.match(told, bad.names);
      });
    }
  });
});
