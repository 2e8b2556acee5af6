import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * The import rules are code too: .dependency-cruiser.mjs, which `npm run lint`
 * runs over every package. Each fixture under test/fixtures/import-rules/ is
 * a miniature repository that breaks rules on purpose; dependency-cruiser, run
 * with the project's own config from inside it, must name every violation.
 * Then the real tree must have none.
 */

const ROOT = join(__dirname, '..', '..', '..');
const CONFIG = join(ROOT, '.dependency-cruiser.mjs');
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruiser.mjs');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'import-rules');
/** What `npm run lint:imports` cruises: every package's sources and tests. */
const PACKAGES = ['telemetry', 'services', 'grafana', 'bench', 'test'];

interface Violation {
  rule: { name: string };
  from: string;
  /** The import as written in the source. */
  unresolvedTo: string;
}

/** Runs dependency-cruiser in `folder` over `paths`, as the lint does, and returns what it reports. */
function cruise(folder: string, paths: string[]): Violation[] {
  const run = spawnSync(process.execPath, [DEPCRUISE, '--config', CONFIG, '--output-type', 'json', ...paths], {
    cwd: folder,
    encoding: 'utf8',
  });
  assert.ok(run.stdout.startsWith('{'), `dependency-cruiser failed in ${folder}:\n${run.stderr}`);
  return (JSON.parse(run.stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

/** "rule: from -> import" lines, sorted, for comparisons whose failure reads well. */
const described = (violations: Violation[]) =>
  violations.map(({ rule, from, unresolvedTo }) => `${rule.name}: ${from} -> ${unresolvedTo}`).sort();

describe('import rules (.dependency-cruiser.mjs)', function () {
  this.timeout(60_000);

  it('reports two files that import each other', () => {
    assert.deepEqual(described(cruise(join(FIXTURES, 'import-loop'), ['services'])), [
      'no-circular: services/users/src/repository.ts -> ./users',
    ]);
  });

  it("reports a service importing another service's code, by path or by package, but lets orders use products' client", () => {
    assert.deepEqual(described(cruise(join(FIXTURES, 'cross-service'), ['services'])), [
      'no-service-imports-another-service: services/gateway/src/app.ts -> ../../users/src/users',
      'no-service-imports-another-service: services/gateway/src/app.ts -> @glassbox/users',
      'orders-imports-products-only-through-its-client: services/orders/src/main.ts -> @glassbox/products/config',
    ]);
  });

  it('reports an OpenTelemetry SDK import outside telemetry/', () => {
    assert.deepEqual(described(cruise(join(FIXTURES, 'sdk-import'), ['services'])), [
      'only-telemetry-imports-the-sdk: services/users/src/tracing.ts -> @opentelemetry/sdk-trace',
    ]);
  });

  it("reports an import of another package's dist/, by package or by relative path", () => {
    assert.deepEqual(described(cruise(join(FIXTURES, 'dist-import'), ['test'])), [
      'no-import-from-dist: test/config/dashboards.test.ts -> ../../grafana/dist/src/dashboards',
      'no-import-from-dist: test/config/dashboards.test.ts -> @glassbox/grafana/dist/src/queries',
    ]);
  });

  it('finds no violation in the repository itself', () => {
    const violations = described(cruise(ROOT, PACKAGES));
    assert.deepEqual(violations, [], `npm run lint:imports reports:\n  ${violations.join('\n  ')}`);
  });
});
