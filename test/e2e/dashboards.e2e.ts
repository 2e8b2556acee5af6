import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import * as queries from '@glassbox/grafana/queries';
import { call } from '@glassbox/service-kit/testing';
import { endpoints, getJson, jaegerTrace, newTraceparent, promQuery, type JaegerTrace } from '../src/endpoints';
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
    settledBy = Date.now() + SETTLE_MS;
  });

  /** Waits for `check` until the stack has had time to settle, then a last few seconds. */
  const settled = <T>(check: () => Promise<T>, what: string) =>
    eventually(check, what, Math.max(5_000, settledBy - Date.now()));

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
            } else {
              assert.fail(`${where}: no check for a ${datasource.type} query ${JSON.stringify(target)}`);
            }
          }
        });
      }
    });
  }

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
