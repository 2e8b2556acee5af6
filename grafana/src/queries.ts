/**
 * What the committed dashboards ask their data sources, read back from the
 * JSON Grafana loads, and the queries expanded the way Grafana expands them
 * before sending: template variables ($service) replaced by a value, and
 * Grafana's own interval variables ($__rate_interval) by a duration.
 *
 * Both test tiers read dashboards through this: test/config/grafana.test.ts
 * parses every query, test/e2e/dashboards.e2e.ts runs every query against
 * the live Prometheus and Jaeger.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DataSourceRef {
  type?: string;
  uid?: string;
}

export interface TargetJson {
  refId?: string;
  datasource?: DataSourceRef;
  expr?: string;
  exemplar?: boolean;
  queryType?: string;
}

export interface PanelJson {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: DataSourceRef;
  /** The panel's minimum interval, when its series change slower than they are scraped. */
  interval?: string;
  fieldConfig?: { defaults?: { unit?: string } };
  targets?: TargetJson[];
}

export interface VariableJson {
  name: string;
  type: string;
  query?: string;
  datasource?: DataSourceRef;
  includeAll?: boolean;
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

export function labelValuesVariables(dashboard: DashboardJson): LabelValuesVariable[] {
  return dashboard.templating.list.map((variable) => {
    const match = /^label_values\((?:(.+),\s*)?(\w+)\)$/.exec(variable.query ?? '');
    if (variable.type !== 'query' || !match)
      throw new Error(`variable $${variable.name}: only label_values(...) queries are expected, got ${variable.query}`);
    return { name: variable.name, selector: match[1], label: match[2] as string };
  });
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
