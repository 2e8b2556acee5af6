import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import { spawnService, startOtlpRecorder, type OtlpRecorder } from '@glassbox/service-kit/testing';
import { fakeService, rawRequest, type FakeService } from './fake-service';

const MAIN = join(__dirname, '..', 'src', 'main.js');

/** The trace id an attacker picks, and the context it claims to come from. */
const CALLER_TRACE = 'a7ac4e2f00000000a7ac4e2f00000000';
const CALLER_SPAN = 'c0ffee00c0ffee00';

interface Answered {
  status: number;
  traceresponse: { traceId: string; spanId: string; sampled: boolean } | undefined;
  /** What reached the service behind the gateway. */
  upstream: { traceparent?: string; tracestate?: string; baggage?: string };
}

describe('the gateway started as in production: the edge trace policy (EDGE_TRACE_POLICY)', function () {
  this.timeout(30_000);
  let collector: OtlpRecorder;
  let products: FakeService;

  beforeEach(async () => {
    collector = await startOtlpRecorder();
    products = await fakeService(() => ({ status: 200, body: { items: [] } }));
  });
  afterEach(async () => {
    await products.close();
    await collector.close();
  });

  /** Starts a gateway with `env`, sends one request with the attacker's trace headers, stops the gateway. */
  async function attack(env: Record<string, string>, flags: '00' | '01', traceId = CALLER_TRACE): Promise<Answered> {
    const gateway = await spawnService(MAIN, {
      OTEL_SERVICE_NAME: 'gateway',
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_BSP_SCHEDULE_DELAY: '50',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
      PRODUCTS_URL: products.url,
      ...env,
    });
    try {
      const answer = await rawRequest(
        gateway.url,
        'GET /api/products HTTP/1.1\r\nHost: x\r\nConnection: close\r\n' +
          `traceparent: 00-${traceId}-${CALLER_SPAN}-${flags}\r\n` +
          'tracestate: vendor=attacker\r\nbaggage: user.role=admin,tenant=evil\r\n\r\n',
      );
      const traceresponse = /\r\ntraceresponse: 00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])\r\n/i.exec(answer);
      const seen = products.seen.at(-1)?.headers ?? {};
      return {
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]),
        traceresponse: traceresponse
          ? {
              traceId: traceresponse[1] as string,
              spanId: traceresponse[2] as string,
              sampled: traceresponse[3] === '01',
            }
          : undefined,
        upstream: {
          traceparent: seen.traceparent as string | undefined,
          tracestate: seen.tracestate as string | undefined,
          baggage: seen.baggage as string | undefined,
        },
      };
    } finally {
      gateway.child.kill('SIGTERM');
      await once(gateway.child, 'exit');
    }
  }

  /** True when some exported span payload holds the trace id's bytes (as a span's trace id, or a link's). */
  const exported = (traceId: string) =>
    collector.received('/v1/traces').some((payload) => payload.includes(Buffer.from(traceId, 'hex')));

  for (const flags of ['01', '00'] as const) {
    it(`continue: keeps the caller's trace id, traces the request although it sent -${flags}, drops tracestate and baggage`, async () => {
      const answer = await attack({ EDGE_TRACE_POLICY: 'continue' }, flags);
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.traceresponse && [answer.traceresponse.traceId, answer.traceresponse.sampled], [
        CALLER_TRACE,
        true,
      ]);
      assert.match(answer.upstream.traceparent ?? '', new RegExp(`^00-${CALLER_TRACE}-[0-9a-f]{16}-01$`));
      assert.equal(answer.upstream.tracestate, undefined);
      assert.equal(answer.upstream.baggage, undefined);
    });

    it(`link: a new trace whatever the caller sent (-${flags}), with a span link to the caller's context`, async () => {
      const answer = await attack({ EDGE_TRACE_POLICY: 'link' }, flags);
      const traceId = answer.traceresponse?.traceId ?? '';
      assert.equal(answer.status, 200);
      assert.notEqual(traceId, CALLER_TRACE);
      assert.equal(answer.traceresponse?.sampled, true);
      assert.match(answer.upstream.traceparent ?? '', new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
      assert.equal(answer.upstream.baggage, undefined);
      await collector.waitFor('/v1/traces', [Buffer.from(traceId, 'hex'), 'GET /api/products']);
      assert.ok(exported(CALLER_TRACE), "the caller's trace id is exported, as the link's");
    });

    it(`ignore: a new trace whatever the caller sent (-${flags}), and no trace of the caller's context`, async () => {
      const answer = await attack({ EDGE_TRACE_POLICY: 'ignore' }, flags);
      const traceId = answer.traceresponse?.traceId ?? '';
      assert.equal(answer.status, 200);
      assert.notEqual(traceId, CALLER_TRACE);
      assert.match(answer.upstream.traceparent ?? '', new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
      assert.equal(answer.upstream.baggage, undefined);
      await collector.waitFor('/v1/traces', [Buffer.from(traceId, 'hex'), 'GET /api/products']);
      assert.equal(exported(CALLER_TRACE), false);
    });
  }

  it('samples with OTEL_TRACES_SAMPLER as a root would be: a caller’s -01 does not force tracing on', async () => {
    const answer = await attack({ EDGE_TRACE_POLICY: 'continue', OTEL_TRACES_SAMPLER: 'parentbased_always_off' }, '01');
    assert.deepEqual(answer.traceresponse && [answer.traceresponse.traceId, answer.traceresponse.sampled], [
      CALLER_TRACE,
      false,
    ]);
    assert.match(answer.upstream.traceparent ?? '', /-00$/, 'and the services behind follow the edge’s decision');
  });

  it('under continue, a caller that picks its trace id can still sway a ratio sampler (docs/edge.md); not under link', async () => {
    // The SDK's TraceIdRatioBasedSampler keeps an id whose four 32-bit words XOR below ratio × 2^32:
    // this one XORs to 0, so it is kept at any ratio, which a caller can work out offline.
    const chosen = 'a7ac4e2f00000000a7ac4e2f00000000';
    const ratio = { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.000001' };
    const continued = await attack({ EDGE_TRACE_POLICY: 'continue', ...ratio }, '00', chosen);
    assert.equal(continued.traceresponse?.sampled, true);
    const linked = await attack({ EDGE_TRACE_POLICY: 'link', ...ratio }, '00', chosen);
    assert.equal(linked.traceresponse?.sampled, false, 'a new trace id is the edge’s own draw');
  });

  it('refuses to start with an EDGE_TRACE_POLICY it does not know, naming the variable', async () => {
    await assert.rejects(
      spawnService(MAIN, { EDGE_TRACE_POLICY: 'trust-everyone' }, 5_000),
      /EDGE_TRACE_POLICY: expected one of continue, link, ignore; got "trust-everyone"/,
    );
  });
});
