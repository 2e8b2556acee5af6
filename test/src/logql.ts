/**
 * The part of LogQL the native stack's log store (log-sink.ts) answers, read
 * with Grafana's own LogQL grammar (@grafana/lezer-logql, what Grafana's
 * query editor parses with) so that a query means here what it means to Loki:
 *
 *   {label="value", label=~"regex", label!="value", label!~"regex"}   the stream selector
 *   | label="value"  | label=~"regex"  | label!="" ...                  label filters (index labels
 *                                                                      and structured metadata)
 *   | label >= 13   (==, !=, >, >=, <, <=)                              numeric label filters
 *   |= "text"  != "text"  |~ "regex"  !~ "regex"                       line filters
 *
 * Anything else (parsers such as `| json`, `line_format`, `and`/`or` between
 * filters, metric queries such as rate()) is refused with UnsupportedLogQuery
 * naming the part it does not answer: a dashboard panel that needs more fails
 * its test against the native stack, rather than showing less than it says.
 */
import { parser } from '@grafana/lezer-logql';
import type { StoredLogLine } from './otlp-logs';

type SyntaxNode = ReturnType<typeof parser.parse>['topNode'];

export type MatchOperator = '=' | '!=' | '=~' | '!~';
export type NumberOperator = '==' | '!=' | '>' | '>=' | '<' | '<=';
export type LineOperator = '|=' | '!=' | '|~' | '!~';

export interface LabelMatcher {
  name: string;
  op: MatchOperator;
  value: string;
}

export type PipelineStep =
  | { kind: 'label'; matcher: LabelMatcher }
  | { kind: 'number'; name: string; op: NumberOperator; value: number }
  | { kind: 'line'; op: LineOperator; value: string };

export interface LogQuery {
  selector: LabelMatcher[];
  pipeline: PipelineStep[];
}

/** The query is valid LogQL, but uses a part the log store stand-in does not answer. */
export class UnsupportedLogQuery extends Error {}

/** The query is not LogQL, or not a query Loki accepts. */
export class InvalidLogQuery extends Error {}

const MATCH_OPERATORS: Record<string, MatchOperator> = { Eq: '=', Neq: '!=', Re: '=~', Nre: '!~' };
const NUMBER_OPERATORS: Record<string, NumberOperator> = {
  Eql: '==',
  Neq: '!=',
  Gtr: '>',
  Gte: '>=',
  Lss: '<',
  Lte: '<=',
};
const LINE_OPERATORS: Record<string, LineOperator> = { PipeExact: '|=', Neq: '!=', PipeMatch: '|~', Nre: '!~' };

function children(node: SyntaxNode): SyntaxNode[] {
  const found: SyntaxNode[] = [];
  for (let child = node.firstChild; child; child = child.nextSibling) found.push(child);
  return found;
}

/** A LogQL string literal: "double-quoted" with Go escapes, or `raw` between backticks. */
function stringValue(literal: string): string {
  if (literal.startsWith('`')) return literal.slice(1, -1);
  return JSON.parse(literal) as string;
}

/** Go's (?i) flag, which JavaScript writes after the pattern. */
function regex(pattern: string, anchored: boolean): RegExp {
  const caseless = pattern.startsWith('(?i)');
  const body = caseless ? pattern.slice(4) : pattern;
  try {
    return new RegExp(anchored ? `^(?:${body})$` : body, caseless ? 'i' : '');
  } catch (error) {
    throw new InvalidLogQuery(`invalid regular expression ${JSON.stringify(pattern)}: ${(error as Error).message}`);
  }
}

