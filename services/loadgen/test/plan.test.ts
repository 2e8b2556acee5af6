import assert from 'node:assert/strict';
import { planRequests, type Catalog, type PlanOptions, type PlannedRequest } from '../src/journeys';

const catalog: Catalog = { userIds: [3, 4, 7, 9, 12], productIds: [1, 2, 5, 8, 13, 21, 34, 55] };
const options: PlanOptions = { seed: 42, rps: 50, durationMs: 60_000, profile: 'steady', catalog };

const plan = (overrides: Partial<PlanOptions> = {}) => [...planRequests({ ...options, ...overrides })];
/** What goes on the wire, without the timing. */
const wire = (requests: PlannedRequest[]) => requests.map(({ method, path, body }) => ({ method, path, body }));

describe('the planned request sequence', () => {
  it('is the same, request for request, for the same seed', () => {
    const first = plan();
    const second = plan();
    assert.equal(first.length, 3000);
    assert.deepEqual(second, first);
  });

  it('differs for a different seed', () => {
    const a = wire(plan({ seed: 42 }));
    const b = wire(plan({ seed: 43 }));
    assert.equal(a.length, b.length);
    const same = a.filter((request, i) => JSON.stringify(request) === JSON.stringify(b[i])).length;
    // Identical GETs of the product list happen to line up now and then; most requests must differ.
    assert.ok(same < a.length / 2, `${same} of ${a.length} requests identical`);
  });

  it('keeps what is sent when only the rate changes: the rate decides when, the seed decides what', () => {
    const slow = plan({ rps: 10, durationMs: 10_000 });
    const fast = plan({ rps: 100, durationMs: 1_000 });
    assert.deepEqual(wire(fast), wire(slow));
    assert.notDeepEqual(
      fast.map((r) => r.at),
      slow.map((r) => r.at),
    );
  });

  it('starts the same way for seed 42 as it always has (changing the generator changes everyone`s baseline)', () => {
    assert.deepEqual(wire(plan().slice(0, 4)), [
      { method: 'POST', path: '/api/orders', body: '{"userId":9,"items":[{"productId":34,"quantity":1}]}' },
      { method: 'POST', path: '/api/orders', body: '{"userId":12,"items":[{"productId":13,"quantity":2}]}' },
      { method: 'GET', path: '/api/products?limit=20', body: undefined },
      { method: 'GET', path: '/api/products/55', body: undefined },
    ]);
  });

  it('mixes the journeys, with about 5% invalid requests', () => {
    const requests = plan({ rps: 1000, durationMs: 20_000 });
    const share = (journey: string) => requests.filter((r) => r.journey === journey).length / requests.length;
    assert.ok(Math.abs(share('invalid input') - 0.05) < 0.01, `invalid: ${share('invalid input')}`);
    assert.ok(Math.abs(share('browse products') - 0.46) < 0.02, `browse: ${share('browse products')}`);
    for (const journey of ['view user', 'place order', 'list orders']) {
      assert.ok(share(journey) > 0.1, `${journey}: ${share(journey)}`);
    }
    // Browsing is a list, then one product from it, always in that order.
    requests.forEach((request, i) => {
      if (request.path === '/api/products?limit=20')
        assert.match(requests[i + 1]?.path ?? '/api/products/1', /^\/api\/products\/\d+$/);
    });
  });

  it('orders 1 to 3 of existing products for existing users, and expects them accepted', () => {
    const orders = plan().filter((r) => r.journey === 'place order');
    assert.ok(orders.length > 300);
    for (const request of orders) {
      const order = JSON.parse(request.body!) as {
        userId: number;
        items: Array<{ productId: number; quantity: number }>;
      };
      assert.ok(catalog.userIds.includes(order.userId));
      assert.ok(order.items.length >= 1 && order.items.length <= 2);
      assert.equal(new Set(order.items.map((item) => item.productId)).size, order.items.length, 'a product twice');
      for (const item of order.items) {
        assert.ok(catalog.productIds.includes(item.productId));
        assert.ok(item.quantity >= 1 && item.quantity <= 3);
      }
      assert.equal(request.expectedStatus, 201);
    }
  });

  it('names only existing ids in valid requests, and expects 400 or 404 for each kind of invalid one', () => {
    const requests = plan();
    for (const request of requests.filter((r) => r.journey !== 'invalid input')) {
      const id = /\/api\/(?:users|products)\/(\d+)$/.exec(request.path)?.[1] ?? /userId=(\d+)/.exec(request.path)?.[1];
      if (id === undefined) continue;
      const known = request.path.includes('/products/') ? catalog.productIds : catalog.userIds;
      assert.ok(known.includes(Number(id)), `${request.path} names an unknown id`);
    }
    const invalid = requests.filter((r) => r.journey === 'invalid input');
    const kinds = new Set(invalid.map((r) => `${r.method} ${r.path.replace(/\d+/g, ':id')} ${r.expectedStatus}`));
    assert.deepEqual([...kinds].sort(), [
      'GET /api/orders/:id 404',
      'GET /api/products/:id 404',
      'GET /api/users/:id 404',
      'POST /api/orders 400',
    ]);
    const bodies = invalid.filter((r) => r.method === 'POST').map((r) => r.body!);
    assert.ok(
      bodies.some((body) => !isJson(body)),
      'no malformed JSON',
    );
    assert.ok(
      bodies.some((body) => isJson(body) && body.includes('"quantity":0')),
      'no zero quantity',
    );
  });

  it('has no end when the duration is 0', () => {
    const endless = planRequests({ ...options, durationMs: 0 });
    let last: PlannedRequest | undefined;
    for (let i = 0; i < 100_000; i++) last = endless.next().value as PlannedRequest;
    assert.equal(last?.index, 99_999);
    assert.equal(last?.at, 99_999 * 20);
  });

  it('refuses an empty catalog', () => {
    assert.throws(() => plan({ catalog: { userIds: [], productIds: [1] } }), /at least one user/);
  });
});

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
