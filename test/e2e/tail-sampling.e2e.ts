/**
 * Tail sampling, end to end, against the running native stack's Jaeger.
 *
 * The native stack keeps every trace (scripts/stack.sh starts its collector
 * with TRACE_SAMPLING_PERCENT=100), because the rest of the suite looks its
 * traces up by id. So this file starts a SECOND collector of its own: the
 * same native build, the same otel-collector.yaml, the sampling defaults
 * (nothing set: 10% of ordinary traces), its own ports on 127.0.0.1,
 * exporting to the stack's Jaeger. It sends that collector OTLP it makes
 * itself, with trace ids it chooses, shaped like the fault scenarios' traces:
 *   ordinary   gateway -> users -> one fast SELECT
 *   error      users answers 500 (error-burst): the error is deep in the trace
 *   slow       the SELECT takes the slow threshold + 100 ms (slow-sql)
 *   late       a consumer span sent seconds after its trace was decided
 * and checks that Jaeger holds every error and slow trace, a binomially
 * plausible share of the ordinary ones, late spans only in kept traces, and
 * that the span metrics counted every span, sampled or not.
 *
 * Needs: the native stack up (npm run stack), for Jaeger's OTLP receiver
 * (JAEGER_OTLP_GRPC_PORT of deploy/ports.env, or JAEGER_OTLP_ENDPOINT) and its
 * query API (JAEGER_URL); the collector build (sh scripts/backends.sh install
 * otelcol). Compose does not publish Jaeger's OTLP port, so under compose set
 * JAEGER_OTLP_ENDPOINT to one you publish.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { endpoints, jaegerTrace } from '../src/endpoints';
import { port } from '../src/ports';
import { eventually } from '../src/system';
import { OTELCOL, ROOT, findTool } from '../src/tools';

const CONFIG = join(ROOT, 'otel-collector.yaml');
const SERVICE = 'tail-sampling-e2e';
const ORDINARY = 200;
const ERRORS = 20;
const SLOW = 20;

/** The default of a `${env:NAME:-default}` in otel-collector.yaml: what this collector runs with. */
function configDefault(name: string): number {
  const match = new RegExp(`\\$\\{env:${name}:-([\\d.]+)\\}`).exec(readFileSync(CONFIG, 'utf8'));
  assert.ok(match, `otel-collector.yaml has no default for ${name}`);
  return Number(match[1]);
}
const PERCENT = configDefault('TRACE_SAMPLING_PERCENT');
const SLOW_MS = configDefault('TRACE_SAMPLING_SLOW_MS');

/** The [low, high] counts that hold 99% of a binomial(n, p) distribution, 0.5% cut from each tail. */
function binomialInterval(n: number, p: number): [number, number] {
  if (p <= 0) return [0, 0];
  if (p >= 1) return [n, n];
  let pmf = (1 - p) ** n;
  let cdf = 0;
  let low = -1;
  for (let k = 0; k <= n; k++) {
    cdf += pmf;
    if (low < 0 && cdf > 0.005) low = k;
    if (cdf >= 0.995) return [low, k];
    pmf *= ((n - k) / (k + 1)) * (p / (1 - p));
  }
  return [low, n];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port: free } = server.address() as { port: number };
      server.close(() => resolve(free));
    });
  });
}

interface Collector {
  otlpHttp: string;
  exporter: string;
  output: () => string;
  stop: () => Promise<void>;
}

