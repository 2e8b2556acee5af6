import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { call, type Reply } from '@glassbox/service-kit/testing';
import { endpoints, getJson, jaegerTrace, newTraceparent, type JaegerTrace } from '../src/endpoints';
import { port } from '../src/ports';
import { eventually } from '../src/system';

/**
 * Email addresses are personal data; the telemetry is read by anyone who may
 * open Grafana. This suite registers users with addresses it makes up, drives
 * them through the paths where an address could slip out (a 409 whose message
 * once named it, a replacement, a body so malformed that the parser's error
 * quotes it, an order placed for the user), waits for the telemetry of those
 * requests to arrive, and then looks for the addresses everywhere a learner
 * can look: the log store, every span, tag and span event of those traces
 * (and of every recent trace of every service), every service's /metrics and
 * every label value Prometheus holds. It expects to find none, and it checks,
 * each time, that it looked at the telemetry of its own requests, so an empty
 * search can not pass for a clean one.
 */

const ROOT = join(__dirname, '..', '..', '..');
const STACK = join(ROOT, '.stack');
const SERVICES = ['gateway', 'users', 'products', 'orders', 'notifications'];

/** /metrics of every service: the four of endpoints.management, and the gateway's. */
const MANAGEMENT: Record<string, string> = {
  gateway: process.env.GATEWAY_MANAGEMENT_URL ?? `http://127.0.0.1:${port('GATEWAY_MANAGEMENT_PORT')}`,
  ...endpoints.management,
};

const serviceOf = (trace: JaegerTrace, processID: string) => trace.processes[processID]?.serviceName;
const servicesIn = (trace: JaegerTrace) => new Set(trace.spans.map((span) => serviceOf(trace, span.processID)));

