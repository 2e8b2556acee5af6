import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadCompose, serviceEnvironment } from '../src/compose';
import { OTELCOL, ROOT, run, toolOnce } from '../src/tools';

/**
 * otel-collector.yaml is code: the collector itself (the native stack's
 * build, the same release as compose's image) validates it, and the shape
 * that tail sampling depends on is asserted here: span metrics computed from
 * EVERY span, sampling only on the way to Jaeger, and defaults that keep
 * every error and every trace that breaks the latency objective.
 */

const CONFIG = 'otel-collector.yaml';
const SERVICE_GRAPH = 'otel-collector.servicegraph.yaml';
const otelcol = toolOnce(OTELCOL);

interface Pipeline {
  receivers: string[];
  processors?: string[];
  exporters: string[];
}
interface CollectorConfig {
  processors: Record<string, Record<string, unknown>>;
  service: { pipelines: Record<string, Pipeline> };
}

const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const config = parse(read(CONFIG)) as CollectorConfig;
const pipelines = config.service.pipelines;

/** The default of a `${env:NAME:-default}` reference in a config file's text. */
function envDefault(text: string, name: string): string {
  const match = new RegExp(`\\$\\{env:${name}:-([^}]*)\\}`).exec(text);
  assert.ok(match, `no \${env:${name}:-default} in the file`);
  return match[1]!;
}

/** Runs `otelcol validate` over config files with extra environment variables. */
async function validate(files: string[], env: Record<string, string> = {}) {
  const environment = { ...process.env, ...env };
  for (const name of ['TRACE_SAMPLING_PERCENT', 'TRACE_SAMPLING_SLOW_MS']) {
    if (!(name in env)) delete environment[name];
  }
  return run(await otelcol(), ['validate', ...files.map((file) => `--config=${file}`)], environment);
}

