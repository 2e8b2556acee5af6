/**
 * What the committed dashboards ask their data sources, read back from the
 * JSON Grafana loads, and the queries expanded the way Grafana expands them
 * before sending: template variables ($service) replaced by a value, and
 * Grafana's own interval variables ($__rate_interval) by a duration.
 *
 * Both test tiers read dashboards through this: test/config/grafana.test.ts
 * parses every query, test/e2e/dashboards.e2e.ts runs every query against
 * the live Prometheus, Jaeger and log store.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DataSourceRef {
  type?: string;
  uid?: string;
}

/**
 * One query of a panel. Prometheus and Loki queries have `expr`; Jaeger
 * queries have the search fields, or `query` (a trace id). Every other field
 * a query may hold is kept too, so a test can say which it did not expect.
 */
export interface TargetJson {
  refId?: string;
  datasource?: DataSourceRef;
  expr?: string;
  exemplar?: boolean;
  queryType?: string;
  service?: string;
  operation?: string;
  tags?: string;
  minDuration?: string;
  maxDuration?: string;
  limit?: number;
  query?: string;
  maxLines?: number;
  direction?: string;
  editorMode?: string;
  [field: string]: unknown;
}

/** A data link of a field: a URL, or (internal) a query for a data source, opened in Explore. */
export interface DataLinkJson {
  title: string;
  url: string;
  internal?: { datasourceUid: string; datasourceName?: string; query: TargetJson };
}

export interface PanelJson {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: DataSourceRef;
  /** The panel's minimum interval, when its series change slower than they are scraped. */
  interval?: string;
  fieldConfig?: {
    defaults?: { unit?: string; links?: DataLinkJson[] };
    overrides?: Array<{ matcher: { id: string; options: string }; properties: Array<{ id: string; value: unknown }> }>;
  };
  targets?: TargetJson[];
}

export interface VariableJson {
  name: string;
  type: string;
  query?: string;
  datasource?: DataSourceRef;
  includeAll?: boolean;
  current?: { text?: string; value?: string };
}

export interface DashboardJson {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: PanelJson[];
  templating: { list: VariableJson[] };
}

/** The committed dashboards of a directory, by file name. */
export function loadDashboards(directory: string): Record<string, DashboardJson> {
  const dashboards: Record<string, DashboardJson> = {};
  for (const file of readdirSync(directory)
    .filter((name) => name.endsWith('.json'))
    .sort())
    dashboards[file] = JSON.parse(readFileSync(join(directory, file), 'utf8')) as DashboardJson;
  return dashboards;
}

/** One query of one panel, with where it comes from (for test names and failure messages). */
export interface PanelQuery {
  dashboard: string;
  panel: PanelJson;
  target: TargetJson;
  datasource: DataSourceRef;
}

export function panelQueries(dashboard: DashboardJson): PanelQuery[] {
  return dashboard.panels.flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({
      dashboard: dashboard.title,
      panel,
      target,
      // A target without a data source of its own uses its panel's.
      datasource: target.datasource ?? panel.datasource ?? {},
    })),
  );
}

/** A query variable of the form label_values(<selector>, <label>), taken apart. */
export interface LabelValuesVariable {
  name: string;
  /** A series selector, or undefined for label_values(<label>) (every series). */
  selector?: string;
  label: string;
}

/**
 * The variables a learner types or picks from a fixed list (textbox and
 * custom): their values do not come from a data source.
 */
const TYPED_VARIABLES = new Set(['textbox', 'custom']);

export function labelValuesVariables(dashboard: DashboardJson): LabelValuesVariable[] {
  return dashboard.templating.list
    .filter((variable) => !TYPED_VARIABLES.has(variable.type))
    .map((variable) => {
      const match = /^label_values\((?:(.+),\s*)?(\w+)\)$/.exec(variable.query ?? '');
      if (variable.type !== 'query' || !match)
        throw new Error(
          `variable $${variable.name}: only label_values(...) queries are expected, got ${variable.query}`,
        );
      return { name: variable.name, selector: match[1], label: match[2] as string };
    });
}

/** The value each textbox and custom variable has when the dashboard opens. */
export function typedVariableDefaults(dashboard: DashboardJson): Record<string, string> {
  return Object.fromEntries(
    dashboard.templating.list
      .filter((variable) => TYPED_VARIABLES.has(variable.type))
      .map((variable) => [variable.name, variable.current?.value ?? variable.query ?? '']),
  );
}

