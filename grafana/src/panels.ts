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
import * as nodegraph from '@grafana/grafana-foundation-sdk/nodegraph';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as text from '@grafana/grafana-foundation-sdk/text';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

export const PROMETHEUS = { type: 'prometheus', uid: 'prometheus' } as const;
export const JAEGER = { type: 'jaeger', uid: 'jaeger' } as const;

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

/**
 * Jaeger's "Dependency graph" query type: Grafana asks Jaeger's
 * /api/dependencies for the calls between services in the time range, and
 * gets back node graph frames. The SDK has no Jaeger query builder, so this
 * is the query as Grafana stores it.
 */
export class JaegerDependencyGraphQuery implements cog.Builder<cog.Dataquery> {
  build(): cog.Dataquery {
    return {
      refId: 'A',
      datasource: JAEGER,
      queryType: 'dependencyGraph',
      _implementsDataqueryVariant() {},
    } as cog.Dataquery;
  }
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
