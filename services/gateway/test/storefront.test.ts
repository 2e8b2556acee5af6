import assert from 'node:assert/strict';
import {
  call,
  captureLogs,
  startOnFreePort,
  startOtlpRecorder,
  type OtlpRecorder,
  type Running,
} from '@glassbox/service-kit/testing';
import { readConfig } from '../src/config';
import { buildGatewayService } from '../src/main';
import { RateLimiter } from '../src/rate-limit';

/** What the page's OTLP exporter sends: OTLP/JSON, one resource (service web), one span. */
function browserSpans(serviceName = 'web', spans = 1) {
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: serviceName } }] },
        scopeSpans: [
          {
            scope: { name: 'glassbox-web' },
            spans: Array.from({ length: spans }, (_, i) => ({
              traceId: '5b8aa5a2d2c872e8321cf37308d69df2',
              spanId: `051581bf3cb55c1${i % 10}`,
              name: 'click Place order',
              kind: 1,
              startTimeUnixNano: '1700000000000000000',
              endTimeUnixNano: '1700000000100000000',
            })),
          },
        ],
      },
    ],
  };
}

describe('the storefront page and its span relay, at the gateway', () => {
  let collector: OtlpRecorder;
  let gateway: Running;

  async function startGateway(environment: Record<string, string> = {}) {
    const config = readConfig({
      USERS_URL: 'http://127.0.0.1:1',
      ORDERS_URL: 'http://127.0.0.1:1',
      PRODUCTS_URL: 'http://127.0.0.1:1',
      BROWSER_OTLP_TRACES_URL: `${collector.url}/v1/traces`,
      JAEGER_UI_URL: 'http://jaeger.example:16686',
      ...environment,
    });
    gateway = await startOnFreePort(await buildGatewayService(config, captureLogs('gateway').logger));
  }

  beforeEach(async () => {
    collector = await startOtlpRecorder();
    await startGateway();
  });
  afterEach(async () => {
    await gateway.stop();
    await collector.close();
  });

  it('serves the page at /, with its script and style, and headers that keep it to its own origin', async () => {
    const page = await fetch(`${gateway.url}/`);
    const html = await page.text();
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'; script-src 'self'/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    assert.match(html, /<button id="place-order"/);
    assert.match(html, /content="http:\/\/jaeger\.example:16686"/, 'the Jaeger link target comes from the config');
    for (const [path, type] of [
      ['/app.js', /^text\/javascript/],
      ['/style.css', /^text\/css/],
    ] as const) {
      const asset = await fetch(`${gateway.url}${path}`);
      assert.equal(asset.status, 200, path);
      assert.match(asset.headers.get('content-type') ?? '', type, path);
    }
  });

  it('serves no other file: a path outside the fixed list is a JSON 404', async () => {
    for (const path of [
      '/index.html',
      '/../package.json',
      '/app.js.LEGAL.txt',
      '/%2e%2e/package.json',
      '/dist/site/app.js',
    ]) {
      const reply = await call(gateway.url, 'GET', path);
      assert.equal(reply.status, 404, path);
      assert.equal(reply.body.error.code, 'not_found', path);
    }
  });

  it('relays the page’s spans to the collector and answers what the collector answered', async () => {
    const reply = await call(gateway.url, 'POST', '/otlp/v1/traces', { body: browserSpans() });

    assert.equal(reply.status, 200);
    const [received] = collector.received('/v1/traces');
    assert.ok(received, 'the collector got the spans');
    assert.match(received.toString('utf8'), /click Place order/);
  });

  it('refuses, before the collector sees them, spans that pose as another service, malformed or oversized payloads', async () => {
    const cases: Array<[what: string, options: Parameters<typeof call>[3], status: number]> = [
      ['another service', { body: browserSpans('orders') }, 400],
      ['no resourceSpans', { body: { spans: [] } }, 400],
      ['too many spans', { body: browserSpans('web', 300) }, 400],
      ['not JSON', { raw: 'resourceSpans', contentType: 'application/json' }, 400],
      ['protobuf', { raw: Buffer.from([0x0a, 0x01]), contentType: 'application/x-protobuf' }, 415],
      ['over the size limit', { raw: JSON.stringify({ padding: 'x'.repeat(70_000) }) }, 413],
    ];
    for (const [what, options, status] of cases) {
      const reply = await call(gateway.url, 'POST', '/otlp/v1/traces', options);
      assert.equal(reply.status, status, what);
      assert.ok(reply.body.error.message, what);
    }
    assert.deepEqual(collector.received('/v1/traces'), [], 'nothing reached the collector');
  });

  it('rate-limits a flood of span exports with 429 and Retry-After; what it refuses never reaches the collector', async () => {
    await gateway.stop();
    await startGateway({ BROWSER_OTLP_RATE_PER_SECOND: '1', BROWSER_OTLP_BURST: '3' });

    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 10; i++) {
      const reply = await call(gateway.url, 'POST', '/otlp/v1/traces', { body: browserSpans() });
      statuses.push(reply.status);
      if (reply.status === 429) retryAfter = reply.headers.get('retry-after');
    }

    assert.deepEqual(statuses.slice(0, 3), [200, 200, 200]);
    assert.ok(statuses.filter((status) => status === 429).length >= 6, statuses.join(' '));
    assert.match(retryAfter ?? '', /^[1-9]\d*$/);
    assert.equal(collector.received('/v1/traces').length, statuses.filter((status) => status === 200).length);
  });

  it('answers 503 naming the collector when it is away, and keeps serving', async () => {
    await gateway.stop();
    await startGateway({ BROWSER_OTLP_TRACES_URL: 'http://127.0.0.1:1/v1/traces' });

    const reply = await call(gateway.url, 'POST', '/otlp/v1/traces', { body: browserSpans() });

    assert.equal(reply.status, 503);
    assert.equal(reply.body.error.details.dependency, 'collector');
    assert.equal((await fetch(`${gateway.url}/`)).status, 200);
  });
});

describe('the rate limiter', () => {
  it('lets a burst through, then one request per interval, per caller, in bounded memory', () => {
    let now = 0;
    const limiter = new RateLimiter(2, 3, 2, () => now);
    assert.deepEqual(
      [1, 2, 3, 4].map(() => limiter.take('a')),
      [true, true, true, false],
    );
    now += 500;
    assert.equal(limiter.take('a'), true, 'half a second refills one token at 2/s');
    assert.equal(limiter.take('a'), false);
    assert.equal(limiter.take('b'), true, 'another caller has its own bucket');
    limiter.take('c');
    assert.equal(limiter.take('a'), true, 'the least recent caller was forgotten: a full bucket again');
  });
});
