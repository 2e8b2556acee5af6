/**
 * The building blocks every glassbox dashboard is made of. Each dashboard
 * file says WHAT it shows (titles, queries, descriptions); this file says HOW
 * a panel of glassbox looks, once: the data source, the legend, the units,
 * the guide panel at the top, the links between dashboards.
 *
 * The uids below are the ones grafana/provisioning/datasources/datasources.yaml
 * gives the data sources. A dashboard refers to its data source by uid, so the
 * two must agree: test/config/grafana.test.ts checks that they do.
 */
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as logs from '@grafana/grafana-foundation-sdk/logs';
import * as loki from '@grafana/grafana-foundation-sdk/loki';
import * as nodegraph from '@grafana/grafana-foundation-sdk/nodegraph';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as text from '@grafana/grafana-foundation-sdk/text';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { JAEGER, JaegerSearchQuery, JaegerTraceQuery, type JaegerSearch } from './jaeger';

export const PROMETHEUS = { type: 'prometheus', uid: 'prometheus' } as const;
export const LOKI = { type: 'loki', uid: 'loki' } as const;

/**
 * The routes Prometheus and the orchestrator call every few seconds. The
 * recording rules (prometheus/rules/recording.yml) leave them out; a panel
 * that reads the raw metrics must leave them out too, or its numbers would
 * disagree with the panels next to it.
 */
export const PROBE_ROUTES = '/metrics|/healthz|/readyz';

/** One PromQL query of a panel, and how its series are named in the legend. */
export interface PromQuery {
  expr: string;
  legend: string;
  /** Ask Prometheus for the exemplars (trace ids) of the histograms in `expr`. */
  exemplar?: boolean;
}

/** Every glassbox panel has a unit and a description: a number without either teaches nothing. */
interface PanelText {
  title: string;
  description: string;
  unit: string;
  width?: number;
  height?: number;
}

export interface TimeSeriesSpec extends PanelText {
  queries: PromQuery[];
  /**
   * How often the panel's series can change at most, when that is slower
   * than the 15 s scrape. Grafana then computes $__rate_interval from it
   * (4 x this) rather than from the scrape interval, so a rate() always spans
   * several updates.
   */
  minInterval?: string;
}

const refId = (index: number) => String.fromCharCode('A'.charCodeAt(0) + index);

function promTarget(query: PromQuery, index: number): prometheus.DataqueryBuilder {
  const target = new prometheus.DataqueryBuilder()
    .refId(refId(index))
    .datasource(PROMETHEUS)
    .editorMode(prometheus.QueryEditorMode.Code)
    .expr(query.expr)
    .legendFormat(query.legend)
    .range();
  return query.exemplar ? target.exemplar(true) : target;
}

/** A time series panel of PromQL queries, the shape of nearly every glassbox panel. */
export function timeSeriesPanel(spec: TimeSeriesSpec): timeseries.PanelBuilder {
  const panel = new timeseries.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(PROMETHEUS)
    .unit(spec.unit)
    // Every glassbox metric is a rate, a ratio, a duration or a size: never
    // negative. A y axis that starts at 0 keeps a small wobble looking small.
    .min(0)
    .span(spec.width ?? 12)
    .height(spec.height ?? 8)
    .lineWidth(1)
    .fillOpacity(10)
    .showPoints(common.VisibilityMode.Never)
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.List)
        .placement(common.LegendPlacement.Bottom),
    )
    .tooltip(
      new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending),
    );
  spec.queries.forEach((query, index) => panel.withTarget(promTarget(query, index)));
  return spec.minInterval ? panel.interval(spec.minInterval) : panel;
}

export interface NodeGraphSpec extends PanelText {
  /** The edges: a query whose rows carry `id`, `source`, `target` and a number (the `mainstat`). */
  target: cog.Builder<cog.Dataquery>;
  datasource: typeof PROMETHEUS | typeof JAEGER;
  transformations?: dashboard.DataTransformerConfig[];
  /**
   * Data links on every edge (the menu a click on it opens): placed on the edge
   * frame's `source` field, which only edges have, so ${__data.fields.source}
   * and ${__data.fields.target} name the two services of the edge.
   */
  edgeLinks?: Array<Record<string, unknown>>;
}

/**
 * A node graph. Grafana draws one from a data frame of EDGES alone (it adds a
 * node for every source and target it sees): a frame with fields id, source,
 * target and, optionally, mainstat (the number shown on the edge).
 */
