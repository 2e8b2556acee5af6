import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@glassbox/telemetry/testing';
import { testTelemetry } from '@glassbox/telemetry/testing';
import { captureLogs } from '@glassbox/service-kit/testing';
import { createProductsClient, GrpcStatus, type ProductsClient } from '../src/client';
import { readConfig } from '../src/config';
import type { Service } from '@glassbox/service-kit';
import { buildProductsService } from '../src/main';
import { InMemoryProductRepository } from '../src/repository';

/** What @opentelemetry/instrumentation-grpc names both sides of a call: `grpc.<package>.<Service>/<Method>`. */
const GET_PRODUCT = 'grpc.glassbox.products.v1.ProductService/GetProduct';
const RESERVE_STOCK = 'grpc.glassbox.products.v1.ProductService/ReserveStock';
const RELEASE_STOCK = 'grpc.glassbox.products.v1.ProductService/ReleaseStock';

/** Runs `work` inside a parent span, as an orders request would, and returns that span's trace id. */
async function insideParentSpan(work: () => Promise<unknown>): Promise<{ traceId: string; spanId: string }> {
  return trace.getTracer('products-test').startActiveSpan('POST /orders', async (parent) => {
    try {
      await work().catch(() => undefined);
    } finally {
      parent.end();
    }
    return parent.spanContext();
  });
}

/** Spans may end a moment after the reply reaches the caller; wait for the pair we want. */
async function grpcSpans(traceId: string, name: string): Promise<{ client: ReadableSpan; server: ReadableSpan }> {
  for (let i = 0; i < 100; i++) {
    const spans = testTelemetry.trace(traceId).filter((s) => s.name === name);
    const client = spans.find((s) => s.kind === SpanKind.CLIENT);
    const server = spans.find((s) => s.kind === SpanKind.SERVER);
    if (client && server) return { client, server };
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const seen = testTelemetry.spans.getFinishedSpans().map((s) => `${s.name} (${SpanKind[s.kind]})`);
  assert.fail(`no CLIENT and SERVER spans named ${name} in trace ${traceId}; saw ${seen.join(', ')}`);
}

describe('products telemetry over gRPC', () => {
  let service: Service;
  let products: ProductsClient;
  let repository: InMemoryProductRepository;
  let logs: ReturnType<typeof captureLogs>;

  beforeEach(async () => {
    testTelemetry.reset();
    repository = new InMemoryProductRepository();
    await repository.insert({ name: 'Teapot', priceCents: 2450, stock: 2 });
    logs = captureLogs('products');
    const config = readConfig({ STORAGE: 'memory', HOST: '127.0.0.1', PORT: '0', GRPC_PORT: '0' });
    service = await buildProductsService(config, logs.logger, {
      store: { repository, close: () => Promise.resolve() },
    });
    await service.start(0);
    products = createProductsClient(`127.0.0.1:${service.ports().grpc}`, { deadlineMs: 2_000 });
  });
  afterEach(async () => {
    products.close();
    await service.stop();
  });

  it('a call made inside a span yields a CLIENT span under it and a SERVER span under that, in one trace', async () => {
    const parent = await insideParentSpan(() => products.getProduct(1));
    const { client, server } = await grpcSpans(parent.traceId, GET_PRODUCT);

    assert.equal(client.parentSpanContext?.spanId, parent.spanId, 'the CLIENT span is a child of the caller’s span');
    assert.equal(server.spanContext().traceId, parent.traceId, 'the context crossed the wire in the metadata');
    assert.equal(
      server.parentSpanContext?.spanId,
      client.spanContext().spanId,
      'the SERVER span is a child of the CLIENT span',
    );
    assert.equal(server.parentSpanContext?.isRemote, true);

    for (const span of [client, server]) {
      assert.equal(span.attributes['rpc.system'], 'grpc');
      assert.equal(span.attributes['rpc.service'], 'glassbox.products.v1.ProductService');
      assert.equal(span.attributes['rpc.method'], 'GetProduct');
      assert.equal(span.attributes['rpc.grpc.status_code'], GrpcStatus.OK);
      assert.equal(span.status.code, SpanStatusCode.UNSET);
    }
    assert.equal(client.attributes['server.address'], '127.0.0.1');
    assert.equal(client.attributes['server.port'], service.ports().grpc);
    assert.equal(server.attributes['glassbox.product.id'], 1, 'the server span says which product');
    assert.equal(client.attributes['glassbox.product.id'], undefined, 'the attribute is the server’s own');
  });

  it('puts the order’s item count on the ReserveStock SERVER span, and marks a refusal as an error', async () => {
    const parent = await insideParentSpan(() =>
      products.reserveStock(randomUUID(), [
        { productId: 1, quantity: 2 },
        { productId: 1, quantity: 1 },
      ]),
    );
    const { client, server } = await grpcSpans(parent.traceId, RESERVE_STOCK);

    assert.equal(server.attributes['glassbox.order.item_count'], 2, 'items as sent, before merging lines');
    for (const span of [client, server]) {
      assert.equal(span.attributes['rpc.grpc.status_code'], GrpcStatus.FAILED_PRECONDITION);
      assert.equal(span.status.code, SpanStatusCode.ERROR);
    }
    // Each side words the failure its own way: the server keeps our message, the client prefixes the status.
    assert.equal(server.status.message, 'product 1 has 2 in stock, 3 requested');
    assert.equal(
      client.attributes['grpc.error_message'],
      '9 FAILED_PRECONDITION: product 1 has 2 in stock, 3 requested',
    );
  });

  it('names the reservation on the ReserveStock and ReleaseStock SERVER spans, and says whether stock went back', async () => {
    const id = randomUUID();
    const parent = await insideParentSpan(async () => {
      await products.reserveStock(id, [{ productId: 1, quantity: 1 }]);
      await products.releaseStock(id);
    });
    const reserve = await grpcSpans(parent.traceId, RESERVE_STOCK);
    const release = await grpcSpans(parent.traceId, RELEASE_STOCK);
    assert.equal(reserve.server.attributes['glassbox.reservation.id'], id);
    assert.equal(release.server.attributes['glassbox.reservation.id'], id);
    assert.equal(release.server.attributes['glassbox.stock.released'], true);
    assert.equal(release.client.parentSpanContext?.spanId, parent.spanId);
  });

  it('records a bug’s exception on the SERVER span and logs its stack with the trace id', async () => {
    repository.reserve = () => Promise.reject(new TypeError('stock ledger is corrupt'));
    const parent = await insideParentSpan(() => products.reserveStock(randomUUID(), [{ productId: 1, quantity: 1 }]));
    const { server } = await grpcSpans(parent.traceId, RESERVE_STOCK);

    assert.equal(server.attributes['rpc.grpc.status_code'], GrpcStatus.INTERNAL);
    const exception = server.events.find((e) => e.name === 'exception');
    assert.equal(exception?.attributes?.['exception.message'], 'stock ledger is corrupt');

    const logged = logs.lines().find((line) => line.msg === 'ReserveStock failed: internal error');
    assert.ok(logged, 'the failure is logged');
    assert.equal(logged.trace_id, parent.traceId, 'the log line carries the trace id');
    assert.match(String((logged.err as { stack?: string }).stack), /stock ledger is corrupt/);
  });
});
