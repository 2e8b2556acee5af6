import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import * as queries from '@glassbox/grafana/queries';
import { call } from '@glassbox/service-kit/testing';
import { endpoints, getJson, jaegerTrace, newTraceparent, promQuery, type JaegerTrace } from '../src/endpoints';
import { withFault } from '../src/faults';
import { eventually } from '../src/system';

/**
 * Every panel of every committed dashboard, run against the live stack: after
 * some orders, each query must return at least one series, with its template
 * variables set to a value Prometheus really has (service=orders,
 * route=/orders, an instance it scrapes). The links between signals that
 * grafana/provisioning/datasources/datasources.yaml declares are followed the
 * same way: exemplars to Jaeger, a span to its service's metrics and logs.
 *
 * One panel family can not have data under the native stack: the service
 * graph (traces_service_graph_*), because its collector is built without the
 * servicegraph connector. Those queries are checked for exactly that (no such
 * series anywhere in Prometheus, not merely none for this query), and then
 * the Jaeger dependency graph that stands in for them must hold the edges.
 *
 * The trace and log panels are run the way Grafana runs them: a Jaeger search
 * as the same GET /api/traces Grafana's Jaeger data source sends, a trace by
 * its id, a LogQL query as Loki's query_range. So that the slow-trace and
 * error tables have something to show, the suite plays two fault scenarios
 * for a few requests (slow-sql, error-burst); the textbox variables are set
 * to what a learner would paste (the last order placed, its trace).
 */

const ROOT = join(__dirname, '..', '..', '..');
const dashboards = queries.loadDashboards(join(ROOT, 'grafana', 'dashboards'));

interface LinkConfig {
  tags: Array<{ key: string; value?: string }>;
  query?: string;
  queries?: Array<{ name: string; query: string }>;
}
const provisioning = parseYaml(
  // `$$` is the provisioning files' escape for a literal `$`.
  readFileSync(join(ROOT, 'grafana', 'provisioning', 'datasources', 'datasources.yaml'), 'utf8').replaceAll('$$', '$'),
) as { datasources: Array<{ uid: string; jsonData?: { tracesToMetrics?: LinkConfig; tracesToLogsV2?: LinkConfig } }> };
const jaegerLinks = provisioning.datasources.find((d) => d.uid === 'jaeger')?.jsonData ?? {};

/** The value each template variable is set to, when Prometheus has it. */
const PREFERRED: Record<string, string> = { service: 'orders', route: '/orders' };
const ORDERS = 30;
/**
 * After the orders, how long until every panel can show them: the span and
 * service-graph connectors flush once a minute (a series idle for 5 minutes
 * is dropped and only comes back at the next flush), then a scrape (15 s),
 * then a second one so that rate() has two samples.
 */
const SETTLE_MS = 95_000;
const SERVICE_GRAPH = /traces_service_graph_/;
const EXPECTED_EDGES = ['gateway→orders', 'orders→users', 'orders→products', 'orders→notifications'];
/** The time range of every dashboard (assemble() in grafana/src/panels.ts). */
const RANGE_MS = 30 * 60_000;
/** The services one order's trace crosses, from the gateway through the queue into the consumer. */
const ORDER_SERVICES = ['gateway', 'orders', 'users', 'products', 'notifications'];

/** Jaeger's HTTP API shape of a span's tags; a span with status ERROR carries otel.status_code=ERROR. */
const failed = (span: JaegerTrace['spans'][number]) =>
  span.tags.some((tag) => tag.key === 'otel.status_code' && tag.value === 'ERROR');
const serviceOf = (trace: JaegerTrace, span: JaegerTrace['spans'][number]) =>
  trace.processes[span.processID]?.serviceName;

/** A Go duration as Jaeger reads it (300ms, 1.5s, 2m), in microseconds. */
function microseconds(duration: string): number {
  const units: Record<string, number> = { ns: 1e-3, us: 1, µs: 1, ms: 1e3, s: 1e6, m: 6e7, h: 3.6e9 };
  let total = 0;
  for (const [, amount, unit] of duration.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g))
    total += Number(amount) * (units[unit as string] as number);
  return total;
}