describe('no email address reaches logs, traces or metrics', function () {
  this.timeout(180_000);

  const suiteStarted = Date.now();
  const stamp = `${suiteStarted.toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  /** Long, unique addresses: their local part alone is searched for too. */
  const emails = ['a', 'b', 'c'].map((tag) => `no-email-${stamp}-${tag}@example.org`);
  /**
   * At most 20 characters: a body this short that is not JSON is quoted whole
   * in the parser's error ("Unexpected token 'q', "q...@example.org" is not
   * valid JSON"), which the gateway logs. q and g-z only, so that no hex id
   * (trace, span) can contain its local part by chance.
   */
  const short = `q${Array.from({ length: 4 }, () => 'ghijklmnopqrstuvwxyz'[Math.floor(Math.random() * 20)]).join('')}@example.org`;

  /** What must appear nowhere, lower-cased: each address as sent and URL-encoded, its local part before an @. */
  const needles = [
    ...emails.flatMap((email) => [email, email.replace('@', '%40'), email.split('@')[0]!]),
    short,
    short.replace('@', '%40'),
    `${short.split('@')[0]}@`,
  ];
  const leaks = (text: string) => needles.filter((needle) => text.toLowerCase().includes(needle));

  /** The trace of each request: which services it must have reached, by trace id. */
  const requests: Array<{ what: string; traceId: string; reaches: string[] }> = [];

  /** One request through the gateway, with a fresh sampled traceparent; the edge tells the trace it kept. */
  async function send(
    what: string,
    reaches: string[],
    method: string,
    path: string,
    options: { body?: unknown; raw?: string } = {},
  ): Promise<Reply> {
    const { traceId: offered, traceparent } = newTraceparent();
    const reply = await call(endpoints.gateway, method, path, { ...options, headers: { traceparent } });
    // W3C traceresponse (00-<trace id>-<span id>-<flags>): under an edge policy that does not
    // continue the caller's trace, this is where the request was recorded.
    const answered = /^00-([0-9a-f]{32})-[0-9a-f]{16}-([0-9a-f]{2})$/.exec(reply.headers.get('traceresponse') ?? '');
    if (answered && (parseInt(answered[2]!, 16) & 1) === 0) {
      assert.fail(`${what}: the edge did not sample it (${answered[0]}); run this suite with every trace sampled`);
    }
    requests.push({ what, traceId: answered?.[1] ?? offered, reaches });
    return reply;
  }

  let traces: JaegerTrace[] = [];

  before(async () => {
    const [a, b, c] = emails as [string, string, string];
    const first = await send('register a', ['gateway', 'users'], 'POST', '/api/users', {
      body: { name: 'No Email A', email: a },
    });
    assert.equal(first.status, 201, JSON.stringify(first.body));

    // Taken, in another case: the 409 whose message once carried the address into the log and onto the span.
    const taken = await send('register a again', ['gateway', 'users'], 'POST', '/api/users', {
      body: { name: 'No Email A2', email: a.toUpperCase() },
    });
    assert.equal(taken.status, 409, JSON.stringify(taken.body));

    const second = await send('register b', ['gateway', 'users'], 'POST', '/api/users', {
      body: { name: 'No Email B', email: b },
    });
    assert.equal(second.status, 201, JSON.stringify(second.body));
    const replaced = await send(
      'give b the address of a',
      ['gateway', 'users'],
      'PUT',
      `/api/users/${second.body.id}`,
      {
        body: { name: 'No Email B', email: a },
      },
    );
    assert.equal(replaced.status, 409, JSON.stringify(replaced.body));
    const renamed = await send('give b a new address', ['gateway', 'users'], 'PUT', `/api/users/${second.body.id}`, {
      body: { name: 'No Email B', email: c },
    });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));

    const malformed = await send('a body that is only an address', ['gateway'], 'POST', '/api/users', { raw: short });
    assert.equal(malformed.status, 400, JSON.stringify(malformed.body));

    // An order for user a: users answers orders with the whole user, address included.
    const product = await send('add a product', ['gateway', 'products'], 'POST', '/api/products', {
      body: { name: `no-email ${stamp}`, priceCents: 100, stock: 10 },
    });
    assert.equal(product.status, 201, JSON.stringify(product.body));
    const order = await send(
      'order for a',
      ['gateway', 'orders', 'users', 'products', 'notifications'],
      'POST',
      '/api/orders',
      {
        body: { userId: first.body.id, items: [{ productId: product.body.id, quantity: 1 }] },
      },
    );
    assert.equal(order.status, 201, JSON.stringify(order.body));

    // Every request's trace in Jaeger, with every service it must have reached.
    traces = await Promise.all(
      requests.map(({ what, traceId, reaches }) =>
        eventually(
          async () => {
            const trace = await jaegerTrace(traceId);
            return trace && reaches.every((service) => servicesIn(trace).has(service)) ? trace : undefined;
          },
          // Tail sampling must keep them: the native stack keeps every trace (TRACE_SAMPLING_PERCENT=100).
          `the trace of "${what}" (${traceId}) in Jaeger, reaching ${reaches.join(', ')} (is every trace kept?)`,
          90_000,
        ),
      ),
    );
    // Spans still in flight in some batch: a little longer, then the traces as they stand.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    traces = await Promise.all(traces.map(async (trace) => (await jaegerTrace(trace.traceID)) ?? trace));
  });

  it('finds no address in the traces of those requests: no span name, tag, span event or process tag', () => {
    assert.equal(traces.length, requests.length);
    const text = JSON.stringify(traces);
    assert.deepEqual(leaks(text), []);
    // It looked where an address would have been: the exception event the router span records for a 409.
    const conflict = traces[requests.findIndex(({ what }) => what === 'register a again')]!;
    const events = JSON.stringify(conflict.spans.map((span) => (span as { logs?: unknown }).logs ?? []));
    assert.match(events, /exception\.message/, 'no exception event in the 409’s trace: looked at the wrong one?');
  });

  it('finds no address in any trace of any service since the suite started', async () => {
    // Jaeger's search API takes microseconds.
    const start = (suiteStarted - 5_000) * 1000;
    const end = (Date.now() + 5_000) * 1000;
    const seen = new Set<string>();
    for (const service of SERVICES) {
      const { status, body } = await getJson<{ data: JaegerTrace[] }>(
        `${endpoints.jaeger}/api/traces?service=${service}&start=${start}&end=${end}&limit=1000`,
      );
      assert.equal(status, 200, `Jaeger's search for ${service}`);
      // Jaeger writes trace ids without their leading zeros.
      for (const trace of body.data) seen.add(trace.traceID.padStart(32, '0'));
      assert.deepEqual(leaks(JSON.stringify(body.data)), [], `in the traces of ${service}`);
    }
    const missed = requests.filter(({ traceId }) => !seen.has(traceId)).map(({ what }) => what);
    assert.deepEqual(missed, [], 'the search did not return the traces of these requests');
  });

  it('finds no address in the log store: not in the lines of those requests, nor in any line since', async () => {
    const start = (suiteStarted - 5_000) * 1e6;
    const ask = async (query: string, limit: number) => {
      const { status, body } = await getJson<{ data: { result: unknown[] } }>(
        `${endpoints.loki}/loki/api/v1/query_range?query=${encodeURIComponent(query)}&start=${start}&limit=${limit}`,
      );
      assert.equal(status, 200, `the log store refused ${query}`);
      return body.data.result;
    };
    // The lines of each request (every one of them logs something), as they arrive.
    const ours: unknown[] = [];
    for (const { what, traceId } of requests) {
      ours.push(
        await eventually(
          async () => {
            const result = await ask(`{service_name=~".+"} | trace_id="${traceId}"`, 100);
            return result.length > 0 ? result : undefined;
          },
          `log lines of "${what}" (${traceId}) in the log store`,
          60_000,
        ),
      );
    }
    const text = JSON.stringify(ours);
    assert.deepEqual(leaks(text), []);
    // It read the lines where an address would have been: the 409's, and the gateway's 400 for the bad body.
    assert.match(text, /already registered/, 'the 409’s log line is not among the lines returned');
    assert.match(text, /is not valid JSON/, 'the 400’s log line is not among the lines returned');
    // And every line of every service since the suite started: line, labels and structured metadata.
    const everything = JSON.stringify(await ask('{service_name=~".+"}', 5_000));
    assert.deepEqual(leaks(everything), []);
  });

  it('finds no address in any service’s /metrics, nor in any label value Prometheus holds', async () => {
    const scraped: string[] = [];
    const unreachable: string[] = [];
    for (const [service, url] of Object.entries(MANAGEMENT)) {
      try {
        const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
        const text = await response.text();
        // notifications takes no HTTP traffic, so it may have no http_requests_total yet: any exposition counts.
        assert.match(text, /^process_cpu_seconds_total /m, `${service}'s /metrics`);
        assert.deepEqual(leaks(text), [], `in ${service}'s /metrics`);
        scraped.push(service);
      } catch (error) {
        if (error instanceof assert.AssertionError) throw error;
        unreachable.push(service);
      }
    }
    // Under compose the management ports are not published (Prometheus scrapes them inside the
    // network): all unreachable is expected there, and the label values below cover it.
    assert.ok(
      scraped.length === 0 || unreachable.length === 0,
      `some management ports answered (${scraped.join(', ')}), others did not (${unreachable.join(', ')})`,
    );

    // Every label value Prometheus holds, once it has scraped the suite's own requests (a scrape every few seconds).
    const start = Math.floor(suiteStarted / 1000) - 600;
    const values = await eventually(
      async () => {
        const { body: labels } = await getJson<{ data: string[] }>(`${endpoints.prometheus}/api/v1/labels`);
        const found: string[] = [];
        for (const label of labels.data) {
          const { body } = await getJson<{ data: string[] }>(
            `${endpoints.prometheus}/api/v1/label/${encodeURIComponent(label)}/values?start=${start}`,
          );
          found.push(...body.data);
        }
        return found.includes('/users') ? found : undefined;
      },
      'Prometheus to scrape the suite’s requests',
      60_000,
    );
    assert.ok(
      values.includes('/users'),
      'no series labelled with the route /users: Prometheus has not scraped our services yet',
    );
    assert.deepEqual(leaks(values.join('\n')), []);
  });

  it('keeps the native stack’s admin token file readable by its owner only', function () {
    const token = join(STACK, 'admin-token');
    if (!existsSync(join(STACK, 'pids', 'gateway.pid'))) this.skip(); // not the native stack
    assert.equal((statSync(token).mode & 0o777).toString(8), '600', `${token} mode`);
  });
});
