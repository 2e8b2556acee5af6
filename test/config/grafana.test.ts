import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parser as logqlParser } from '@grafana/lezer-logql';
import { parser } from '@prometheus-io/lezer-promql';
import { parse as parseYaml } from 'yaml';
import * as generator from '@glassbox/grafana/dashboards';
import * as queries from '@glassbox/grafana/queries';
import { parseLogQuery, UnsupportedLogQuery } from '../src/logql';

/**
 * grafana/ is code: the dashboards are generated from TypeScript into
 * committed JSON, and the provisioning YAML links the data sources. This
 * suite checks, without Grafana (it can not run here), what Grafana would
 * trip on or silently show empty: stale JSON, PromQL that does not parse, a
 * data source uid nobody provisioned, a panel without a unit, a Jaeger or
 * Loki query with fields Grafana's data source does not read.
 */

const ROOT = join(__dirname, '..', '..', '..');
const DASHBOARDS = join(ROOT, 'grafana', 'dashboards');
const DATASOURCES = join(ROOT, 'grafana', 'provisioning', 'datasources', 'datasources.yaml');
const PROVIDERS = join(ROOT, 'grafana', 'provisioning', 'dashboards', 'dashboards.yaml');

/** A value for every template variable of the dashboards, enough to parse their queries. */
const SAMPLE_VALUES = {
  service: 'orders',
  route: '/orders',
  instance: '127.0.0.1:8083',
  order_id: '42',
  trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
};
/** What a data link's row references (${__value.raw}, ${__data.fields.x}) stand for when it is clicked. */
const SAMPLE_ROW = {
  value: '4bf92f3577b34da6a3ce929d0e0e4736',
  fields: { source: 'gateway', target: 'orders', id: 'gateway->orders' },
};
/** What Grafana puts in place of $__tags in a trace-to-metrics query: the mapped span tags as matchers. */
const SAMPLE_TAGS = 'instance="d728b51f-d8a5-4f34-8d89-f9c04bba8066"';

/** Where the PromQL grammar rejects an expression; empty when it parses. */
function promqlErrors(expr: string): string[] {
  const errors: string[] = [];
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError) errors.push(`at ${node.from}: "${expr.slice(Math.max(0, node.from - 20), node.to + 20)}"`);
    },
  });
  return errors;
}

interface Provisioned {
  name: string;
  type: string;
  uid: string;
  access: string;
  url: string;
  jsonData?: {
    maxLines?: number;
    exemplarTraceIdDestinations?: Array<{ name: string; datasourceUid: string }>;
    tracesToLogsV2?: { datasourceUid: string; query?: string };
    tracesToMetrics?: { datasourceUid: string; queries: Array<{ name: string; query: string }> };
    derivedFields?: Array<{ name: string; datasourceUid?: string; url: string }>;
  };
}

/** What Grafana reads from the file: `$$` is its escape for a literal `$` (a single `$` names an environment variable). */
function readProvisioning<T>(file: string): { raw: string; parsed: T } {
  const raw = readFileSync(file, 'utf8');
  return { raw, parsed: parseYaml(raw.replaceAll('$$', '$')) as T };
}

/** Where Grafana's LogQL grammar rejects an expression; empty when it parses. */
function logqlErrors(expr: string): string[] {
  const errors: string[] = [];
  logqlParser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError) errors.push(`at ${node.from}: "${expr.slice(Math.max(0, node.from - 20), node.to + 20)}"`);
    },
  });
  return errors;
}

/**
 * The fields of each query type of Grafana's Jaeger data source (its
 * JaegerQuery type, Grafana 12.4), besides refId and datasource. A trace-id
 * query has no queryType. ('upload' reads a file a user picks: not for a
 * dashboard.)
 */
const JAEGER_FIELDS: Record<string, string[]> = {
  search: ['queryType', 'service', 'operation', 'tags', 'minDuration', 'maxDuration', 'limit'],
  dependencyGraph: ['queryType'],
  traceId: ['query'],
};
/** The panel each Jaeger query type is drawn by: a table of traces, a node graph, one trace. */
const JAEGER_PANELS: Record<string, string> = { search: 'table', dependencyGraph: 'nodeGraph', traceId: 'traces' };