export function nodeGraphPanel(spec: NodeGraphSpec): nodegraph.PanelBuilder {
  const panel = new nodegraph.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(spec.datasource)
    .unit(spec.unit)
    .span(spec.width ?? 12)
    .height(spec.height ?? 10)
    .edges(new nodegraph.EdgeOptionsBuilder().mainStatUnit(spec.unit))
    .nodes(new nodegraph.NodeOptionsBuilder().mainStatUnit(spec.unit))
    .withTarget(spec.target);
  for (const transformation of spec.transformations ?? []) panel.withTransformation(transformation);
  if (spec.edgeLinks) panel.overrideByName('source', [{ id: 'links', value: spec.edgeLinks }]);
  return panel;
}

/**
 * An instant PromQL query in table form: one row per series, its labels as
 * columns. What a node graph needs from Prometheus, where a time series
 * panel needs a range.
 */
export function promTableQuery(expr: string): prometheus.DataqueryBuilder {
  return new prometheus.DataqueryBuilder()
    .refId('A')
    .datasource(PROMETHEUS)
    .editorMode(prometheus.QueryEditorMode.Code)
    .expr(expr)
    .format(prometheus.PromQueryFormat.Table)
    .instant();
}

export interface TraceTableSpec extends Omit<PanelText, 'unit'> {
  search: JaegerSearch;
  /** Longest first (a "slowest traces" table), rather than Jaeger's order, most recent first. */
  longestFirst?: boolean;
  /**
   * Links on the Trace ID column, in place of the one Grafana puts there
   * (open the trace in Explore), which a table that adds its own must repeat.
   */
  traceIdLinks?: Array<Record<string, unknown>>;
}

/**
 * Grafana names each trace of a Jaeger search "<service>: <operation>", from
 * its root span. Split, the two are columns a table can show and sort.
 */
const SPLIT_TRACE_NAME: dashboard.DataTransformerConfig = {
  id: 'extractFields',
  options: { source: 'traceName', format: 'regexp', regExp: '/^(?<service>[^:]+): (?<operation>.*)$/', replace: false },
};

const ORDER_TRACE_COLUMNS: dashboard.DataTransformerConfig = {
  id: 'organize',
  options: {
    excludeByName: { traceName: true },
    indexByName: { startTime: 0, service: 1, operation: 2, duration: 3, traceID: 4 },
    renameByName: { service: 'Service (root span)', operation: 'Operation (root span)' },
  },
};

/**
 * A table of traces from a Jaeger search: start time, service and operation
 * of the root span, duration, and the trace id, which opens the trace (the
 * link Grafana's Jaeger data source puts on it). Jaeger's search result has
 * no span count, so neither has the table: the trace it opens has.
 */
export function traceTablePanel(spec: TraceTableSpec): table.PanelBuilder {
  const panel = new table.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(JAEGER)
    // The table's one number, the trace's duration, comes from Jaeger in microseconds.
    .unit('µs')
    .span(spec.width ?? 12)
    .height(spec.height ?? 8)
    .withTarget(new JaegerSearchQuery(spec.search))
    .withTransformation(SPLIT_TRACE_NAME)
    .withTransformation(ORDER_TRACE_COLUMNS);
  if (spec.longestFirst) panel.sortBy([new common.TableSortByFieldStateBuilder().displayName('Duration').desc(true)]);
  if (spec.traceIdLinks) panel.overrideByName('Trace ID', [{ id: 'links', value: spec.traceIdLinks }]);
  return panel;
}

export interface LogsSpec extends Omit<PanelText, 'unit'> {
  /** A LogQL log query (not a metric query): the lines the panel lists. */
  expr: string;
  /** At most this many lines, newest first. */
  maxLines: number;
}

/**
 * A logs panel of one LogQL query. Each line's details list its labels and
 * structured metadata; its trace_id becomes an "Open trace in Jaeger" link by
 * the Loki data source's derived field (datasources.yaml), so the panel needs
 * no link of its own.
 */
export function logsPanel(spec: LogsSpec): logs.PanelBuilder {
  return new logs.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(LOKI)
    .span(spec.width ?? 24)
    .height(spec.height ?? 10)
    .showTime(true)
    .showLabels(false)
    .showCommonLabels(false)
    .wrapLogMessage(true)
    .prettifyLogMessage(false)
    .enableLogDetails(true)
    .sortOrder(common.LogsSortOrder.Descending)
    .dedupStrategy(common.LogsDedupStrategy.None)
    .withTarget(
      new loki.DataqueryBuilder()
        .refId('A')
        .datasource(LOKI)
        .editorMode(loki.QueryEditorMode.Code)
        .expr(spec.expr)
        // A log query is a range query: the lines between the dashboard's from and to.
        .queryType(loki.LokiQueryType.Range)
        .direction(loki.LokiQueryDirection.Backward)
        .maxLines(spec.maxLines),
    );
}

export interface TraceSpec extends Omit<PanelText, 'unit'> {
  /** The trace id, usually a dashboard variable ($trace_id). */
  traceId: string;
}

