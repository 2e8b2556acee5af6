import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { SpanNode } from './span-trees';

/**
 * The lean request path (telemetry/src/lean-http.ts, the default) against the
 * stock http + koa instrumentations: the same requests through both give the
 * same span trees, compared on names, kinds, parent/child links, status,
 * the HTTP semantic-convention attributes and recorded exceptions.
 *
 * Each path runs in a process of its own (instrumentation patches modules
 * once, at their first require), started with the test harness's telemetry.
 */
const STOCK = 'http,koa,undici,pg,amqplib,grpc,pino,runtime-node';

/**
 * The differences that are deliberate, each applied to the stock trees before
 * they are compared, with the reason.
 */
const DELIBERATE = [
  '1. no `router - <route>` span: the stock Koa instrumentation wraps the router in a span of its own that',
  '   lasts as long as the server span and carries only http.route, which the server span carries too;',
  '   the lean path folds it into the server span (its children move up to the server span).',
  "2. with it goes the exception event the router span recorded for a 4xx the route threw (a caller's",
  '   mistake, status UNSET): the lean path records exceptions of 5xx answers, on the server span.',
];

interface Tree {
  request: string;
  status: number;
  roots: SpanNode[];
}

async function spanTrees(enabled: string | undefined): Promise<Tree[]> {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'silent' };
  delete env.OTEL_NODE_ENABLED_INSTRUMENTATIONS;
  if (enabled) env.OTEL_NODE_ENABLED_INSTRUMENTATIONS = enabled;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--require', '@glassbox/telemetry/testing', require.resolve('./span-trees')],
    { env, timeout: 60_000 },
  );
  return JSON.parse(stdout) as Tree[];
}

const isRouterSpan = (node: SpanNode) =>
  node.scope === '@opentelemetry/instrumentation-koa' && node.attributes['koa.type'] === 'router';

/** The stock tree with the deliberate differences applied. */
function folded(node: SpanNode): SpanNode[] {
  const children = node.children.flatMap(folded).sort((a, b) => a.name.localeCompare(b.name));
  return isRouterSpan(node) ? children : [{ ...node, children }];
}

/** What may differ between two runs anyway: the free ports, and which instrumentation made a span. */
function comparable(node: SpanNode): unknown {
  const { 'server.port': port, ...rest } = node.attributes;
  const attributes = Object.fromEntries(Object.entries(rest).filter(([name]) => name !== 'koa.type'));
  return {
    name: node.name,
    kind: node.kind,
    status: node.status,
    exceptions: node.exceptions,
    attributes: { ...attributes, ...(port === undefined ? {} : { 'server.port': typeof port }) },
    children: node.children.map(comparable),
  };
}

describe('the lean request path against the stock instrumentations', function () {
  this.timeout(120_000);
  let lean: Tree[];
  let stock: Tree[];

  before(async () => {
    [lean, stock] = await Promise.all([spanTrees(undefined), spanTrees(STOCK)]);
  });

  it('is what runs by default, and the stock path is what the standard variable asks for', () => {
    const scopes = (trees: Tree[]) => new Set(trees.flatMap((t) => t.roots.map((root) => root.scope)));
    assert.deepEqual([...scopes(lean)], ['@glassbox/telemetry/http-lean']);
    assert.deepEqual([...scopes(stock)], ['@opentelemetry/instrumentation-http']);
    assert.ok(
      stock.some((t) => JSON.stringify(t.roots).includes('"koa.type":"router"')),
      'the stock run has no Koa router span: it did not run the stock instrumentations',
    );
  });

  it('gives the same span tree for every request, but for the deliberate differences', () => {
    assert.equal(lean.length, stock.length);
    for (const [index, leanTree] of lean.entries()) {
      const stockTree = stock[index]!;
      assert.equal(leanTree.request, stockTree.request);
      assert.equal(leanTree.status, stockTree.status, `${leanTree.request}: a different answer`);
      assert.ok(leanTree.roots.length === 1, `${leanTree.request}: ${leanTree.roots.length} root spans`);
      assert.deepEqual(
        leanTree.roots.map(comparable),
        stockTree.roots.flatMap(folded).map(comparable),
        `${leanTree.request}: the span trees differ beyond the deliberate differences:\n${DELIBERATE.join('\n')}`,
      );
    }
  });

  it('covers success, creation, errors, a failing dependency and a query, with a span per hop', () => {
    const statuses = lean.map((t) => t.status);
    assert.deepEqual(statuses, [201, 200, 404, 404, 502, 405, 200]);
    const depth = (node: SpanNode): number => 1 + Math.max(0, ...node.children.map(depth));
    // gateway SERVER -> fetch CLIENT -> users SERVER
    assert.equal(depth(lean[1]!.roots[0]!), 3);
    const failing = lean[4]!.roots[0]!;
    assert.equal(failing.status, 'ERROR');
    assert.equal(failing.exceptions, 1);
    assert.equal(failing.attributes['error.type'], '502');
    assert.equal(lean[6]!.roots[0]!.attributes['url.query'], 'limit=2&offset=0');
  });
});