/** The traces a Jaeger search panel shows: its query, sent as Grafana sends it, over the dashboard's range. */
async function jaegerSearch(target: queries.TargetJson, values: Record<string, string>): Promise<JaegerTrace[]> {
  const params = queries.jaegerSearchParams(target, values, { fromMs: Date.now() - RANGE_MS, toMs: Date.now() });
  const { status, body } = await getJson<{ data: JaegerTrace[] | null; errors: unknown }>(
    `${endpoints.jaeger}/api/traces?${params.toString()}`,
  );
  assert.equal(status, 200, `Jaeger search ${params.toString()}: ${JSON.stringify(body)}`);
  return body.data ?? [];
}

interface LokiStream {
  stream: Record<string, string>;
  values: Array<[string, string]>;
}

/**
 * The lines a logs panel shows: its LogQL as a query_range over the
 * dashboard's range, newest first, at most maxLines. A 400 is a query the log
 * store does not answer: under the native stack, a query shape its stand-in
 * for Loki was not taught, which fails the test rather than showing nothing.
 */
async function lokiQuery(expr: string, maxLines: number): Promise<LokiStream[]> {
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  const params = new URLSearchParams({
    query: expr,
    start: String(nowNs - BigInt(RANGE_MS) * 1_000_000n),
    end: String(nowNs),
    limit: String(maxLines),
    direction: 'backward',
  });
  const response = await fetch(`${endpoints.loki}/loki/api/v1/query_range?${params.toString()}`, {
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (response.status === 400) assert.fail(`the log store refused ${expr}: ${text}`);
  assert.equal(response.status, 200, `${expr}: ${text}`);
  return (JSON.parse(text) as { data: { result: LokiStream[] } }).data.result;
}

async function jaegerEdges(): Promise<Set<string>> {
  const { status, body } = await getJson<{ data: Array<{ parent: string; child: string }> | null }>(
    `${endpoints.jaeger}/api/dependencies?endTs=${Date.now()}&lookback=${30 * 60_000}`,
  );
  assert.equal(status, 200, 'Jaeger /api/dependencies');
  return new Set((body.data ?? []).map((d) => `${d.parent}→${d.child}`));
}

/** The label values a label_values(selector, label) variable offers, as Grafana would ask for them. */
async function labelValues(label: string, selector: string | undefined): Promise<string[]> {
  const match = selector ? `&match[]=${encodeURIComponent(selector)}` : '';
  const start = Math.floor(Date.now() / 1000) - 3600;
  const { status, body } = await getJson<{ data: string[] }>(
    `${endpoints.prometheus}/api/v1/label/${label}/values?start=${start}${match}`,
  );
  assert.equal(status, 200, `label values of ${label}`);
  return body.data;
}

/**
 * Grafana's $__tags for a trace link: each mapped span tag (process tags,
 * then span tags, as Grafana looks them up) as a `label="value"` matcher.
 */
function tagMatchers(trace: JaegerTrace, serviceName: string, link: LinkConfig): string {
  const process = Object.values(trace.processes).find((p) => p.serviceName === serviceName) as
    { tags?: Array<{ key: string; value: unknown }> } | undefined;
  return link.tags
    .map(({ key, value }) => {
      const found = process?.tags?.find((t) => t.key === key);
      return found ? `${value ?? key}="${String(found.value)}"` : undefined;
    })
    .filter((matcher) => matcher !== undefined)
    .join(', ');
}

describe('every dashboard panel shows data from the running stack', function () {
  this.timeout(240_000);
  const suiteStarted = Date.now();
  let settledBy = 0;
  /** The trace of the first order: the suite chose its id, so it knows where to look. */
  let traceId = '';
  /** The last order placed, after the faults: what a learner would paste into Orders flow's variables. */
  let latestOrder = { id: '', traceId: '' };

  before(async () => {
    const stamp = Date.now();
    const user = await call(endpoints.gateway, 'POST', '/api/users', {
      body: { name: 'Dashboards', email: `dashboards-${stamp}@example.org` },
    });
    assert.equal(user.status, 201, JSON.stringify(user.body));
    const product = await call(endpoints.gateway, 'POST', '/api/products', {
      body: { name: `dashboards ${stamp}`, priceCents: 450, stock: 1000 },
    });
    assert.equal(product.status, 201, JSON.stringify(product.body));
    for (let i = 0; i < ORDERS; i++) {
      const { traceId: id, traceparent } = newTraceparent();
      const reply = await call(endpoints.gateway, 'POST', '/api/orders', {
        body: { userId: user.body.id, items: [{ productId: product.body.id, quantity: 1 }] },
        headers: { traceparent },
      });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      if (!traceId) traceId = id;
    }
    const order = (headers: Record<string, string> = {}) =>
      call(endpoints.gateway, 'POST', '/api/orders', {
        body: { userId: user.body.id, items: [{ productId: product.body.id, quantity: 1 }] },
        headers,
      });
    // A few orders slower than the latency objective: users' SQL waits 400 ms.
    await withFault('users', 'slow-sql', async () => {
      for (let i = 0; i < 2; i++) assert.equal((await order()).status, 201);
    });
    // A few that fail: users answers 500 to about 30% of its lookups, orders then answers 503.
    await withFault('users', 'error-burst', async () => {
      let failures = 0;
      for (let i = 0; i < 60 && failures < 3; i++) if ((await order()).status >= 500) failures++;
      assert.ok(failures > 0, 'error-burst made no order fail');
    });
    const { traceId: latestTrace, traceparent } = newTraceparent();
    const latest = await order({ traceparent });
    assert.equal(latest.status, 201, JSON.stringify(latest.body));
    latestOrder = { id: String(latest.body.id), traceId: latestTrace };
    settledBy = Date.now() + SETTLE_MS;
  });

  /** Waits for `check` until the stack has had time to settle, then a last few seconds. */
  const settled = <T>(check: () => Promise<T>, what: string) =>
    eventually(check, what, Math.max(5_000, settledBy - Date.now()));

  /**
   * A table of traces: the search returns at least one, and every one of them
   * is what the query asks for (a span of the service, of the operation, at
   * least as long as minDuration, with the error tag and status ERROR).
   */
  async function checkTraceSearch(where: string, target: queries.TargetJson, values: Record<string, string>) {
    const service = queries.expandVariables(target.service ?? '', values);
    const traces = await settled(
      async () => {
        const found = await jaegerSearch(target, values);
        return found.length > 0 ? found : undefined;
      },
      `traces for ${where}: ${JSON.stringify(target)}`,
    );
    for (const trace of traces) {
      const own = trace.spans.filter((span) => serviceOf(trace, span) === service);
      assert.ok(own.length > 0, `${where}: trace ${trace.traceID} has no span of ${service}`);
      if (target.operation)
        assert.ok(
          own.some((span) => span.operationName === target.operation),
          `${where}: ${trace.traceID} operation`,
        );
      if (target.minDuration) {
        const floor = microseconds(queries.expandVariables(target.minDuration, values));
        assert.ok(
          own.some((span) => span.duration >= floor),
          `${where}: ${trace.traceID} has no span ≥ ${floor} µs`,
        );
      }
      if (target.tags?.includes('$order_id'))
        assert.equal(trace.traceID, latestOrder.traceId, `${where}: the trace of order ${latestOrder.id}`);
      if (target.tags && /error/.test(target.tags))
        assert.ok(own.some(failed), `${where}: trace ${trace.traceID} has no span of ${service} with status ERROR`);
    }
    console.log(`      ${where}: ${traces.length} traces, e.g. ${traces[0]?.traceID}`);
  }

  /** A trace panel showing an order: the whole trace, through the queue into the consumer. */
  async function checkOrderTrace(where: string, id: string) {
    const trace = await settled(
      async () => {
        const found = await jaegerTrace(id);
        const services = new Set(found?.spans.map((span) => found && serviceOf(found, span)));
        return ORDER_SERVICES.every((service) => services.has(service)) ? found : undefined;
      },
      `${where}: trace ${id} across ${ORDER_SERVICES.join(', ')}`,
    );
    const kinds = (kind: string) =>
      trace.spans.filter((span) => span.tags.some((t) => t.key === 'span.kind' && t.value === kind));
    assert.ok(
      kinds('producer').some((span) => serviceOf(trace, span) === 'orders'),
      `${where}: the publish to RabbitMQ`,
    );
    assert.ok(
      kinds('consumer').some((span) => serviceOf(trace, span) === 'notifications'),
      `${where}: the consume`,
    );
    console.log(`      ${where}: trace ${id}, ${trace.spans.length} spans across ${ORDER_SERVICES.length} services`);
  }

  /** A logs panel: lines come back, and the trace ids they carry open in Jaeger. */
  async function checkLogLines(where: string, expr: string, maxLines: number) {
    const traceIds = await settled(async () => {
      const streams = await lokiQuery(expr, maxLines);
      const ids = [...new Set(streams.map((s) => s.stream.trace_id).filter((id): id is string => Boolean(id)))];
      return ids.length > 0 ? ids : undefined;
    }, `log lines with a trace id for ${where}: ${expr}`);
    for (const id of traceIds.slice(0, 3)) {
      const trace = await eventually(() => jaegerTrace(id), `${where}: trace ${id} of a log line, in Jaeger`, 30_000);
      assert.ok(trace.spans.length > 0, `trace ${id} has no spans`);
    }
    console.log(
      `      ${where}: lines with ${traceIds.length} trace ids, ${Math.min(3, traceIds.length)} opened in Jaeger`,
    );
  }

  for (const [file, dashboard] of Object.entries(dashboards)) {
    describe(`${dashboard.title} (grafana/dashboards/${file})`, () => {
      let values: Promise<Record<string, string>> | undefined;
      /** Each variable set to a real value, in order: a later variable's query may use an earlier one. */
      const variableValues = () =>
        (values ??= (async () => {
          const chosen: Record<string, string> = {};
          for (const variable of queries.labelValuesVariables(dashboard)) {
            const selector = variable.selector && queries.expandVariables(variable.selector, chosen);
            const offered = await settled(
              async () => {
                const found = await labelValues(variable.label, selector);
                return found.length > 0 ? found : undefined;
              },
              `values for $${variable.name} (label_values(${selector ?? ''}, ${variable.label}))`,
            );
            const preferred = PREFERRED[variable.name];
            if (preferred) assert.ok(offered.includes(preferred), `$${variable.name} offers ${offered.join(', ')}`);
            chosen[variable.name] = preferred ?? (offered[0] as string);
          }
          // Typed variables keep the value the dashboard opens with, but for
          // what a learner pastes: the last order, and its trace.
          const pasted: Record<string, string> = { order_id: latestOrder.id, trace_id: latestOrder.traceId };
          for (const [name, value] of Object.entries(queries.typedVariableDefaults(dashboard)))
            chosen[name] = pasted[name] ?? value;
          return chosen;
        })());

      for (const panel of dashboard.panels.filter((p) => p.type !== 'text')) {
        it(`panel ${panel.id} "${panel.title}": every query returns data`, async () => {
          const chosen = await variableValues();
          for (const { target, datasource } of queries.panelQueries(dashboard).filter((q) => q.panel === panel)) {
            const where = `panel ${panel.id} query ${target.refId}`;
            if (datasource.type === 'prometheus' && target.expr) {
              const expr = queries.expandVariables(target.expr, chosen, panel);
              if (
                SERVICE_GRAPH.test(expr) &&
                (await promQuery('count({__name__=~"traces_service_graph_.+"})')).length === 0
              ) {
                // Explicit, never silent: the series family is absent from the
                // whole of Prometheus, so this collector has no servicegraph
                // connector (the native stack). Jaeger's graph must stand in.
                const edges = await settled(
                  async () => {
                    const found = await jaegerEdges();
                    return EXPECTED_EDGES.every((edge) => found.has(edge)) ? found : undefined;
                  },
                  `the edges ${EXPECTED_EDGES.join(', ')} in Jaeger's dependencies`,
                );
                console.log(
                  `      ${where}: traces_service_graph_* absent (no servicegraph connector in this collector); Jaeger's dependencies have ${[...edges].join(', ')}`,
                );
                continue;
              }
              const series = await settled(
                async () => ((await promQuery(expr)).length > 0 ? true : undefined),
                `data for ${where}: ${expr}`,
              );
              assert.ok(series);
            } else if (datasource.type === 'jaeger' && target.queryType === 'dependencyGraph') {
              const edges = await settled(
                async () => {
                  const found = await jaegerEdges();
                  return EXPECTED_EDGES.every((edge) => found.has(edge)) ? found : undefined;
                },
                `the edges ${EXPECTED_EDGES.join(', ')} in Jaeger's dependencies (${where})`,
              );
              assert.ok(edges.size >= EXPECTED_EDGES.length);
            } else if (datasource.type === 'jaeger' && target.queryType === 'search') {
              await checkTraceSearch(where, target, chosen);
            } else if (datasource.type === 'jaeger' && target.queryType === undefined) {
              await checkOrderTrace(where, queries.expandVariables(target.query ?? '', chosen));
            } else if (datasource.type === 'loki' && target.expr) {
              await checkLogLines(where, queries.expandVariables(target.expr, chosen), target.maxLines ?? 1000);
            } else {
              assert.fail(`${where}: no check for a ${datasource.type} query ${JSON.stringify(target)}`);
            }
          }
        });
      }
    });
  }

  it('follows every data link to Jaeger of every panel to traces: each service-graph edge to traces of its pair', async () => {
    let followed = 0;
    for (const dashboard of Object.values(dashboards))
      for (const panel of dashboard.panels)
        for (const link of queries.panelLinks(panel)) {
          if (!link.internal) continue;
          const where = `"${panel.title}" link "${link.title}"`;
          const query = link.internal.query;
          if (query.queryType !== 'search') {
            // A trace-id link on a table's Trace ID column: the row's trace.
            const id = queries.expandRowReferences(query.query ?? '', { value: latestOrder.traceId });
            const trace = await eventually(() => jaegerTrace(id), `${where}: trace ${id}`, 30_000);
            assert.ok(trace.spans.length > 0);
            followed++;
            continue;
          }
          // An edge link: one per edge of the graph, filled in with the edge's services.
          for (const edge of EXPECTED_EDGES) {
            const [source, target] = edge.split('→') as [string, string];
            const search = JSON.parse(
              queries.expandRowReferences(JSON.stringify(query), { fields: { source, target } }),
            );
            const traces = await settled(async () => {
              const found = await jaegerSearch(search, {});
              // The pair: a span of the target whose parent is a span of the source.
              const direct = found.filter((trace) =>
                trace.spans.some(
                  (span) =>
                    serviceOf(trace, span) === target &&
                    span.references.some((ref) => {
                      const parent = trace.spans.find((p) => p.spanID === ref.spanID);
                      return parent !== undefined && serviceOf(trace, parent) === source;
                    }),
                ),
              );
              return direct.length > 0 ? direct : undefined;
            }, `${where} for ${edge}: a trace in which ${source} calls ${target}`);
            assert.ok(traces.length > 0);
            followed++;
          }
        }
    assert.ok(followed >= 2 * EXPECTED_EDGES.length, `only ${followed} links followed`);
  });

  it('offers, on every panel that asks for exemplars, trace ids that open in Jaeger', async () => {
    const since = suiteStarted / 1000;
    const withExemplars = Object.values(dashboards).flatMap((dashboard) =>
      queries.panelQueries(dashboard).filter((q) => q.target.exemplar),
    );
    assert.ok(withExemplars.length > 0, 'no panel asks for exemplars');
    for (const { panel, target } of withExemplars) {
      // The query Grafana sends to /api/v1/query_exemplars is the panel's own
      // expression: Prometheus returns the exemplars of the series it selects.
      const expr = queries.expandVariables(target.expr as string, PREFERRED, panel);
      const ids = await settled(async () => {
        const { body } = await getJson<{
          data: Array<{ exemplars: Array<{ labels: Record<string, string>; timestamp: number }> }>;
        }>(
          `${endpoints.prometheus}/api/v1/query_exemplars?query=${encodeURIComponent(expr)}&start=${since}&end=${Date.now() / 1000 + 60}`,
        );
        const found = body.data
          .flatMap((series) => series.exemplars)
          .filter((e) => e.timestamp >= since && e.labels.trace_id)
          .map((e) => e.labels.trace_id as string);
        return found.length > 0 ? found : undefined;
      }, `exemplars of "${panel.title}"`);
      for (const id of ids.slice(0, 3)) {
        const trace = await eventually(
          () => jaegerTrace(id),
          `exemplar trace ${id} of "${panel.title}" in Jaeger`,
          30_000,
        );
        assert.ok(trace.spans.length > 0, `trace ${id} has no spans`);
      }
      console.log(`      "${panel.title}": ${ids.length} exemplars, ${Math.min(3, ids.length)} opened in Jaeger`);
    }
  });

  it('follows the Jaeger trace-to-metrics links of a real trace to data, for every service in it', async () => {
    const link = jaegerLinks.tracesToMetrics;
    assert.ok(link?.queries?.length, 'no tracesToMetrics queries provisioned');
    const trace = await eventually(
      async () => {
        const found = await jaegerTrace(traceId);
        return found && new Set(Object.values(found.processes).map((p) => p.serviceName)).size >= 5 ? found : undefined;
      },
      `trace ${traceId} across the five services`,
      60_000,
    );
    for (const service of new Set(Object.values(trace.processes).map((p) => p.serviceName))) {
      const tags = tagMatchers(trace, service, link);
      assert.ok(tags, `no mapped tag (${link.tags.map((t) => t.key).join(', ')}) on the spans of ${service}`);
      for (const { name, query } of link.queries) {
        const expr = query.replaceAll('$__tags', tags);
        await settled(
          async () => ((await promQuery(expr)).length > 0 ? true : undefined),
          `"${name}" for a span of ${service}: ${expr}`,
        );
      }
    }
  });

  it('follows the Jaeger trace-to-logs link of the orders span to its log lines', async () => {
    const link = jaegerLinks.tracesToLogsV2;
    assert.ok(link?.query, 'no tracesToLogsV2 custom query provisioned');
    const trace = await eventually(() => jaegerTrace(traceId), `trace ${traceId} in Jaeger`, 60_000);
    // orders logs "order placed" inside the request: its span has log lines.
    const query = link.query
      .replaceAll('${__tags}', tagMatchers(trace, 'orders', link))
      .replaceAll('${__trace.traceId}', traceId);
    assert.doesNotMatch(query, /\$\{/, `a link variable left unresolved: ${query}`);
    const start = (Date.now() - 3_600_000) * 1e6;
    await settled(async () => {
      const { body } = await getJson<{ data: { result: unknown[] } }>(
        `${endpoints.loki}/loki/api/v1/query_range?query=${encodeURIComponent(query)}&start=${start}&limit=10`,
      );
      return body.data.result.length > 0 ? true : undefined;
    }, `log lines for ${query}`);
  });
});
