import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROMTOOL, ROOT, run, toolOnce, type Run } from '../src/tools';

/**
 * prometheus/ is code: this suite runs Prometheus's own tool, promtool, over
 * the configuration, the rules and the rule unit tests, so a typo in a PromQL
 * expression fails `npm test` instead of a dashboard staying empty.
 *
 * promtool must be the Prometheus 3 one (compose runs Prometheus 3, and 2.x
 * evaluates range selectors differently, so the rule tests' numbers would not
 * hold). It is looked for in $PROMTOOL_BIN, then where scripts/backends.sh
 * builds it. Without it the suite FAILS, saying how to get it: a config check
 * that skips itself would pass on every broken file.
 */

const CONFIG = 'prometheus/prometheus.yml';

/** Every scrape job and the address it scrapes, as compose names them. */
const SCRAPE_TARGETS: Record<string, string> = {
  gateway: 'gateway:9080',
  users: 'users:9081',
  products: 'products:9082',
  orders: 'orders:9083',
  notifications: 'notifications:9084',
  'otel-collector': 'otel-collector:8888',
  'otel-collector-exported': 'otel-collector:8889',
  rabbitmq: 'rabbitmq:15692',
  jaeger: 'jaeger:14269',
  prometheus: 'localhost:9090',
};

const findPromtool = toolOnce(PROMTOOL);

/** promtool checked once to be Prometheus 3's; every test that needs it fails with the same message otherwise. */
let promtool3: Promise<string> | undefined;
async function promtool(...args: string[]): Promise<Run> {
  promtool3 ??= findPromtool().then(async (candidate) => {
    const version = await run(candidate, ['--version']);
    const major = /version (\d+)\./.exec(version.output)?.[1];
    if (major === undefined || Number(major) < 3) {
      throw new Error(`${candidate} is not Prometheus 3 (${version.output.split('\n')[0]}): ${PROMTOOL.install}`);
    }
    return candidate;
  });
  return run(await promtool3, args);
}

function assertSucceeded(result: Run, what: string): void {
  assert.equal(result.code, 0, `${what} failed (exit ${result.code}):\n${result.output}`);
}

/** The YAML files of a folder under prometheus/, as promtool arguments (what the shell glob would give). */
function yamlFiles(folder: string): string[] {
  const files = readdirSync(join(ROOT, 'prometheus', folder))
    .filter((name) => name.endsWith('.yml'))
    .sort()
    .map((name) => join('prometheus', folder, name));
  assert.ok(files.length > 0, `no .yml files in prometheus/${folder}`);
  return files;
}

describe('the Prometheus configuration, checked by promtool', function () {
  this.timeout(60_000);

  it('prometheus.yml is a valid Prometheus 3 configuration and loads every rule file', async () => {
    const result = await promtool('check', 'config', CONFIG);
    assertSucceeded(result, `promtool check config ${CONFIG}`);
    // A rule_files glob that matches nothing is valid, and silently loads no rules.
    const ruleFiles = yamlFiles('rules').length;
    assert.match(result.output, new RegExp(`SUCCESS: ${ruleFiles} rule files found`), result.output);
  });

  it('every recording and alerting rule parses, and no rule is defined twice', async () => {
    const files = yamlFiles('rules');
    assertSucceeded(await promtool('check', 'rules', ...files), `promtool check rules ${files.join(' ')}`);
  });

  it('the rule unit tests pass: each alert fires on a burning service and stays quiet on a healthy one', async () => {
    const files = yamlFiles('tests');
    const result = await promtool('test', 'rules', ...files);
    assertSucceeded(result, `promtool test rules ${files.join(' ')}`);
    // One "SUCCESS" per test file: a file promtool did not run can not pass.
    assert.equal(result.output.match(/^\s*SUCCESS\s*$/gm)?.length, files.length, result.output);
  });

  it('scrapes every service, the collector, the backends and itself, at the compose address', async () => {
    // promtool resolves each job the way Prometheus would (defaults, relabelling)
    // and prints its targets as JSON; static targets need no discovery wait.
    await Promise.all(
      Object.entries(SCRAPE_TARGETS).map(async ([job, address]) => {
        const result = await promtool('check', 'service-discovery', '--timeout=1s', CONFIG, job);
        assertSucceeded(result, `promtool check service-discovery ${CONFIG} ${job}`);
        const targets = JSON.parse(result.stdout) as { labels: Record<string, string> }[];
        assert.deepEqual(
          targets.map((target) => [target.labels.job, target.labels.instance, target.labels.__metrics_path__]),
          [[job, address, '/metrics']],
          `job ${job} should scrape exactly ${address}/metrics`,
        );
      }),
    );
  });

  it("keeps the job label of each series the collector exports (honor_labels), so spans' metrics name their service", () => {
    const config = readFileSync(join(ROOT, CONFIG), 'utf8');
    const exported = config.split(/^\s*- job_name:\s*/m).find((job) => job.startsWith('otel-collector-exported\n'));
    assert.ok(exported, 'no otel-collector-exported job in prometheus.yml');
    assert.match(exported, /^\s*honor_labels:\s*true\s*$/m);
  });
});