describe('the collector configuration (otel-collector.yaml), checked by the collector', function () {
  this.timeout(60_000);

  it('is a valid configuration for the native build, with the sampling defaults and with 100%', async () => {
    const byDefault = await validate([CONFIG]);
    assert.equal(byDefault.code, 0, `otelcol validate ${CONFIG}:\n${byDefault.output}`);
    const everything = await validate([CONFIG], { TRACE_SAMPLING_PERCENT: '100' });
    assert.equal(everything.code, 0, `with TRACE_SAMPLING_PERCENT=100:\n${everything.output}`);
  });

  it('refuses a sampling share that is not a number (the check has teeth)', async () => {
    const result = await validate([CONFIG], { TRACE_SAMPLING_PERCENT: 'ten' });
    assert.notEqual(result.code, 0, 'a share of "ten" was accepted');
    assert.match(result.output, /sampling_percentage/);
  });

  it('computes span metrics from every span, before sampling, and samples only what goes to Jaeger', () => {
    const unsampled = pipelines.traces!;
    assert.deepEqual(unsampled.exporters, ['span_metrics'], 'the traces pipeline feeds the span metrics only');
    assert.ok(!unsampled.processors?.some((p) => p.startsWith('tail_sampling')), 'no sampling before span metrics');
    const sampled = pipelines['traces/sampled'];
    assert.ok(sampled, 'no traces/sampled pipeline');
    assert.deepEqual(sampled.receivers, unsampled.receivers, 'both pipelines read the same spans');
    assert.deepEqual(sampled.exporters, ['otlp_grpc/jaeger']);
    const processors = sampled.processors ?? [];
    assert.equal(processors[0], 'memory_limiter', 'memory_limiter first');
    assert.ok(processors.includes('tail_sampling'), 'tail_sampling on the way to Jaeger');
    assert.ok(
      processors.indexOf('tail_sampling') < processors.findIndex((p) => p.startsWith('batch')),
      'batching after the decision',
    );
    assert.ok(pipelines.metrics!.receivers.includes('span_metrics'), 'span metrics reach Prometheus');
  });

  it('keeps the service graph unsampled too, where compose adds it', () => {
    const overlay = parse(read(SERVICE_GRAPH)) as CollectorConfig;
    const traces = overlay.service.pipelines.traces!;
    assert.deepEqual(traces.exporters.sort(), ['service_graph', 'span_metrics']);
    assert.ok(!traces.processors?.some((p) => p.startsWith('tail_sampling')));
    assert.equal(
      overlay.service.pipelines['traces/sampled'],
      undefined,
      'the overlay leaves the sampled pipeline alone',
    );
  });

  it('keeps every error, every trace over the latency objective, and 10% of the rest by default', () => {
    const text = read(CONFIG);
    const sampler = config.processors.tail_sampling as {
      decision_wait: string;
      decision_cache: { sampled_cache_size: number; non_sampled_cache_size: number };
      policies: Array<{ name: string; type: string; [key: string]: unknown }>;
    };
    assert.deepEqual(
      sampler.policies.map((p) => p.type),
      ['status_code', 'latency', 'probabilistic'],
    );
    assert.deepEqual(sampler.policies[0]!.status_code, { status_codes: ['ERROR'] });
    assert.equal(envDefault(text, 'TRACE_SAMPLING_PERCENT'), '10');
    // The latency objective of the SLO rules is the le="0.3" bucket: a trace
    // that burns latency budget must be one the sampler always keeps.
    const objective = Number(/le="([\d.]+)"/.exec(read('prometheus/rules/recording.yml'))![1]) * 1000;
    const slowMs = Number(envDefault(text, 'TRACE_SAMPLING_SLOW_MS'));
    assert.ok(slowMs <= objective, `slow threshold ${slowMs} ms is above the latency objective ${objective} ms`);
    // A short wait keeps traces fresh in Jaeger; the decision caches let late spans follow their trace.
    assert.match(sampler.decision_wait, /^[12]s$/, 'decision_wait of 1-2 s');
    assert.ok(sampler.decision_cache.sampled_cache_size > 0 && sampler.decision_cache.non_sampled_cache_size > 0);
  });

  it('samples 10% under compose (the default, written out) and keeps everything in the native stack', () => {
    const collector = serviceEnvironment(loadCompose().services['otel-collector']!);
    // 10, or a ${TRACE_SAMPLING_PERCENT:-10} that a classroom can turn to 100 when it starts compose.
    assert.match(String(collector.TRACE_SAMPLING_PERCENT), /^(10|\$\{TRACE_SAMPLING_PERCENT:-10\})$/, 'compose');
    // The end-to-end suite looks traces up by id: the native stack keeps them all unless told otherwise.
    const startCommand = read('scripts/stack.sh')
      .replace(/\\\n\s*/g, ' ')
      .split('\n')
      .find((line) => line.trim().startsWith('start otel-collector'));
    assert.ok(startCommand, 'no collector start command in scripts/stack.sh');
    assert.match(startCommand, /TRACE_SAMPLING_PERCENT="\$\{TRACE_SAMPLING_PERCENT:-100\}"/);
  });

  it('takes every port from the environment, defaulting to deploy/ports.env', () => {
    const text = read(CONFIG);
    const ports = Object.fromEntries(
      read('deploy/ports.env')
        .split('\n')
        .map((line) => /^([A-Z_]+)=(\d+)$/.exec(line))
        .filter((match) => match !== null)
        .map((match) => [match[1]!, match[2]!]),
    );
    for (const name of [
      'COLLECTOR_OTLP_GRPC_PORT',
      'COLLECTOR_OTLP_HTTP_PORT',
      'COLLECTOR_HEALTH_PORT',
      'COLLECTOR_METRICS_PORT',
      'COLLECTOR_EXPORTER_PORT',
    ]) {
      assert.equal(envDefault(text, name), ports[name], `${name} default vs deploy/ports.env`);
    }
  });
});