/**
 * The fields of a query of Grafana's Loki data source (its LokiQuery type,
 * Grafana 12.4), besides refId and datasource. `instant` and `range` are the
 * older booleans that queryType replaced.
 */
const LOKI_FIELDS = ['expr', 'queryType', 'editorMode', 'legendFormat', 'maxLines', 'direction', 'step', 'resolution'];

/**
 * Why a Jaeger query (with every variable and row reference replaced) is not
 * one Grafana's Jaeger data source runs as meant; empty when it is.
 */
function jaegerQueryProblems(target: queries.TargetJson): string[] {
  const kind = target.queryType ?? 'traceId';
  const allowed = JAEGER_FIELDS[kind];
  if (!allowed) return [`queryType ${String(target.queryType)} is not one of ${Object.keys(JAEGER_FIELDS).join(', ')}`];
  const problems = Object.keys(target)
    .filter((field) => !['refId', 'datasource', ...allowed].includes(field))
    .map((field) => `${field} is not a field of a Jaeger ${kind} query`);
  if (kind === 'search') {
    if (typeof target.service !== 'string' || !target.service) problems.push('a search needs a service');
    if (target.operation !== undefined && (typeof target.operation !== 'string' || !target.operation))
      problems.push('operation is empty');
    if (!Number.isInteger(target.limit) || (target.limit as number) < 1 || (target.limit as number) > 1000)
      problems.push(`limit ${String(target.limit)} is not a number of traces (1 to 1000)`);
    if (target.tags !== undefined && !Object.keys(queries.parseLogfmt(target.tags) ?? {}).length)
      problems.push(`tags ${target.tags} are not logfmt key=value pairs`);
    for (const field of ['minDuration', 'maxDuration'] as const)
      if (target[field] !== undefined && !queries.GO_DURATION.test(target[field]))
        problems.push(`${field} ${target[field]} is not a duration Jaeger reads (300ms, 1.5s)`);
  }
  if (kind === 'traceId' && !/^[0-9a-f]{32}$/.test(target.query ?? ''))
    problems.push(`query ${String(target.query)} is not a trace id (32 hex digits)`);
  return problems;
}

/** A query's text fields with the dashboard's variables replaced by `values`. */
function expandQuery(target: queries.TargetJson, values: Record<string, string>): queries.TargetJson {
  const expanded: queries.TargetJson = { ...target };
  for (const [field, value] of Object.entries(target))
    if (typeof value === 'string') expanded[field] = queries.expandVariables(value, values);
  return expanded;
}

/** Every variable of a dashboard set: sample values where given, else the typed variables' defaults. */
function sampleValues(dashboard: queries.DashboardJson): Record<string, string> {
  const defined = new Set(dashboard.templating.list.map((v) => v.name));
  return {
    ...queries.typedVariableDefaults(dashboard),
    ...Object.fromEntries(Object.entries(SAMPLE_VALUES).filter(([name]) => defined.has(name))),
  };
}