/** A trace panel: one whole trace, its spans on a timeline (the SDK has no builder for this panel type). */
export function tracePanel(spec: TraceSpec): dashboard.PanelBuilder {
  return new dashboard.PanelBuilder()
    .type('traces')
    .title(spec.title)
    .description(spec.description)
    .datasource(JAEGER)
    .span(spec.width ?? 24)
    .height(spec.height ?? 16)
    .withTarget(new JaegerTraceQuery(spec.traceId));
}

/** A variable a learner types or pastes into (an order id, a trace id, a threshold). */
export function textboxVariable(options: {
  name: string;
  label: string;
  description: string;
  defaultValue: string;
}): dashboard.TextBoxVariableBuilder {
  return new dashboard.TextBoxVariableBuilder(options.name)
    .label(options.label)
    .description(options.description)
    .defaultValue(options.defaultValue)
    .current({ text: options.defaultValue, value: options.defaultValue });
}

/** A variable with a fixed list of values to pick from, and room to type another. */
export function choiceVariable(options: {
  name: string;
  label: string;
  description: string;
  values: string[];
}): dashboard.CustomVariableBuilder {
  const [first = ''] = options.values;
  return new dashboard.CustomVariableBuilder(options.name)
    .label(options.label)
    .description(options.description)
    .values(options.values.join(','))
    .options(options.values.map((value) => ({ text: value, value, selected: value === first })))
    .current({ text: first, value: first })
    .allowCustomValue(true);
}

/** The text panel at the top of every dashboard: what it is for, and where to look first. */
export function guidePanel(markdown: string, height = 6): text.PanelBuilder {
  return new text.PanelBuilder()
    .title('Start here')
    .description('What this dashboard is for, and where to look first.')
    .mode(text.TextMode.Markdown)
    .content(markdown.trim())
    .span(24)
    .height(height);
}

/** A template variable filled from the values of one label, as Prometheus knows them. */
export function labelValuesVariable(options: {
  name: string;
  label: string;
  selector: string;
  labelName: string;
  description: string;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
}): dashboard.QueryVariableBuilder {
  const query = `label_values(${options.selector}, ${options.labelName})`;
  const variable = new dashboard.QueryVariableBuilder(options.name)
    .label(options.label)
    .description(options.description)
    .datasource(PROMETHEUS)
    .query(query)
    .definition(query)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(options.multi ?? false)
    .includeAll(options.includeAll ?? false);
  return options.allValue === undefined ? variable : variable.allValue(options.allValue);
}

type NumberedPanel = cog.Builder<dashboard.Panel> & { id(id: number): unknown };

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  variables?: cog.Builder<dashboard.VariableModel>[];
  panels: NumberedPanel[];
}

/** Every glassbox dashboard carries this tag; the links menu of each dashboard lists the others by it. */
const TAG = 'glassbox';

/**
 * Puts a dashboard together. Panel ids are given here, in order from 1, so
 * they are unique and stable: Grafana keys a panel's link (?viewPanel=3) and
 * its saved state by id.
 */
export function assemble(spec: DashboardSpec): dashboard.Dashboard {
  const builder = new dashboard.DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags([TAG])
    .time({ from: 'now-30m', to: 'now' })
    .refresh('30s')
    .timezone('browser')
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    // Empty lists rather than absent ones: the shape Grafana itself saves.
    .annotations([])
    .variables(spec.variables ?? [])
    .link(
      new dashboard.DashboardLinkBuilder('glassbox dashboards')
        .type(dashboard.DashboardLinkType.Dashboards)
        .tags([TAG])
        .asDropdown(true)
        .includeVars(false)
        .keepTime(true),
    );
  spec.panels.forEach((panel, index) => {
    panel.id(index + 1);
    builder.withPanel(panel);
  });
  const built = builder.build();
  flowLayout(built.panels ?? []);
  // The SDK files every link under the dashboard controls' dropdown menu
  // (placement "inControlsMenu"); without a placement, Grafana shows the
  // links menu in the dashboard's top bar, where a learner sees it.
  for (const link of built.links ?? []) delete link.placement;
  return built;
}

/**
 * Places the panels left to right, top to bottom, on Grafana's 24-column
 * grid, starting a new row when the next panel would not fit. (The SDK's own
 * placement lets a full-width panel that follows a half-width one run off
 * the grid.)
 */
function flowLayout(panels: Array<{ gridPos?: dashboard.GridPos }>): void {
  const COLUMNS = 24;
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  for (const panel of panels) {
    const { w, h } = panel.gridPos ?? { w: 12, h: 8 };
    if (x + w > COLUMNS) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    panel.gridPos = { x, y, w, h };
    x += w;
    rowHeight = Math.max(rowHeight, h);
  }
}
