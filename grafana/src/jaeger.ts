/**
 * Queries for Grafana's Jaeger data source, as Grafana 12.4 stores them in a
 * panel (its JaegerQuery type). The foundation SDK has no Jaeger query
 * builder, so these build the stored shape themselves:
 *
 *   trace by id    { query: "<trace id>" }        no queryType: Grafana's "TraceID" query
 *   search         { queryType: "search", service, operation?, tags?, minDuration?, maxDuration?, limit? }
 *   service graph  { queryType: "dependencyGraph" }
 *
 * A search runs as GET /api/traces on Jaeger (service, operation, tags as
 * JSON, minDuration, maxDuration, limit, and the panel's time range as start
 * and end in microseconds). `tags` is logfmt ("error=true http.route=/x"),
 * which Grafana turns into Jaeger's JSON; service, operation, tags and the
 * durations may hold dashboard variables. Grafana runs only the FIRST Jaeger
 * query of a panel, so every Jaeger panel here has exactly one.
 */
import type * as cog from '@grafana/grafana-foundation-sdk/cog';

export const JAEGER = { type: 'jaeger', uid: 'jaeger' } as const;

export interface JaegerSearch {
  service: string;
  operation?: string;
  /** logfmt: key=value pairs, space-separated; a value with spaces in double quotes. */
  tags?: string;
  /** A Go duration (300ms, 1.5s): only traces with a span at least this long. */
  minDuration?: string;
  maxDuration?: string;
  /** How many traces, most recent first (Jaeger's default is 100). */
  limit: number;
}

/** A Jaeger query as a panel stores it: refId, datasource, and the fields of its query type. */
function query(fields: Record<string, unknown>): cog.Dataquery {
  const stored: cog.Dataquery & Record<string, unknown> = {
    refId: 'A',
    datasource: JAEGER,
    ...fields,
    _implementsDataqueryVariant() {},
  };
  return stored;
}

/** Grafana's "Search" query type: a table of traces (trace id, trace name, start time, duration). */
export class JaegerSearchQuery implements cog.Builder<cog.Dataquery> {
  constructor(private readonly search: JaegerSearch) {}

  build(): cog.Dataquery {
    return query({ queryType: 'search', ...this.search });
  }
}

/** Grafana's "TraceID" query type: one whole trace, for a trace panel. */
export class JaegerTraceQuery implements cog.Builder<cog.Dataquery> {
  constructor(private readonly traceId: string) {}

  build(): cog.Dataquery {
    return query({ query: this.traceId });
  }
}

/**
 * Jaeger's "Dependency graph" query type: Grafana asks Jaeger's
 * /api/dependencies for the calls between services in the time range, and
 * gets back node graph frames (nodes: id, title; edges: id, source, target,
 * mainstat).
 */
export class JaegerDependencyGraphQuery implements cog.Builder<cog.Dataquery> {
  build(): cog.Dataquery {
    return query({ queryType: 'dependencyGraph' });
  }
}

/**
 * A data link that opens a Jaeger search in Explore, beside the dashboard.
 * An "internal" link (a query for a data source, not a URL) is what Grafana's
 * own data sources attach to trace ids; in a panel's field config it works
 * the same, and its query may use the row's values (${__data.fields.name}).
 */
export function jaegerSearchLink(title: string, search: JaegerSearch): Record<string, unknown> {
  return {
    title,
    url: '',
    internal: { datasourceUid: JAEGER.uid, datasourceName: 'Jaeger', query: { queryType: 'search', ...search } },
  };
}

/** A data link that opens one trace in Explore; `traceId` is usually ${__value.raw}. */
export function jaegerTraceLink(title: string, traceId: string): Record<string, unknown> {
  return {
    title,
    url: '',
    internal: { datasourceUid: JAEGER.uid, datasourceName: 'Jaeger', query: { query: traceId } },
  };
}