async function startCollector(): Promise<Collector> {
  const bin = await findTool(OTELCOL);
  const ports = {
    COLLECTOR_OTLP_GRPC_PORT: await freePort(),
    COLLECTOR_OTLP_HTTP_PORT: await freePort(),
    COLLECTOR_HEALTH_PORT: await freePort(),
    COLLECTOR_METRICS_PORT: await freePort(),
    COLLECTOR_EXPORTER_PORT: await freePort(),
  };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...Object.fromEntries(Object.entries(ports).map(([name, value]) => [name, String(value)])),
    COLLECTOR_BIND: '127.0.0.1',
    JAEGER_OTLP_ENDPOINT: process.env.JAEGER_OTLP_ENDPOINT ?? `127.0.0.1:${port('JAEGER_OTLP_GRPC_PORT')}`,
    LOKI_OTLP_ENDPOINT: `${endpoints.loki}/otlp`,
  };
  // The defaults of otel-collector.yaml, whatever this shell says.
  delete env.TRACE_SAMPLING_PERCENT;
  delete env.TRACE_SAMPLING_SLOW_MS;
  const child: ChildProcess = spawn(bin, ['--config', CONFIG], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const health = `http://127.0.0.1:${ports.COLLECTOR_HEALTH_PORT}/`;
  try {
    await eventually(
      async () => child.exitCode === null && (await fetch(health, { signal: AbortSignal.timeout(1000) })).ok,
      'the second collector healthy',
      30_000,
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${output}`, { cause: error });
  }
  return {
    otlpHttp: `http://127.0.0.1:${ports.COLLECTOR_OTLP_HTTP_PORT}`,
    exporter: `http://127.0.0.1:${ports.COLLECTOR_EXPORTER_PORT}/metrics`,
    output: () => output,
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

// --- OTLP/JSON spans ---------------------------------------------------------

const SERVER = 2;
const CLIENT = 3;
const CONSUMER = 5;
const STATUS_ERROR = 2;

interface Span {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startMs: number;
  durationMs: number;
  error?: string;
  attributes?: Record<string, string | number>;
}

type Shape = 'ordinary' | 'error' | 'slow';

interface Trace {
  traceId: string;
  shape: Shape;
  spans: Span[];
  /** The users SERVER span, parent of the late consumer span. */
  usersSpanId: string;
  sentAt?: number;
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

function makeTrace(shape: Shape, startMs: number): Trace {
  const traceId = hex(16);
  const gatewayId = hex(8);
  const usersId = hex(8);
  const sqlMs = shape === 'slow' ? SLOW_MS + 100 : 2;
  const usersMs = sqlMs + 4;
  const gatewayMs = usersMs + 4;
  const spans: Span[] = [
    {
      service: `${SERVICE}-gateway`,
      traceId,
      spanId: gatewayId,
      name: 'GET /api/users/:id',
      kind: SERVER,
      startMs,
      durationMs: gatewayMs,
      attributes: { 'http.request.method': 'GET', 'http.response.status_code': shape === 'error' ? 502 : 200 },
    },
    {
      service: `${SERVICE}-users`,
      traceId,
      spanId: usersId,
      parentSpanId: gatewayId,
      name: 'GET /users/:id',
      kind: SERVER,
      startMs: startMs + 2,
      durationMs: usersMs,
      attributes: { 'http.request.method': 'GET', 'http.response.status_code': shape === 'error' ? 500 : 200 },
      ...(shape === 'error' ? { error: 'corrupt entry' } : {}),
    },
    {
      service: `${SERVICE}-users`,
      traceId,
      spanId: hex(8),
      parentSpanId: usersId,
      name: 'pg.query:SELECT glassbox',
      kind: CLIENT,
      startMs: startMs + 3,
      durationMs: sqlMs,
    },
  ];
  return { traceId, shape, spans, usersSpanId: usersId };
}

function lateSpan(trace: Trace): Span {
  return {
    service: `${SERVICE}-notifications`,
    traceId: trace.traceId,
    spanId: hex(8),
    parentSpanId: trace.usersSpanId,
    name: 'order.created process',
    kind: CONSUMER,
    startMs: Date.now() - 5,
    durationMs: 3,
  };
}

const nanos = (ms: number) => (BigInt(Math.round(ms * 1000)) * 1000n).toString();
const attributes = (values: Record<string, string | number>) =>
  Object.entries(values).map(([key, value]) => ({
    key,
    value: typeof value === 'number' ? { intValue: String(value) } : { stringValue: value },
  }));

/** One OTLP/JSON export request: spans grouped by service, as an SDK sends them. */
function exportRequest(spans: Span[]) {
  const byService = new Map<string, Span[]>();
  for (const span of spans) byService.set(span.service, [...(byService.get(span.service) ?? []), span]);
  return {
    resourceSpans: [...byService].map(([service, own]) => ({
      resource: { attributes: attributes({ 'service.name': service, 'service.namespace': 'glassbox-e2e' }) },
      scopeSpans: [
        {
          scope: { name: 'tail-sampling.e2e' },
          spans: own.map((span) => ({
            traceId: span.traceId,
            spanId: span.spanId,
            ...(span.parentSpanId ? { parentSpanId: span.parentSpanId } : {}),
            name: span.name,
            kind: span.kind,
            startTimeUnixNano: nanos(span.startMs),
            endTimeUnixNano: nanos(span.startMs + span.durationMs),
            attributes: attributes(span.attributes ?? {}),
            ...(span.error
              ? {
                  status: { code: STATUS_ERROR, message: span.error },
                  events: [
                    {
                      name: 'exception',
                      timeUnixNano: nanos(span.startMs + 1),
                      attributes: attributes({ 'exception.message': span.error }),
                    },
                  ],
                }
              : {}),
          })),
        },
      ],
    })),
  };
}

async function send(collector: Collector, spans: Span[]): Promise<void> {
  const response = await fetch(`${collector.otlpHttp}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(exportRequest(spans)),
    signal: AbortSignal.timeout(10_000),
  });
  assert.equal(response.status, 200, `OTLP export answered ${response.status}: ${await response.text()}`);
}

// --- What the second collector exports for Prometheus --------------------------

interface Exemplar {
  service: string;
  status: string;
  traceId: string;
  value: number;
}

/**
 * The span-metric counts per service and span name (calls_total, and the
 * duration histogram's _count), and every exemplar of this test's series.
 */
async function spanMetrics(
  collector: Collector,
): Promise<{ calls: Map<string, number>; observed: Map<string, number>; exemplars: Exemplar[] }> {
  const response = await fetch(collector.exporter, {
    // OpenMetrics: the only text format that carries exemplars.
    headers: { accept: 'application/openmetrics-text; version=1.0.0' },
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  const calls = new Map<string, number>();
  const observed = new Map<string, number>();
  const exemplars: Exemplar[] = [];
  const label = (labels: string, name: string) => new RegExp(`${name}="([^"]*)"`).exec(labels)?.[1] ?? '';
  const add = (counts: Map<string, number>, key: string, value: number) =>
    counts.set(key, (counts.get(key) ?? 0) + value);
  for (const line of text.split('\n')) {
    const sample = /^(traces_span_metrics_\w+)\{([^}]*)\} (\S+)(?: # \{([^}]*)\} (\S+))?/.exec(line);
    if (!sample || !label(sample[2]!, 'service_name').startsWith(SERVICE)) continue;
    const [, metric, labels, value, exemplarLabels, exemplarValue] = sample;
    const service = label(labels!, 'service_name');
    const key = `${service} ${label(labels!, 'span_name')}`;
    if (metric === 'traces_span_metrics_calls_total') add(calls, key, Number(value));
    if (metric === 'traces_span_metrics_duration_seconds_count') add(observed, key, Number(value));
    if (exemplarLabels && label(exemplarLabels, 'trace_id')) {
      exemplars.push({
        service,
        status: label(labels!, 'status_code'),
        traceId: label(exemplarLabels, 'trace_id'),
        value: Number(exemplarValue),
      });
    }
  }
  return { calls, observed, exemplars };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;

/** Looks each trace up once, a few at a time; resolves with the ids Jaeger holds. */
async function inJaeger(traces: Trace[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < traces.length; i += 20) {
    const batch = traces.slice(i, i + 20);
    const traced = await Promise.all(batch.map(async (trace) => ((await jaegerTrace(trace.traceId)) ? trace : null)));
    for (const trace of traced) if (trace) found.add(trace.traceId);
  }
  return found;
}

describe(`tail sampling: a second collector with the defaults (${PERCENT}% of the rest, every error, every trace of ${SLOW_MS} ms or more)`, function () {
  this.timeout(300_000);
  let collector: Collector;
  const traces: Trace[] = [];
  const errors = () => traces.filter((t) => t.shape === 'error');
  const slow = () => traces.filter((t) => t.shape === 'slow');
  const ordinary = () => traces.filter((t) => t.shape === 'ordinary');
  let keptOrdinary = new Set<string>();

  before(async () => {
    collector = await startCollector();
    // Interleaved, as real traffic is: every tenth ordinary trace comes with an error and a slow one.
    const now = Date.now();
    for (let i = 0; i < ORDINARY; i++) {
      traces.push(makeTrace('ordinary', now + i));
      if (i % (ORDINARY / ERRORS) === 0) traces.push(makeTrace('error', now + i));
      if (i % (ORDINARY / SLOW) === 0) traces.push(makeTrace('slow', now + i));
    }
    for (let i = 0; i < traces.length; i += 24) {
      const batch = traces.slice(i, i + 24);
      await send(
        collector,
        batch.flatMap((t) => t.spans),
      );
      const sentAt = Date.now();
      for (const trace of batch) trace.sentAt = sentAt;
    }
  });

  after(async () => {
    await collector?.stop();
  });

  it('keeps every trace with an error and every slow trace, fresh in Jaeger (p95 within 3 s)', async () => {
    const kept = [...errors(), ...slow()];
    const delays = await Promise.all(
      kept.map(async (trace) => {
        await eventually(
          async () => (await jaegerTrace(trace.traceId))?.spans.length === trace.spans.length,
          `${trace.shape} trace ${trace.traceId} complete in Jaeger`,
          30_000,
        );
        return Date.now() - trace.sentAt!;
      }),
    );
    delays.sort((a, b) => a - b);
    console.log(
      `      ${kept.length}/${kept.length} error and slow traces kept; sent -> in Jaeger: p50 ${quantile(delays, 0.5)} ms, p95 ${quantile(delays, 0.95)} ms`,
    );
    assert.ok(quantile(delays, 0.95) <= 3000, `freshness p95 ${quantile(delays, 0.95)} ms is over 3 s`);
  });

  it(`keeps a share of ${ORDINARY} ordinary traces within the binomial 99% interval of ${PERCENT}%`, async () => {
    // Every decision is made within decision_wait + one tick (2 s): wait past it, then look once.
    await sleep(Math.max(0, Math.max(...traces.map((t) => t.sentAt!)) + 4000 - Date.now()));
    keptOrdinary = await inJaeger(ordinary());
    const [low, high] = binomialInterval(ORDINARY, PERCENT / 100);
    console.log(
      `      ${keptOrdinary.size} of ${ORDINARY} ordinary traces kept (${((100 * keptOrdinary.size) / ORDINARY).toFixed(1)}%); 99% interval ${low}-${high}`,
    );
    assert.ok(
      keptOrdinary.size >= low && keptOrdinary.size <= high,
      `${keptOrdinary.size} kept, outside ${low}-${high}`,
    );
    // A decision is final: looking again changes nothing.
    assert.deepEqual([...(await inJaeger(ordinary()))].sort(), [...keptOrdinary].sort());
  });

  it('adds a span that arrives after the decision to its kept trace, and drops it with a dropped one', async () => {
    const sample = [...errors(), ...ordinary().slice(0, 20)];
    await send(collector, sample.map(lateSpan));
    for (const trace of errors()) {
      await eventually(
        async () => (await jaegerTrace(trace.traceId))?.spans.length === trace.spans.length + 1,
        `the late span in error trace ${trace.traceId}`,
        15_000,
      );
    }
    await sleep(4000);
    for (const trace of ordinary().slice(0, 20)) {
      const found = await jaegerTrace(trace.traceId);
      if (keptOrdinary.has(trace.traceId)) {
        assert.equal(found?.spans.length, trace.spans.length + 1, `kept trace ${trace.traceId} got its late span`);
      } else {
        assert.equal(found, undefined, `dropped trace ${trace.traceId} was revived by its late span`);
      }
    }
  });

  /** Every exemplar seen in any scrape: the connector attaches them for one flush only. */
  const exemplars = new Map<string, Exemplar>();
  const expected = () =>
    new Map([
      [`${SERVICE}-gateway GET /api/users/:id`, ORDINARY + ERRORS + SLOW],
      [`${SERVICE}-users GET /users/:id`, ORDINARY + ERRORS + SLOW],
      [`${SERVICE}-users pg.query:SELECT glassbox`, ORDINARY + ERRORS + SLOW],
      [`${SERVICE}-notifications order.created process`, ERRORS + 20],
    ]);

  /** Polls the second collector's metrics until `pick` of them equals what was sent; keeps the exemplars seen. */
  async function countsReach(pick: 'calls' | 'observed', what: string): Promise<Map<string, number>> {
    return eventually(
      async () => {
        const metrics = await spanMetrics(collector);
        for (const exemplar of metrics.exemplars) exemplars.set(`${exemplar.traceId} ${exemplar.value}`, exemplar);
        const counts = metrics[pick];
        for (const [key, count] of expected()) {
          assert.ok((counts.get(key) ?? 0) <= count, `${key}: ${counts.get(key)}, more than the ${count} sent`);
        }
        return [...expected()].every(([key, count]) => counts.get(key) === count) ? counts : undefined;
      },
      what,
      // The connector flushes once a minute; a new counter series shows 0 on its first flush
      // (so Prometheus sees its first increase) and its count from the next.
      150_000,
    );
  }

  it('counts every span in the span metrics, sampled or not', async () => {
    const observed = await countsReach('observed', 'the duration histograms counting every span sent');
    assert.deepEqual(Object.fromEntries(observed), Object.fromEntries(expected()));
    const calls = await countsReach('calls', 'traces_span_metrics_calls_total counting every span sent');
    assert.deepEqual(Object.fromEntries(calls), Object.fromEntries(expected()));
    console.log(`      span metrics: ${[...calls.values()].join(' + ')} calls, exactly the spans sent`);
  });

  it('has exemplars that always open a trace on errors and slow spans, and on others when the trace was kept', async () => {
    // Exemplars are picked before sampling. One on an error series, or of a span at or over the
    // slow threshold, belongs to a trace the sampler always keeps: it must open. Any other one
    // opens exactly when its trace was among the kept share.
    const all = [...exemplars.values()];
    const mustOpen = all.filter((e) => e.status === 'STATUS_CODE_ERROR' || e.value * 1000 >= SLOW_MS);
    assert.ok(mustOpen.length > 0, `no exemplar on an error series or a slow bucket among ${all.length}`);
    const opened = await inJaeger(all.map((e) => ({ traceId: e.traceId }) as Trace));
    for (const exemplar of mustOpen) {
      assert.ok(opened.has(exemplar.traceId), `exemplar ${exemplar.traceId} (${exemplar.status}, ${exemplar.value} s)`);
    }
    const shapeOf = new Map(traces.map((t) => [t.traceId, t.shape]));
    const rest = all.filter((e) => !mustOpen.includes(e) && shapeOf.get(e.traceId) === 'ordinary');
    for (const exemplar of rest) {
      assert.equal(opened.has(exemplar.traceId), keptOrdinary.has(exemplar.traceId), exemplar.traceId);
    }
    console.log(
      `      ${all.length} exemplars: ${mustOpen.length} on errors or slow spans, all open in Jaeger; ${
        rest.filter((e) => opened.has(e.traceId)).length
      } of ${rest.length} on ordinary spans open (their trace was in the kept share)`,
    );
  });
});
