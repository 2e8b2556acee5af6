/**
 * Each fault scenario of docs/scenarios/, played against the running stack:
 * switch it on, drive load, see the symptom where the scenario's doc says it
 * shows, switch it off, see the recovery. The windows are short (30 s rates)
 * so the suite takes minutes, not hours; the dashboards use 5 m.
 */
import assert from 'node:assert/strict';
import { call } from '@glassbox/service-kit/testing';
import { endpoints, getJson, jaegerTrace, newTraceparent, promQuery } from '../src/endpoints';
import { fault } from '../src/faults';
import { eventually } from '../src/system';

/** Sends `request` every `intervalMs` until stopped (open loop: never waits for answers). */
function steadyLoad(request: () => Promise<unknown>, intervalMs: number): { stop: () => Promise<void> } {
  const inFlight = new Set<Promise<unknown>>();
  const timer = setInterval(() => {
    const sent = request().catch(() => undefined);
    inFlight.add(sent);
    void sent.finally(() => inFlight.delete(sent));
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(inFlight);
    },
  };
}

const value = async (query: string) => Number((await promQuery(query))[0]?.value[1] ?? Number.NaN);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('fault scenarios: switched on, seen, switched off, recovered', function () {
  this.timeout(300_000);
  let userId: number;
  let productId: number;

  before(async () => {
    const stamp = Date.now();
    userId = (
      await call(endpoints.gateway, 'POST', '/api/users', {
        body: { name: 'Scenario', email: `scenario-${stamp}@example.org` },
      })
    ).body.id;
    productId = (
      await call(endpoints.gateway, 'POST', '/api/products', {
        body: { name: `scenario ${stamp}`, priceCents: 100, stock: 100_000 },
      })
    ).body.id;
  });

  it('slow-sql: the p99 of users GET /users/:id rises above 300 ms, one SQL span is slow; then it recovers', async () => {
    const p99 =
      'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{job="users",route="/users/:id"}[30s])))';
    await fault('users', 'slow-sql', true);
    const load = steadyLoad(() => call(endpoints.gateway, 'GET', `/api/users/${userId}`), 100);
    try {
      await eventually(async () => (await value(p99)) > 0.3, 'users p99 above 300 ms', 90_000);
      const { traceId, traceparent } = newTraceparent();
      await call(endpoints.gateway, 'GET', `/api/users/${userId}`, { headers: { traceparent } });
      const trace = await eventually(() => jaegerTrace(traceId), 'the slow trace in Jaeger', 30_000);
      const sql = trace.spans.find((s) => s.operationName.startsWith('pg.query'));
      assert.ok(sql, 'the trace has the SQL span');
      assert.ok(sql.duration >= 390_000, `and it is the slow one: ${sql.duration} µs`);
    } finally {
      await fault('users', 'slow-sql', false);
    }
    try {
      await sleep(5_000); // no request from before the switch is still in the window's newest scrape
      const slowShare = `1 - (sum(rate(http_request_duration_seconds_bucket{job="users",route="/users/:id",le="0.3"}[30s])) / sum(rate(http_request_duration_seconds_count{job="users",route="/users/:id"}[30s])))`;
      await eventually(async () => (await value(slowShare)) === 0, 'no slow users requests in the last 30 s', 90_000);
    } finally {
      await load.stop();
    }
  });

  it('error-burst: users answers 5xx, the errors are exception spans in Jaeger; then it recovers', async () => {
    const errors =
      'sum(rate(http_requests_total{job="users",route="/users/:id",status_code="500"}[30s])) / sum(rate(http_requests_total{job="users",route="/users/:id"}[30s]))';
    await fault('users', 'error-burst', true);
    const load = steadyLoad(() => call(endpoints.gateway, 'GET', `/api/users/${userId}`), 100);
    try {
      await eventually(async () => (await value(errors)) > 0.1, 'users error ratio above 10%', 90_000);
      const { body } = await getJson<{
        data: Array<{
          spans: Array<{
            tags: Array<{ key: string; value: unknown }>;
            logs: Array<{ fields: Array<{ key: string; value: unknown }> }>;
          }>;
        }>;
      }>(
        `${endpoints.jaeger}/api/traces?service=users&tags=${encodeURIComponent('{"http.response.status_code":"500"}')}&limit=5&lookback=5m`,
      );
      const messages = body.data
        .flatMap((t) => t.spans.flatMap((s) => s.logs.flatMap((l) => l.fields)))
        .filter((f) => f.key === 'exception.message');
      assert.ok(
        messages.some((m) => String(m.value).includes('corrupt entry')),
        'the exception is on the span',
      );
    } finally {
      await fault('users', 'error-burst', false);
    }
    try {
      await sleep(5_000);
      const recent = 'sum(increase(http_requests_total{job="users",route="/users/:id",status_code="500"}[30s]))';
      await eventually(async () => (await value(recent)) === 0, 'no users 5xx in the last 30 s', 90_000);
    } finally {
      await load.stop();
    }
  });

  it('n-plus-one: GET /orders?userId= becomes a ladder of one SELECT per order; then one query again', async () => {
    for (let i = 0; i < 8; i++) {
      await call(endpoints.gateway, 'POST', '/api/orders', { body: { userId, items: [{ productId, quantity: 1 }] } });
    }
    const selects = async () => {
      const { traceId, traceparent } = newTraceparent();
      const reply = await call(endpoints.gateway, 'GET', `/api/orders?userId=${userId}&limit=8`, {
        headers: { traceparent },
      });
      assert.equal(reply.status, 200);
      const trace = await eventually(
        async () => {
          const found = await jaegerTrace(traceId);
          return found?.spans.some((s) => s.operationName === 'GET /orders') ? found : undefined;
        },
        'the list trace',
        30_000,
      );
      return trace.spans.filter((s) => s.operationName.startsWith('pg.query:SELECT')).length;
    };
    await fault('orders', 'n-plus-one', true);
    try {
      assert.ok((await selects()) >= 9, '1 + N SELECT spans for N = 8 orders');
    } finally {
      await fault('orders', 'n-plus-one', false);
    }
    assert.ok((await selects()) <= 2, 'the fixed query: one SELECT (and one count)');
  });

  it('stalled-consumer: the notifications queue backs up; then it drains', async () => {
    const ready = 'sum(rabbitmq_queue_messages_ready)';
    await fault('notifications', 'stalled-consumer', true);
    try {
      // ~3 messages/s get through while stalled: 100 orders keep a backlog for half a minute,
      // longer than Prometheus' 15 s scrape interval and RabbitMQ's own 5 s statistics interval.
      for (let i = 0; i < 100; i++) {
        await call(endpoints.gateway, 'POST', '/api/orders', { body: { userId, items: [{ productId, quantity: 1 }] } });
      }
      await eventually(async () => (await value(ready)) >= 10, 'a backlog of 10+ ready messages in RabbitMQ', 90_000);
    } finally {
      await fault('notifications', 'stalled-consumer', false);
    }
    await eventually(async () => (await value(ready)) === 0, 'the queue drained', 120_000);
  });

  it('event-loop-block: products’ event-loop lag and latency rise; then they recover', async () => {
    const lag = 'max(nodejs_eventloop_lag_p99_seconds{job="products"})';
    await fault('products', 'event-loop-block', true);
    // Each list blocks the loop for 150 ms: at 2 a second the process is 30% blocked, enough
    // for the lag to show, and the admin call that switches the fault off still gets through.
    const load = steadyLoad(() => call(endpoints.gateway, 'GET', '/api/products?limit=5'), 500);
    try {
      await eventually(async () => (await value(lag)) > 0.1, 'products event-loop lag p99 above 100 ms', 90_000);
    } finally {
      await fault('products', 'event-loop-block', false);
    }
    try {
      await eventually(async () => (await value(lag)) < 0.05, 'products event-loop lag back under 50 ms', 90_000);
    } finally {
      await load.stop();
    }
  });
});
