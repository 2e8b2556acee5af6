/**
 * npm run bench: what instrumentation costs, measured side by side.
 *
 * The same service and route run in five modes, interleaved (every mode once
 * per repetition, in turn), each process started as production starts it and
 * exporting to the real collector of the native stack:
 *
 *   bare            OTEL_SDK_DISABLED=true, no prom-client: the floor
 *   prom-client     the /metrics histograms and counters only
 *   traces          tracing only (OTLP metrics and logs off, no prom-client)
 *   full            traces + OTLP metrics + OTLP logs + prom-client: what glassbox runs
 *   full, 10% traces  the same, sampling 10% of traces
 *
 * Per mode: max throughput (autocannon, closed loop, many connections) and its
 * ratio to bare; p50/p99 at a fixed rate of half the full mode's max (open
 * model, from intended send time) and the difference to bare; RSS after the
 * load; cold start to the first 200. Two cases: users alone, and gateway ->
 * users. Medians over the repetitions, with min-max.
 *
 *   npm run bench                  full run (several minutes)
 *   npm run bench -- --quick       seconds: proves the harness end to end (CI)
 *   npm run bench -- --reps 5 --seconds 10
 */
import { execSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { measureAtFixedRate } from './fixed-rate';
import { rssMiB, startService, stopService, type Started } from './processes';
import { renderChart, renderTable, type Row } from './report';

const MODES: Array<{ name: string; env: Record<string, string> }> = [
  { name: 'bare', env: { OTEL_SDK_DISABLED: 'true', PROM_METRICS_ENABLED: 'false' } },
  { name: 'prom-client', env: { OTEL_SDK_DISABLED: 'true' } },
  { name: 'traces', env: { OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none', PROM_METRICS_ENABLED: 'false' } },
  { name: 'full', env: {} },
  {
    name: 'full, 10% traces',
    env: { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
  },
];

const USERS_PORT = 18181;
const GATEWAY_PORT = 18180;
const CASES = [
  { name: 'users: GET /users/:id', url: `http://127.0.0.1:${USERS_PORT}/users/1`, chained: false },
  { name: 'gateway -> users: GET /api/users/:id', url: `http://127.0.0.1:${GATEWAY_PORT}/api/users/1`, chained: true },
];

interface Sample {
  maxRps: number;
  p50: number;
  p99: number;
  rss: number;
  coldStart: number;
}

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    reps: { type: 'string' },
    seconds: { type: 'string' },
    collector: { type: 'string', default: process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://127.0.0.1:4318' },
    out: { type: 'string', default: join(__dirname, '..', '..') },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write(`usage: npm run bench -- [--quick] [--reps N] [--seconds S] [--collector URL] [--out DIR]\n`);
  process.exit(0);
}
const reps = Number(args.reps ?? (args.quick ? 1 : 3));
const seconds = Number(args.seconds ?? (args.quick ? 1 : 8));
for (const [flag, value] of [
  ['--reps', reps],
  ['--seconds', seconds],
] as const) {
  if (!Number.isInteger(value) || value < 1) {
    process.stderr.write(`bench: ${flag} must be a positive integer\n`);
    process.exit(2);
  }
}

const progress = (text: string) => process.stderr.write(`bench: ${text}\n`);

function serviceEnv(service: string, mode: (typeof MODES)[number], port: number): Record<string, string> {
  return {
    PORT: String(port),
    // Beside a running stack, whose services hold the default management ports: any free one will do.
    MANAGEMENT_PORT: '0',
    OTEL_SERVICE_NAME: `bench-${service}`,
    OTEL_EXPORTER_OTLP_ENDPOINT: args.collector,
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=bench',
    USERS_URL: `http://127.0.0.1:${USERS_PORT}`,
    PRODUCTS_URL: 'http://127.0.0.1:1',
    ORDERS_URL: 'http://127.0.0.1:1',
    ...mode.env,
  };
}

async function startCase(
  chained: boolean,
  mode: (typeof MODES)[number],
): Promise<{ processes: Started[]; coldStart: number }> {
  const users = await startService(
    'users',
    serviceEnv('users', mode, USERS_PORT),
    `http://127.0.0.1:${USERS_PORT}/healthz`,
  );
  // Cold start is the time to the first 200 of the measured route itself.
  const seeded = await fetch(`http://127.0.0.1:${USERS_PORT}/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Bench', email: 'bench@example.org' }),
  });
  if (seeded.status !== 201) throw new Error(`could not seed the users service: ${seeded.status}`);
  if (!chained) return { processes: [users], coldStart: users.coldStartMs };
  const gateway = await startService(
    'gateway',
    serviceEnv('gateway', mode, GATEWAY_PORT),
    `http://127.0.0.1:${GATEWAY_PORT}/api/users/1`,
  );
  return { processes: [users, gateway], coldStart: gateway.coldStartMs };
}

async function maxThroughput(url: string, duration: number): Promise<number> {
  const result = await autocannon({ url, connections: 32, duration, workers: 0 });
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors under load`);
  return result.requests.average;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

async function main(): Promise<void> {
  const results = new Map<string, Sample[]>(); // key: case|mode
  const key = (c: string, m: string) => `${c}|${m}`;
  for (const benchCase of CASES) {
    for (let rep = 1; rep <= reps; rep++) {
      // Phase 1: the max throughput of every mode, interleaved.
      const phase: Array<{ mode: string; maxRps: number; coldStart: number }> = [];
      for (const mode of MODES) {
        progress(`${benchCase.name} | rep ${rep}/${reps} | ${mode.name}: max throughput`);
        const { processes, coldStart } = await startCase(benchCase.chained, mode);
        try {
          await maxThroughput(benchCase.url, 1); // warm-up: JIT, connection pools
          phase.push({ mode: mode.name, maxRps: await maxThroughput(benchCase.url, seconds), coldStart });
        } finally {
          for (const started of processes.reverse()) await stopService(started.child);
        }
      }
      // Phase 2: latency at half the instrumented (full) max, the same rate for every mode.
      const rate = Math.max(10, Math.round((phase.find((p) => p.mode === 'full')?.maxRps ?? 100) / 2));
      for (const mode of MODES) {
        progress(`${benchCase.name} | rep ${rep}/${reps} | ${mode.name}: latency at ${rate} req/s`);
        const { processes } = await startCase(benchCase.chained, mode);
        try {
          await measureAtFixedRate(benchCase.url, rate, 1); // warm-up
          const latency = await measureAtFixedRate(benchCase.url, rate, seconds);
          if (latency.failed > 0)
            throw new Error(`${latency.failed} of ${latency.sent} requests failed at ${rate} req/s`);
          const rss = processes.reduce((sum, started) => sum + rssMiB(started.child), 0);
          const first = phase.find((p) => p.mode === mode.name)!;
          const samples = results.get(key(benchCase.name, mode.name)) ?? [];
          samples.push({ maxRps: first.maxRps, coldStart: first.coldStart, p50: latency.p50, p99: latency.p99, rss });
          results.set(key(benchCase.name, mode.name), samples);
        } finally {
          for (const started of processes.reverse()) await stopService(started.child);
        }
      }
    }
  }

  const rows: Row[] = [];
  for (const benchCase of CASES) {
    const bare = results.get(key(benchCase.name, 'bare'))!;
    const bareMedian = (pick: (s: Sample) => number) => median(bare.map(pick));
    for (const mode of MODES) {
      const samples = results.get(key(benchCase.name, mode.name))!;
      const stat = (pick: (s: Sample) => number) => {
        const values = samples.map(pick);
        return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
      };
      rows.push({
        benchCase: benchCase.name,
        mode: mode.name,
        maxRps: stat((s) => s.maxRps),
        ratio: median(samples.map((s) => s.maxRps)) / bareMedian((s) => s.maxRps),
        p50: stat((s) => s.p50),
        p99: stat((s) => s.p99),
        p99Added: median(samples.map((s) => s.p99)) - bareMedian((s) => s.p99),
        rss: stat((s) => s.rss),
        rssAdded: median(samples.map((s) => s.rss)) - bareMedian((s) => s.rss),
        coldStart: stat((s) => s.coldStart),
        coldStartAdded: median(samples.map((s) => s.coldStart)) - bareMedian((s) => s.coldStart),
      });
    }
  }

  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${osName()}`;
  const header = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine}; Node ${process.version}.`,
    `${reps} repetition(s), ${seconds} s per measurement${args.quick ? ' (quick mode: proves the harness, the figures mean little)' : ''}; load generator on the same machine.`,
    'Medians, with min–max over the repetitions. Ratios and differences are to bare, per case.',
  ];
  const table = renderTable(rows);
  process.stdout.write(`\n${header.join('\n')}\n\n${table}\n`);
  writeFileSync(
    join(args.out, 'results.md'),
    `# Instrumentation overhead\n\n${header.join('\n')}\n\n${table}\n\n![throughput and p99 by mode](results.svg)\n`,
  );
  writeFileSync(join(args.out, 'results.svg'), renderChart(rows));
  progress(`wrote ${join(args.out, 'results.md')} and results.svg`);
}

function osName(): string {
  try {
    return /PRETTY_NAME="([^"]+)"/.exec(execSync('cat /etc/os-release', { encoding: 'utf8' }))?.[1] ?? process.platform;
  } catch {
    return process.platform;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