/** Parses `expr` into the subset above; throws InvalidLogQuery or UnsupportedLogQuery. */
export function parseLogQuery(expr: string): LogQuery {
  const tree = parser.parse(expr);
  tree.iterate({
    enter(node) {
      if (node.type.isError) throw new InvalidLogQuery(`LogQL syntax error at ${node.from}: ${JSON.stringify(expr)}`);
    },
  });
  const text = (node: SyntaxNode) => expr.slice(node.from, node.to);
  const unsupported = (node: SyntaxNode, what: string) =>
    new UnsupportedLogQuery(`the log store stand-in does not answer ${what}: "${text(node)}" in ${expr}`);

  const logExpr = children(tree.topNode)[0]?.firstChild;
  if (!logExpr || logExpr.type.name !== 'LogExpr')
    throw unsupported(logExpr ?? tree.topNode, 'metric queries (only log queries)');

  const query: LogQuery = { selector: [], pipeline: [] };
  const matcherOf = (node: SyntaxNode): LabelMatcher => {
    const [name, op, value, ...rest] = children(node);
    const operator = op && MATCH_OPERATORS[op.type.name];
    if (!name || !operator || value?.type.name !== 'String' || rest.length > 0) throw unsupported(node, 'this matcher');
    return { name: text(name), op: operator, value: stringValue(text(value)) };
  };
  const collectMatchers = (node: SyntaxNode): void => {
    for (const child of children(node)) {
      if (child.type.name === 'Matchers') collectMatchers(child);
      else if (child.type.name === 'Matcher') query.selector.push(matcherOf(child));
    }
  };
  const lineFilter = (node: SyntaxNode): PipelineStep => {
    const [filter, value, ...rest] = children(node);
    const operator = filter?.firstChild ? LINE_OPERATORS[filter.firstChild.type.name] : undefined;
    if (!operator || value?.type.name !== 'String' || rest.length > 0)
      throw unsupported(node, 'this line filter (one string after |=, !=, |~ or !~)');
    return { kind: 'line', op: operator, value: stringValue(text(value)) };
  };
  const labelFilter = (node: SyntaxNode): PipelineStep => {
    const [only, ...rest] = children(node);
    if (only?.type.name === 'Matcher' && rest.length === 0) return { kind: 'label', matcher: matcherOf(only) };
    if (only?.type.name === 'NumberFilter' && rest.length === 0) {
      const [name, op, literal, ...more] = children(only);
      const operator = op && NUMBER_OPERATORS[op.type.name];
      if (!name || !operator || literal?.type.name !== 'LiteralExpr' || more.length > 0)
        throw unsupported(node, 'this number filter');
      return { kind: 'number', name: text(name), op: operator, value: Number(text(literal)) };
    }
    throw unsupported(node, 'this label filter (one matcher or number comparison per stage)');
  };
  const collectStages = (node: SyntaxNode): void => {
    for (const child of children(node)) {
      if (child.type.name === 'PipelineExpr') collectStages(child);
      else if (child.type.name === 'PipelineStage') collectStage(child);
      else throw unsupported(child, 'this pipeline');
    }
  };
  const collectStage = (stage: SyntaxNode): void => {
    const parts = children(stage);
    if (parts.length === 1 && parts[0]?.type.name === 'LineFilters') {
      const collectLines = (node: SyntaxNode): void => {
        for (const child of children(node)) {
          if (child.type.name === 'LineFilters') collectLines(child);
          else if (child.type.name === 'LineFilter') query.pipeline.push(lineFilter(child));
          else throw unsupported(child, 'this line filter');
        }
      };
      collectLines(parts[0]);
    } else if (parts.length === 2 && parts[0]?.type.name === 'Pipe' && parts[1]?.type.name === 'LabelFilter') {
      query.pipeline.push(labelFilter(parts[1]));
    } else {
      throw unsupported(stage, 'this pipeline stage (parsers, formatters and the like)');
    }
  };

  for (const child of children(logExpr)) {
    if (child.type.name === 'Selector') collectMatchers(child);
    else if (child.type.name === 'PipelineExpr') collectStages(child);
    else throw unsupported(child, 'this part of a log query');
  }
  // Loki's own rule: a selector that could match every stream is refused.
  const selective = query.selector.some(
    ({ op, value }) => (op === '=' && value !== '') || (op === '=~' && !regex(value, true).test('')),
  );
  if (!selective)
    throw new InvalidLogQuery(
      `queries require at least one regexp or equality matcher that does not have an empty-compatible value: ${expr}`,
    );
  return query;
}

function matchLabel({ op, value }: LabelMatcher, actual: string): boolean {
  switch (op) {
    case '=':
      return actual === value;
    case '!=':
      return actual !== value;
    case '=~':
      return regex(value, true).test(actual);
    case '!~':
      return !regex(value, true).test(actual);
  }
}

function compare(op: NumberOperator, actual: number, expected: number): boolean {
  switch (op) {
    case '==':
      return actual === expected;
    case '!=':
      return actual !== expected;
    case '>':
      return actual > expected;
    case '>=':
      return actual >= expected;
    case '<':
      return actual < expected;
    case '<=':
      return actual <= expected;
  }
}

/** Whether a stored line is selected by the query: its stream by the selector, then every pipeline step. */
export function selects(query: LogQuery, entry: StoredLogLine): boolean {
  if (!query.selector.every((matcher) => matchLabel(matcher, entry.labels[matcher.name] ?? ''))) return false;
  // After the selector, a label filter sees index labels and structured metadata alike; a missing label is "".
  const label = (name: string) => entry.labels[name] ?? entry.metadata[name] ?? '';
  return query.pipeline.every((step) => {
    if (step.kind === 'label') return matchLabel(step.matcher, label(step.matcher.name));
    if (step.kind === 'number') {
      // A value that is not a number fails the comparison (Loki marks it with __error__).
      const actual = Number(label(step.name));
      return label(step.name) !== '' && !Number.isNaN(actual) && compare(step.op, actual, step.value);
    }
    switch (step.op) {
      case '|=':
        return entry.line.includes(step.value);
      case '!=':
        return !entry.line.includes(step.value);
      case '|~':
        return regex(step.value, false).test(entry.line);
      case '!~':
        return !regex(step.value, false).test(entry.line);
    }
  });
}