/** Every data link a panel's fields carry: those of its defaults and of its overrides. */
export function panelLinks(panel: PanelJson): DataLinkJson[] {
  const fromOverrides = (panel.fieldConfig?.overrides ?? []).flatMap((override) =>
    override.properties
      .filter((property) => property.id === 'links')
      .flatMap((property) => property.value as DataLinkJson[]),
  );
  return [...(panel.fieldConfig?.defaults?.links ?? []), ...fromOverrides];
}

/**
 * Replaces a data link's references to the row it is on (${__value.raw},
 * ${__data.fields.<name>}) with the values of `row`, as Grafana does when
 * the link is clicked.
 */
export function expandRowReferences(text: string, row: { value?: string; fields?: Record<string, string> }): string {
  return text
    .replace(/\$\{__value\.raw\}/g, () => {
      if (row.value === undefined) throw new Error(`no row value for \${__value.raw} in: ${text}`);
      return row.value;
    })
    .replace(/\$\{__data\.fields\.(\w+)\}/g, (whole, name: string) => {
      const value = row.fields?.[name];
      if (value === undefined) throw new Error(`no field ${name} in the row for ${whole} in: ${text}`);
      return value;
    });
}

/**
 * logfmt, as Grafana reads a Jaeger query's tags: key=value pairs separated
 * by spaces, a value with spaces in double quotes. Returns undefined for
 * text that is not logfmt.
 */
export function parseLogfmt(text: string): Record<string, string> | undefined {
  const pairs: Record<string, string> = {};
  const pair = /\s*([^\s="]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s"]*))\s*/y;
  let position = 0;
  while (position < text.length) {
    pair.lastIndex = position;
    const match = pair.exec(text);
    if (!match) return undefined;
    pairs[match[1] as string] = match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : (match[3] as string);
    position = pair.lastIndex;
  }
  return pairs;
}

/** A Go duration (what Jaeger's minDuration and maxDuration take): 300ms, 1.5s, 1m30s. */
export const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

/**
 * A Jaeger search query of a panel as the request Grafana makes of Jaeger's
 * HTTP API (GET /api/traces): variables replaced in the fields Grafana
 * replaces them in, empty fields left out, the tags turned from logfmt into
 * JSON, the time range as start and end in microseconds.
 */
export function jaegerSearchParams(
  target: TargetJson,
  values: Record<string, string>,
  range: { fromMs: number; toMs: number },
): URLSearchParams {
  const params = new URLSearchParams();
  for (const field of ['service', 'operation', 'minDuration', 'maxDuration'] as const) {
    const value = target[field] === undefined ? '' : expandVariables(target[field], values);
    if (value) params.set(field, value);
  }
  if (target.tags) {
    const tags = parseLogfmt(expandVariables(target.tags, values));
    if (!tags) throw new Error(`tags are not logfmt: ${target.tags}`);
    params.set('tags', JSON.stringify(tags));
  }
  if (target.limit) params.set('limit', String(target.limit));
  params.set('start', String(range.fromMs * 1000));
  params.set('end', String(range.toMs * 1000));
  return params;
}

/** The scrape interval of prometheus/prometheus.yml, which the Prometheus data source declares (timeInterval). */
const SCRAPE_SECONDS = 15;

/**
 * Grafana's own variables for one panel, on the dashboards' 30-minute range
 * (where the step is shorter than any interval below):
 *   $__interval       the panel's minimum interval, else the scrape interval
 *   $__rate_interval  4 x that: a rate() always spans several samples
 *   $__range          the dashboard's time range
 */
export function grafanaIntervals(panel?: PanelJson): Record<string, string> {
  const declared = /^(\d+)([smh])$/.exec(panel?.interval ?? '');
  const seconds = declared
    ? Number(declared[1]) * { s: 1, m: 60, h: 3600 }[declared[2] as 's' | 'm' | 'h']
    : SCRAPE_SECONDS;
  return { __interval: `${seconds}s`, __rate_interval: `${4 * seconds}s`, __range: '30m' };
}

/**
 * Replaces every variable in a query ($name, ${name}, ${name:format},
 * [[name]]) with its value, and Grafana's own interval variables with those
 * of `panel`. A variable with no value is an error: the query refers to
 * something its dashboard does not define.
 */
export function expandVariables(query: string, values: Record<string, string>, panel?: PanelJson): string {
  const all = { ...grafanaIntervals(panel), ...values };
  return query.replace(
    /\$\{([A-Za-z_]\w*)(?::\w+)?\}|\$([A-Za-z_]\w*)|\[\[([A-Za-z_]\w*)\]\]/g,
    (whole, braced?: string, plain?: string, brackets?: string) => {
      const name = (braced ?? plain ?? brackets) as string;
      const value = all[name];
      if (value === undefined) throw new Error(`${whole} is not a variable of this dashboard, in: ${query}`);
      return value;
    },
  );
}
