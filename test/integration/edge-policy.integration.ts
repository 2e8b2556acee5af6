import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { connect, type ChannelModel } from 'amqplib';
import { SpanKind } from '@opentelemetry/api';
import { EVENTS_EXCHANGE, ORDER_CREATED } from '@glassbox/service-kit';
import { call } from '@glassbox/service-kit/testing';
import { testTelemetry, type ReadableSpan } from '@glassbox/telemetry/testing';
import { exchange, send, traceresponseOf } from '../src/hostile-cases';
import { isolatedDependencies, type Isolated } from '../src/isolation';
import { eventually, startSystem, type System } from '../src/system';

type Policy = 'continue' | 'link' | 'ignore';
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/**
 * An attacker places an order with a trace context of its choosing: its
 * trace id, sampling forced on or off, a tracestate and a baggage that claims
 * a role. The gateway is the edge, as EDGE_TRACE_POLICY makes it in
 * production; the services behind it are not.
 */
describe('the edge trace policy across the system: what a caller’s trace headers can reach', function () {
  this.timeout(60_000);
  let isolated: Isolated;
  let system: System;
  let broker: ChannelModel;
  let gatewayPort: number;
  let userId: number;
  let productId: number;
  /** order.created events as they left orders: their content and AMQP headers. */
  const published: Array<{ orderId: number; headers: Record<string, unknown> }> = [];
  /** The headers of every request that reached a service behind the gateway. */
  const reachedServices: IncomingHttpHeaders[] = [];
  let servicePorts: Set<number>;
  const onRequest = (message: unknown) => {
    const { request } = message as { request: IncomingMessage };
    if (servicePorts.has(request.socket.localPort ?? 0)) reachedServices.push({ ...request.headers });
  };

  before(async () => {
    isolated = await isolatedDependencies('edge_policy');
    system = await startSystem(isolated.env);
    gatewayPort = Number(new URL(system.gateway.url).port);
    servicePorts = new Set([system.users, system.products, system.orders].map((s) => Number(new URL(s.url).port)));
    userId = (await call(system.users.url, 'POST', '/users', { body: { name: 'Eve', email: 'eve@example.org' } })).body
      .id;
    productId = (
      await call(system.products.url, 'POST', '/products', { body: { name: 'Key', priceCents: 1, stock: 50 } })
    ).body.id;

    broker = await connect(isolated.env.AMQP_URL as string);
    const channel = await broker.createChannel();
    await channel.assertExchange(EVENTS_EXCHANGE, 'topic', { durable: true });
    const { queue } = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(queue, EVENTS_EXCHANGE, ORDER_CREATED);
    await channel.consume(
      queue,
      (message) => {
        if (!message) return;
        const event = JSON.parse(message.content.toString()) as { order: { id: number } };
        published.push({ orderId: event.order.id, headers: message.properties.headers ?? {} });
      },
      { noAck: true },
    );
    subscribe('http.server.request.start', onRequest);
  });
  after(async () => {
    unsubscribe('http.server.request.start', onRequest);
    testTelemetry.edge();
    await broker?.close();
    await system?.stop();
    await isolated?.drop();
  });

  /** Places one order at `base` with the attacker's trace headers; the caller's context it claimed, and what came of it. */
  async function placeWithAttackerContext(base: string, flags: '00' | '01') {
    const caller = { traceId: hex(16), spanId: hex(8) };
    reachedServices.length = 0;
    const answer = await exchange(
      base,
      send(
        'POST',
        base === system.gateway.url ? '/api/orders' : '/orders',
        { userId, items: [{ productId, quantity: 1 }] },
        [
          `traceparent: 00-${caller.traceId}-${caller.spanId}-${flags}`,
          'tracestate: attacker=owned',
          'baggage: user.role=admin,tenant=evil',
        ],
      ),
    );
    assert.equal(answer?.status, 201, answer?.body);
    const orderId = (JSON.parse(answer.body) as { id: number }).id;
    const carrier = await eventually(
      async () =>
        (
          await system.db.query<{ trace_carrier: Record<string, string> }>(
            "SELECT trace_carrier FROM outbox WHERE payload->'order'->>'id' = $1",
            [String(orderId)],
          )
        ).rows[0]?.trace_carrier,
      `the outbox row of order ${orderId}`,
    );
    const message = await eventually(
      () => Promise.resolve(published.find((event) => event.orderId === orderId)),
      `the order.created message of order ${orderId}`,
    );
    return { caller, answer, carrier, message, reached: [...reachedServices] };
  }

  /** The gateway's SERVER span of the trace the answer says it was recorded under. */
  async function gatewaySpan(traceId: string): Promise<ReadableSpan> {
    return eventually(
      () =>
        Promise.resolve(
          testTelemetry.trace(traceId).find((s) => s.kind === SpanKind.SERVER && s.name === 'POST /api/orders'),
        ),
      `the gateway SERVER span of trace ${traceId}`,
    );
  }

  const POLICIES: Record<Policy, string> = {
    continue: 'keeps the caller’s trace id, the span’s parent is the caller’s span',
    link: 'starts a new trace, with a span link to the caller’s span',
    ignore: 'starts a new trace, with no parent and no link',
  };

  for (const [policy, outcome] of Object.entries(POLICIES) as Array<[Policy, string]>) {
    for (const flags of ['01', '00'] as const) {
      it(`${policy}, the caller says -${flags}: ${outcome}; traced all the same; its baggage and tracestate reach no service, row or message`, async () => {
        testTelemetry.edge({ policy, port: gatewayPort });
        const placed = await placeWithAttackerContext(system.gateway.url, flags);

        const recorded = traceresponseOf(placed.answer);
        assert.ok(recorded, `a traceresponse header: ${JSON.stringify(placed.answer?.headers)}`);
        assert.equal(recorded.sampled, true, 'the edge’s own decision (always on here), not the caller’s flag');
        const span = await gatewaySpan(recorded.traceId);
        assert.equal(span.attributes['glassbox.edge.trace_policy'], policy);
        const links = span.links.map((l) => `${l.context.traceId}-${l.context.spanId}`);
        if (policy === 'continue') {
          assert.equal(recorded.traceId, placed.caller.traceId);
          assert.equal(span.parentSpanContext?.spanId, placed.caller.spanId);
          assert.equal(span.parentSpanContext?.isRemote, true);
        } else {
          assert.notEqual(recorded.traceId, placed.caller.traceId);
          assert.equal(span.parentSpanContext, undefined);
        }
        assert.deepEqual(links, policy === 'link' ? [`${placed.caller.traceId}-${placed.caller.spanId}`] : []);
        // The trace stays whole behind the edge: orders' SERVER span is in it.
        await eventually(
          () =>
            Promise.resolve(
              testTelemetry
                .trace(recorded.traceId)
                .find((s) => s.kind === SpanKind.SERVER && s.name === 'POST /orders'),
            ),
          'the orders SERVER span in the same trace',
        );

        assert.ok(placed.reached.length >= 2, 'orders and users were called');
        for (const headers of placed.reached) {
          assert.equal(headers.baggage, undefined, 'no service received the baggage');
          assert.equal(headers.tracestate, undefined, 'no service received the tracestate');
          assert.match(String(headers.traceparent), new RegExp(`^00-${recorded.traceId}-`));
        }
        assert.deepEqual(
          Object.keys(placed.carrier),
          ['traceparent'],
          'the outbox row carries the trace, nothing else',
        );
        assert.match(placed.carrier.traceparent ?? '', new RegExp(`^00-${recorded.traceId}-`));
        assert.equal(placed.message.headers.baggage, undefined, 'the message carries no baggage');
        assert.equal(placed.message.headers.tracestate, undefined, 'the message carries no tracestate');
        assert.match(String(placed.message.headers.traceparent), new RegExp(`^00-${recorded.traceId}-`));
      });
    }
  }

  it('behind the edge, a service trusts what it is sent: the same headers straight to orders reach its row and message (so the checks above can fail)', async () => {
    testTelemetry.edge();
    const placed = await placeWithAttackerContext(system.orders.url, '01');
    assert.match(placed.carrier.traceparent ?? '', new RegExp(`^00-${placed.caller.traceId}-`));
    assert.equal(placed.carrier.baggage, 'user.role=admin,tenant=evil');
    assert.equal(placed.carrier.tracestate, 'attacker=owned');
    assert.equal(placed.message.headers.baggage, 'user.role=admin,tenant=evil');
  });
});