describe('Grafana dashboards and provisioning (grafana/)', () => {
  const dashboards = queries.loadDashboards(DASHBOARDS);
  const datasources = readProvisioning<{ apiVersion: number; datasources: Provisioned[] }>(DATASOURCES);

  it('has committed dashboards equal to what grafana/src generates (stale JSON fails: run npm run dashboards)', async () => {
    const generated = await generator.renderDashboards(DASHBOARDS);
    const committed = Object.keys(dashboards);
    assert.deepEqual(
      committed,
      Object.keys(generated).sort(),
      `grafana/dashboards holds ${committed.join(', ')}: run npm run dashboards`,
    );
    for (const [file, text] of Object.entries(generated)) {
      const onDisk = readFileSync(join(DASHBOARDS, file), 'utf8');
      assert.ok(onDisk === text, `grafana/dashboards/${file} is stale: run npm run dashboards`);
    }
  });

  it('rejects PromQL that does not parse (the check below can fail)', () => {
    assert.deepEqual(promqlErrors('sum by (job) (rate(http_requests_total[5m]))'), []);
    assert.notDeepEqual(promqlErrors('sum by (job) (rate(http_requests_total[5m])'), []);
    assert.notDeepEqual(promqlErrors('histogram_quantile(0.99, sum by (le) rate(x[5m]))'), []);
    assert.throws(() => queries.expandVariables('up{job="$servce"}', SAMPLE_VALUES), /\$servce is not a variable/);
  });

  it('parses every PromQL query of every panel and variable, with its variables replaced', () => {
    let checked = 0;
    for (const [file, dashboard] of Object.entries(dashboards)) {
      const values = sampleValues(dashboard);
      for (const { panel, target, datasource } of queries.panelQueries(dashboard)) {
        if (datasource.type !== 'prometheus') continue;
        const where = `${file} panel ${panel.id} "${panel.title}" query ${target.refId}`;
        assert.ok(target.expr, `${where} has no expr`);
        const errors = promqlErrors(queries.expandVariables(target.expr, values, panel));
        assert.deepEqual(errors, [], `${where} does not parse: ${target.expr}`);
        checked++;
      }
      for (const variable of queries.labelValuesVariables(dashboard)) {
        if (!variable.selector) continue;
        const errors = promqlErrors(queries.expandVariables(variable.selector, values));
        assert.deepEqual(errors, [], `${file} variable $${variable.name}: ${variable.selector} does not parse`);
        checked++;
      }
    }
    assert.ok(checked > 40, `only ${checked} queries found`);
  });

  it('parses every trace-to-metrics query of the Jaeger data source, with $__tags replaced', () => {
    const jaeger = datasources.parsed.datasources.find((d) => d.type === 'jaeger');
    const linked = jaeger?.jsonData?.tracesToMetrics?.queries ?? [];
    assert.ok(linked.length > 0, 'the Jaeger data source has no trace-to-metrics queries');
    for (const { name, query } of linked) {
      assert.match(query, /\$__tags/, `"${name}" does not filter by the span's tags`);
      const errors = promqlErrors(query.replaceAll('$__tags', SAMPLE_TAGS));
      assert.deepEqual(errors, [], `trace-to-metrics query "${name}" does not parse: ${query}`);
    }
  });

  it('uses only data sources that are provisioned, by uid and type', () => {
    const provisioned = new Map(datasources.parsed.datasources.map((d) => [d.uid, d.type]));
    const check = (ref: queries.DataSourceRef | undefined, where: string) => {
      assert.ok(ref?.uid, `${where} names no data source uid`);
      assert.ok(provisioned.has(ref.uid), `${where} uses data source uid "${ref.uid}", not in datasources.yaml`);
      if (ref.type) assert.equal(ref.type, provisioned.get(ref.uid), `${where}: type of "${ref.uid}"`);
    };
    for (const [file, dashboard] of Object.entries(dashboards)) {
      for (const panel of dashboard.panels) {
        if (panel.type === 'text') continue;
        check(panel.datasource, `${file} panel ${panel.id}`);
        for (const target of panel.targets ?? []) check(target.datasource, `${file} panel ${panel.id} ${target.refId}`);
      }
      for (const variable of dashboard.templating.list.filter((v) => v.type === 'query'))
        check(variable.datasource, `${file} $${variable.name}`);
      for (const panel of dashboard.panels)
        for (const link of queries.panelLinks(panel).filter((l) => l.internal)) {
          const where = `${file} panel ${panel.id} link "${link.title}"`;
          check({ uid: link.internal?.datasourceUid }, where);
          const named = datasources.parsed.datasources.find((d) => d.uid === link.internal?.datasourceUid);
          assert.equal(link.internal?.datasourceName, named?.name, `${where}: the data source's name`);
        }
    }
    for (const source of datasources.parsed.datasources) {
      const links = source.jsonData ?? {};
      for (const uid of [
        ...(links.exemplarTraceIdDestinations ?? []).map((d) => d.datasourceUid),
        links.tracesToLogsV2?.datasourceUid,
        links.tracesToMetrics?.datasourceUid,
        ...(links.derivedFields ?? []).map((d) => d.datasourceUid),
      ].filter((uid) => uid !== undefined))
        check({ uid }, `a link of the ${source.name} data source`);
    }
  });

  it('escapes every $ meant for Grafana in datasources.yaml as $$ (a single $ is an environment variable)', () => {
    const unescaped = datasources.raw
      .split('\n')
      .map((line, index) => ({ line: line.replace(/#.*$/, ''), number: index + 1 }))
      .filter(({ line }) => line.replaceAll('$$', '').includes('$'));
    assert.deepEqual(unescaped, [], 'write $$ for a literal $ in provisioning files');
  });

  it('provisions data sources with the fields Grafana requires, and every signal link', () => {
    const { apiVersion, datasources: list } = datasources.parsed;
    assert.equal(apiVersion, 1);
    for (const source of list)
      for (const field of ['name', 'type', 'uid', 'access', 'url'] as const)
        assert.ok(source[field], `data source ${source.name ?? '?'} has no ${field}`);
    assert.equal(new Set(list.map((d) => d.uid)).size, list.length, 'data source uids are unique');
    assert.equal(new Set(list.map((d) => d.name)).size, list.length, 'data source names are unique');
    const byUid = new Map(list.map((d) => [d.uid, d]));
    assert.deepEqual(
      [...byUid.keys()].sort(),
      ['jaeger', 'loki', 'prometheus'],
      'the dashboards and links rely on these fixed uids',
    );
    const exemplars = byUid.get('prometheus')?.jsonData?.exemplarTraceIdDestinations;
    assert.deepEqual(
      exemplars?.map((d) => [d.name, d.datasourceUid]),
      [['trace_id', 'jaeger']],
      'exemplars -> Jaeger',
    );
    const jaeger = byUid.get('jaeger')?.jsonData;
    assert.equal(jaeger?.tracesToLogsV2?.datasourceUid, 'loki', 'traces -> logs');
    assert.match(jaeger?.tracesToLogsV2?.query ?? '', /trace_id="\$\{__trace\.traceId\}"/, 'logs filtered by trace id');
    assert.equal(jaeger?.tracesToMetrics?.datasourceUid, 'prometheus', 'traces -> metrics');
    const derived = byUid.get('loki')?.jsonData?.derivedFields ?? [];
    assert.ok(
      derived.some((d) => d.datasourceUid === 'jaeger' && d.url === '${__value.raw}'),
      'logs -> traces: a derived field opening the trace id in Jaeger',
    );
  });

  it('provisions the dashboards from the folder compose mounts', () => {
    const { parsed } = readProvisioning<{
      apiVersion: number;
      providers: Array<{ name: string; type: string; options?: { path?: string } }>;
    }>(PROVIDERS);
    assert.equal(parsed.apiVersion, 1);
    assert.ok(parsed.providers.length > 0, 'no dashboard provider');
    for (const provider of parsed.providers) {
      assert.ok(provider.name, 'a provider has no name');
      assert.equal(provider.type, 'file', `provider ${provider.name}`);
      assert.equal(provider.options?.path, '/var/lib/grafana/dashboards', `provider ${provider.name} path`);
    }
  });

  it('gives each dashboard a unique uid and title, and a guide text panel first', () => {
    const all = Object.values(dashboards);
    assert.equal(all.length, 5, Object.keys(dashboards).join(', '));
    assert.equal(new Set(all.map((d) => d.uid)).size, all.length, 'dashboard uids are unique');
    assert.equal(new Set(all.map((d) => d.title)).size, all.length, 'dashboard titles are unique');
    for (const [file, dashboard] of Object.entries(dashboards)) {
      assert.ok(dashboard.uid && dashboard.title && dashboard.schemaVersion, `${file}: uid, title, schemaVersion`);
      assert.equal(dashboard.panels[0]?.type, 'text', `${file}: the first panel tells a learner where to look`);
    }
  });

  it('gives every panel an id unique in its dashboard, a description, and a unit (text, logs and trace panels aside)', () => {
    for (const [file, dashboard] of Object.entries(dashboards)) {
      const ids = dashboard.panels.map((p) => p.id);
      assert.equal(new Set(ids).size, ids.length, `${file}: panel ids ${ids.join(', ')}`);
      for (const panel of dashboard.panels) {
        const where = `${file} panel ${panel.id} "${panel.title}"`;
        assert.ok(panel.title, `${where} has no title`);
        assert.ok(panel.description && panel.description.length > 20, `${where} has no description`);
        if (panel.type === 'text') continue;
        assert.ok((panel.targets ?? []).length > 0, `${where} has no query`);
        // Log lines and a trace's spans are not numbers: those panels have no unit to show.
        if (panel.type === 'logs' || panel.type === 'traces') continue;
        assert.ok(panel.fieldConfig?.defaults?.unit, `${where} has no unit`);
      }
    }
  });

  it('rejects Jaeger and Loki queries Grafana would not run as meant (the checks below can fail)', () => {
    const search = { refId: 'A', queryType: 'search', service: 'orders', limit: 20 };
    assert.deepEqual(jaegerQueryProblems(search), []);
    assert.notDeepEqual(jaegerQueryProblems({ ...search, service: '' }), []);
    assert.notDeepEqual(jaegerQueryProblems({ ...search, queryType: 'traceql' }), []);
    assert.notDeepEqual(jaegerQueryProblems({ ...search, minDuration: '300' }), []);
    assert.notDeepEqual(jaegerQueryProblems({ ...search, tags: 'error' }), []);
    assert.notDeepEqual(jaegerQueryProblems({ ...search, expr: 'up' }), []);
    assert.notDeepEqual(jaegerQueryProblems({ refId: 'A', query: 'not-a-trace-id' }), []);
    assert.deepEqual(queries.parseLogfmt('error.type=500 http.route="/a b"'), {
      'error.type': '500',
      'http.route': '/a b',
    });
    assert.deepEqual(logqlErrors('{service_name="orders"} | severity_number >= 13'), []);
    assert.notDeepEqual(logqlErrors('{service_name="orders" | severity_number >= 13'), []);
    assert.throws(() => parseLogQuery('{service_name="orders"} | json'), UnsupportedLogQuery);
    assert.throws(() => parseLogQuery('sum(rate({service_name="orders"}[5m]))'), UnsupportedLogQuery);
  });

  it('gives every Jaeger query the fields of its query type in Grafana 12.4, one query per panel, on the panel that draws it', () => {
    let checked = 0;
    for (const [file, dashboard] of Object.entries(dashboards)) {
      const values = sampleValues(dashboard);
      for (const panel of dashboard.panels) {
        const jaeger = queries
          .panelQueries(dashboard)
          .filter((q) => q.panel === panel && q.datasource.type === 'jaeger');
        if (jaeger.length === 0) continue;
        const where = `${file} panel ${panel.id} "${panel.title}"`;
        // Grafana's Jaeger data source runs only the first query of a panel.
        assert.equal(panel.targets?.length, 1, `${where}: one Jaeger query per panel`);
        for (const { target } of jaeger) {
          assert.deepEqual(jaegerQueryProblems(expandQuery(target, values)), [], `${where}: ${JSON.stringify(target)}`);
          assert.equal(panel.type, JAEGER_PANELS[target.queryType ?? 'traceId'], `${where}: the panel type`);
          checked++;
        }
      }
    }
    assert.ok(checked >= 6, `only ${checked} Jaeger queries found`);
  });

  it('gives every data link to a Jaeger query a well-formed query, once the row it is clicked on fills it in', () => {
    let checked = 0;
    for (const [file, dashboard] of Object.entries(dashboards)) {
      const values = sampleValues(dashboard);
      for (const panel of dashboard.panels)
        for (const link of queries.panelLinks(panel)) {
          const where = `${file} panel ${panel.id} link "${link.title}"`;
          if (!link.internal) {
            assert.ok(link.url, `${where} has neither a URL nor a query`);
            continue;
          }
          const query = JSON.parse(queries.expandRowReferences(JSON.stringify(link.internal.query), SAMPLE_ROW));
          assert.deepEqual(jaegerQueryProblems(expandQuery({ refId: 'A', ...query }, values)), [], where);
          checked++;
        }
    }
    assert.ok(checked >= 3, `only ${checked} links to Jaeger found`);
  });

  it('gives every Loki query the fields Grafana 12.4 reads, LogQL that parses, and a log query on a logs panel', () => {
    const maxLines = datasources.parsed.datasources.find((d) => d.type === 'loki')?.jsonData?.maxLines ?? 1000;
    let checked = 0;
    for (const [file, dashboard] of Object.entries(dashboards)) {
      const values = sampleValues(dashboard);
      for (const { panel, target, datasource } of queries.panelQueries(dashboard)) {
        if (datasource.type !== 'loki') continue;
        const where = `${file} panel ${panel.id} "${panel.title}"`;
        const unknown = Object.keys(target).filter((f) => !['refId', 'datasource', ...LOKI_FIELDS].includes(f));
        assert.deepEqual(unknown, [], `${where}: fields a Loki query does not have`);
        assert.equal(panel.type, 'logs', `${where}: Loki panels here list log lines`);
        // A log query is a range query; Loki refuses an instant one.
        assert.equal(target.queryType, 'range', `${where}: queryType`);
        assert.equal(target.editorMode, 'code', `${where}: editorMode`);
        assert.ok(['backward', 'forward'].includes(target.direction ?? 'backward'), `${where}: direction`);
        assert.ok(
          Number.isInteger(target.maxLines) && (target.maxLines as number) <= maxLines,
          `${where}: maxLines ${String(target.maxLines)}, at most the data source's ${maxLines}`,
        );
        const expr = queries.expandVariables(target.expr ?? '', values);
        assert.deepEqual(logqlErrors(expr), [], `${where} does not parse: ${target.expr}`);
        assert.equal(
          logqlParser.parse(expr).topNode.firstChild?.firstChild?.type.name,
          'LogExpr',
          `${where}: a log query`,
        );
        checked++;
      }
    }
    assert.ok(checked >= 2, `only ${checked} Loki queries found`);
  });

  it("uses only LogQL the native stack's log store answers, in every Loki query and every trace-to-logs link", () => {
    const queriesOfPanels = Object.values(dashboards).flatMap((dashboard) =>
      queries
        .panelQueries(dashboard)
        .filter((q) => q.datasource.type === 'loki')
        .map((q) => queries.expandVariables(q.target.expr ?? '', sampleValues(dashboard))),
    );
    const link = datasources.parsed.datasources.find((d) => d.type === 'jaeger')?.jsonData?.tracesToLogsV2?.query ?? '';
    const linked = link
      .replaceAll('${__tags}', 'service_instance_id="d728b51f-d8a5-4f34-8d89-f9c04bba8066"')
      .replaceAll('${__trace.traceId}', SAMPLE_ROW.value);
    for (const expr of [...queriesOfPanels, linked]) assert.doesNotThrow(() => parseLogQuery(expr), expr);
  });

  it('asks for exemplars on the latency panel of the RED dashboard, from the raw histogram', () => {
    const red = dashboards['service-overview.json'];
    assert.ok(red, 'no service-overview.json');
    const withExemplars = queries.panelQueries(red).filter((q) => q.target.exemplar);
    assert.ok(withExemplars.length > 0, 'no query asks for exemplars');
    for (const { panel, target } of withExemplars) {
      assert.equal(panel.fieldConfig?.defaults?.unit, 's', `${panel.title}: a latency`);
      // Recorded series (job:...) carry no exemplars: the query must read the histogram itself.
      assert.match(target.expr ?? '', /http_request_duration_seconds_bucket\{/, panel.title);
    }
  });
});
