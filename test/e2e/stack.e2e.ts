import assert from 'node:assert/strict';
import { call } from '@glassbox/service-kit/testing';
import {
  endpoints,
  getJson,
  jaegerTrace,
  newTraceparent,
  promQuery,
  type JaegerSpan,
  type JaegerTrace,
} from '../src/endpoints';
import { eventually } from '../src/system';

const HTTP_SERVICES = ['gateway', 'users', 'products', 'orders', 'notifications'];
const tag = (span: JaegerSpan, key: string) => span.tags.find((t) => t.key === key)?.value;
const serviceOf = (trace: JaegerTrace, span: JaegerSpan) => trace.processes[span.processID]?.serviceName;
const parentOf = (trace: JaegerTrace, span: JaegerSpan) =>
  trace.spans.find((s) => s.spanID === span.references.find((r) => r.refType === 'CHILD_OF')?.spanID);

/** Complete: the consumer's own PostgreSQL INSERT is in (the last thing an order causes). */
function complete(trace: JaegerTrace | undefined): boolean {
  if (!trace) return false;
  return trace.spans.some((s) => serviceOf(trace, s) === 'notifications' && tag(s, 'db.system.name') === 'postgresql');
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;

describe('end to end, against the running stack (native or docker compose)', function () {
  this.timeout(180_000);
  let userId: number;
  let productId: number;
  const placed: Array<{ traceId: string; orderId: number; answeredAt: number }> = [];
  /** Per order, resolves with the ms from its response to its trace being complete in Jaeger. */
  const freshness: Array<Promise<number>> = [];
  const suiteStarted = Date.now();

  before(async () => {
    const stamp = Date.now();
    const user = await call(endpoints.gateway, 'POST', '/api/users', {
      body: { name: 'E2E', email: `e2e-${stamp}@example.org` },
    });
    assert.equal(user.status, 201, JSON.stringify(user.body));
    const product = await call(endpoints.gateway, 'POST', '/api/products', {
      body: { name: `e2e ${stamp}`, priceCents: 990, stock: 1000 },
    });
    assert.equal(product.status, 201, JSON.stringify(product.body));
    userId = user.body.id;
    productId = product.body.id;

    for (let i = 0; i < 20; i++) {
      const { traceId, traceparent } = newTraceparent();
      const reply = await call(endpoints.gateway, 'POST', '/api/orders', {
        body: { userId, items: [{ productId, quantity: 1 }] },
        headers: { traceparent },
      });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      const answeredAt = Date.now();
      placed.push({ traceId, orderId: reply.body.id, answeredAt });
      // Polling starts the moment the order is answered, so the figure is the real delay (to 100 ms).
      const delay = eventually(
        async () => complete(await jaegerTrace(traceId)),
        `trace ${traceId} complete`,
        90_000,
      ).then(() => Date.now() - answeredAt);
      delay.catch(() => undefined); // awaited by the freshness test; this only keeps an early failure from being "unhandled"
      freshness.push(delay);
    }
  });

  it('finds the centrepiece trace in Jaeger, every service in it, linked across HTTP, gRPC and RabbitMQ', async () => {
    const { traceId } = placed[0]!;
    const trace = await eventually(
      async () => {
        const found = await jaegerTrace(traceId);
        return complete(found) ? found : undefined;
      },
      `trace ${traceId} complete in Jaeger`,
      60_000,
    );

    const services = new Set(trace.spans.map((s) => serviceOf(trace, s)));
    for (const service of HTTP_SERVICES)
      assert.ok(services.has(service), `${service} missing from ${[...services].join(', ')}`);

    const find = (what: string, match: (s: JaegerSpan) => boolean) => {
      const span = trace.spans.find(match);
      assert.ok(
        span,
        `no ${what} among ${trace.spans.map((s) => `${serviceOf(trace, s)}:${s.operationName}`).join(', ')}`,
      );
      return span;
    };
    const kind = (s: JaegerSpan) => tag(s, 'span.kind');
    const ordersServer = find(
      'orders SERVER',
      (s) => serviceOf(trace, s) === 'orders' && s.operationName === 'POST /orders',
    );
    assert.equal(serviceOf(trace, parentOf(trace, ordersServer)!), 'gateway', 'HTTP: orders is called by the gateway');
    const usersServer = find('users SERVER', (s) => serviceOf(trace, s) === 'users' && kind(s) === 'server');
    assert.equal(serviceOf(trace, parentOf(trace, usersServer)!), 'orders', 'HTTP: users is called by orders');
    const grpcServer = find(
      'products gRPC SERVER',
      (s) => serviceOf(trace, s) === 'products' && kind(s) === 'server' && s.operationName.includes('ReserveStock'),
    );
    const grpcClient = parentOf(trace, grpcServer)!;
    assert.equal(serviceOf(trace, grpcClient), 'orders', 'gRPC: products is called by orders');
    assert.equal(kind(grpcClient), 'client');
    const consume = find(
      'notifications CONSUMER',
      (s) => serviceOf(trace, s) === 'notifications' && kind(s) === 'consumer',
    );
    const publish = parentOf(trace, consume)!;
    assert.equal(serviceOf(trace, publish), 'orders', 'RabbitMQ: the message was published by orders');
    assert.equal(kind(publish), 'producer');
  });

  it('has every trace complete in Jaeger soon after its order was answered (freshness)', async () => {
    const delays = await Promise.all(freshness);
    delays.sort((a, b) => a - b);
    console.log(
      `      freshness over ${delays.length} orders: p50 ${quantile(delays, 0.5)} ms, p95 ${quantile(delays, 0.95)} ms (Jaeger polled every 100 ms from the moment each order was answered)`,
    );
    assert.equal(delays.length, placed.length);
  });

  it('scrapes every target with up == 1', async () => {
    const targets = await eventually(
      async () => {
        const samples = await promQuery('up');
        const jobs = new Set(samples.map((s) => s.metric.job));
        return HTTP_SERVICES.every((job) => jobs.has(job)) && samples.every((s) => s.value[1] === '1')
          ? samples
          : undefined;
      },
      'every target up',
      90_000,
    );
    console.log(
      `      targets up: ${targets
        .map((t) => t.metric.job)
        .sort()
        .join(', ')}`,
    );
  });

  it('has the prom-client RED series for every HTTP service', async () => {
    for (const job of HTTP_SERVICES.filter((s) => s !== 'notifications')) {
      await eventually(
        async () => (await promQuery(`http_requests_total{job="${job}"}`)).length > 0,
        `http_requests_total for ${job}`,
        60_000,
      );
      await eventually(
        async () => (await promQuery(`http_request_duration_seconds_bucket{job="${job}"}`)).length > 0,
        `latency histogram for ${job}`,
        60_000,
      );
    }
    const orders = await promQuery(
      'sum(http_requests_total{job="orders",route="/orders",method="POST",status_code="201"})',
    );
    assert.ok(Number(orders[0]?.value[1]) >= placed.length, 'the placed orders are counted, by route template');
  });

  it('has span metrics per service from the collector', async () => {
    await eventually(
      async () => {
        const samples = await promQuery('sum by (service_name) (traces_span_metrics_calls_total)');
        const counted = new Map(samples.map((s) => [s.metric.service_name, Number(s.value[1])]));
        return HTTP_SERVICES.every((service) => (counted.get(service) ?? 0) > 0);
      },
      'span metrics counting calls for every service',
      90_000,
    );
  });

  it('shows the edges of the service graph: gateway→orders, orders→users, orders→products, orders→notifications', async () => {
    const expected = ['gateway→orders', 'orders→users', 'orders→products', 'orders→notifications'];
    // From the collector's servicegraph connector where it runs (compose); the
    // native collector is built without it, and then Jaeger's own dependency
    // graph, computed from the same spans, must show the same edges.
    const graph = await promQuery('sum by (client, server) (traces_service_graph_request_total)');
    let edges: Set<string>;
    if (graph.length > 0) {
      edges = new Set(graph.map((s) => `${s.metric.client}→${s.metric.server}`));
    } else {
      const { body } = await getJson<{ data: Array<{ parent: string; child: string }> }>(
        `${endpoints.jaeger}/api/dependencies?endTs=${Date.now()}&lookback=3600000`,
      );
      edges = new Set(body.data.map((d) => `${d.parent}→${d.child}`));
      console.log('      service graph from Jaeger /api/dependencies (no servicegraph connector in this collector)');
    }
    for (const edge of expected) assert.ok(edges.has(edge), `edge ${edge} missing from ${[...edges].join(', ')}`);
  });

  it('keeps exemplars whose trace ids open in Jaeger', async () => {
    // Only exemplars of this run: an older one may name a trace that Jaeger's
    // memory store has since let go.
    const since = suiteStarted / 1000;
    const exemplars = await eventually(
      async () => {
        const { body } = await getJson<{
          data: Array<{ exemplars: Array<{ labels: Record<string, string>; timestamp: number }> }>;
        }>(
          `${endpoints.prometheus}/api/v1/query_exemplars?query=${encodeURIComponent('http_request_duration_seconds_bucket{job="orders"}')}&start=${since}&end=${Date.now() / 1000 + 60}`,
        );
        const ids = body.data
          .flatMap((series) => series.exemplars)
          .filter((e) => e.timestamp >= since && e.labels.trace_id)
          .map((e) => e.labels.trace_id as string);
        return ids.length > 0 ? ids : undefined;
      },
      'exemplars on the orders latency histogram',
      90_000,
    );
    for (const traceId of exemplars.slice(0, 5)) {
      const opened = await eventually(() => jaegerTrace(traceId), `exemplar trace ${traceId} in Jaeger`, 30_000);
      assert.ok(opened.spans.length > 0);
    }
  });

  it('delivered log lines carrying an order’s trace id to the log store', async () => {
    const { traceId } = placed[0]!;
    const query = `{service_name=~".+"} | trace_id="${traceId}"`;
    const start = (Date.now() - 3_600_000) * 1e6;
    const lines = await eventually(
      async () => {
        const { body } = await getJson<{ data: { result: unknown[] } }>(
          `${endpoints.loki}/loki/api/v1/query_range?query=${encodeURIComponent(query)}&start=${start}&limit=10`,
        );
        return body.data.result.length > 0 ? body.data.result : undefined;
      },
      `log lines with trace ${traceId}`,
      60_000,
    );
    assert.ok(lines.length > 0);
  });

  it('shows zero refused and zero failed spans in the collector’s own metrics', async () => {
    const response = await fetch(endpoints.collectorMetrics, { signal: AbortSignal.timeout(10_000) });
    const text = await response.text();
    const total = (name: string) =>
      text
        .split('\n')
        .filter((line) => line.startsWith(name))
        .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
    assert.ok(total('otelcol_receiver_accepted_spans') > 0, 'the collector did receive spans');
    assert.equal(total('otelcol_receiver_refused_spans'), 0, 'refused spans');
    assert.equal(total('otelcol_exporter_send_failed_spans'), 0, 'spans that failed to send');
  });
});
