/**
 * npm run bench: what instrumentation costs, measured side by side.
 *
 * The same service and route run in every mode below, interleaved (every mode
 * once per repetition, in turn), each process started as production starts it
 * (node --max-semi-space-size=4 --require <preload>) and exporting to the real
 * collector of the native stack:
 *
 *   bare               OTEL_SDK_DISABLED=true, no prom-client: the floor
 *   prom-client        the /metrics histograms and counters only
 *   unsampled          tracing only, sampler always off: the fixed cost every request pays
 *   traces             tracing only (OTLP metrics and logs off, no prom-client)
 *   full               traces + OTLP metrics + OTLP logs + prom-client: what glassbox runs
 *   full, 10% traces   the same, sampling 10% of traces
 *   full, OTLP JSON    full, with spans exported as OTLP JSON instead of protobuf
 *   full, stock instr. full, on the stock http + koa instrumentations instead of the lean path
 *   stock              the zero-code setup: node --require @opentelemetry/auto-instrumentations-node/register
 *                      with its defaults (every instrumentation, OTLP for all signals), plus prom-client
 *
 * Per mode: max throughput (autocannon, closed loop, many connections) and its
 * ratio to bare; the service's own CPU time per request at that load (from
 * /proc, divided by the requests answered) and the collector's; p50/p99 at a
 * fixed rate of half the full mode's max (open model, from intended send
 * time) and the difference to bare; RSS after the load; cold start to the
 * first 200. Two cases: users alone, and gateway -> users. Medians over the
 * repetitions, with min-max.
 *
 * On a machine with two CPUs or more, the measured services run on CPU 0, and
 * the load generator (this process) and the native stack on CPU 1 (taskset),
 * so CPU per request is the service's alone; the results say when that was
 * not possible.
 *
 *   npm run bench                  full run (about 20 minutes)
 *   npm run bench -- --quick       a minute or two: proves the harness end to end (CI)
 *   npm run bench -- --reps 5 --seconds 10 --modes bare,full,stock
 */
import { execSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { measureAtFixedRate } from './fixed-rate';
import {
  affinityOf,
  cpuMicros,
  GLASSBOX_PRELOAD,
  pin,
  rssMiB,
  startService,
  stopService,
  type Started,
} from './processes';
import { renderChart, renderTable, renderTargets, type Row } from './report';

interface Mode {
  name: string;
  env: Record<string, string>;
  /** Another preload than glassbox's. */
  preload?: string;
}

const TRACES_ONLY = { OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none', PROM_METRICS_ENABLED: 'false' };
const MODES: Mode[] = [
  { name: 'bare', env: { OTEL_SDK_DISABLED: 'true', PROM_METRICS_ENABLED: 'false' } },
  { name: 'prom-client', env: { OTEL_SDK_DISABLED: 'true' } },
  { name: 'unsampled', env: { ...TRACES_ONLY, OTEL_TRACES_SAMPLER: 'always_off' } },
  { name: 'traces', env: TRACES_ONLY },
  { name: 'full', env: {} },
  {
    name: 'full, 10% traces',
    env: { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' },
  },
  { name: 'full, OTLP JSON', env: { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' } },
  {
    name: 'full, stock instr.',
    env: { OTEL_NODE_ENABLED_INSTRUMENTATIONS: 'http,koa,undici,pg,amqplib,grpc,pino,runtime-node' },
  },
  { name: 'stock', env: {}, preload: require.resolve('@opentelemetry/auto-instrumentations-node/register') },
];

const USERS_PORT = 18181;
const GATEWAY_PORT = 18180;
const CASES = [
  { name: 'users: GET /users/:id', url: `http://127.0.0.1:${USERS_PORT}/users/1`, chained: false },
  { name: 'gateway -> users: GET /api/users/:id', url: `http://127.0.0.1:${GATEWAY_PORT}/api/users/1`, chained: true },
];

interface Sample {
  maxRps: number;
  /** Microseconds of CPU per request answered at max throughput: the service(s), and the collector. */
  cpu: number;
  collectorCpu: number;
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
    modes: { type: 'string' },
    'semi-space': { type: 'string', default: '4' },
    collector: { type: 'string', default: process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://127.0.0.1:4318' },
    'collector-pid': { type: 'string' },
    out: { type: 'string', default: join(__dirname, '..', '..') },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write(
    `usage: npm run bench -- [--quick] [--reps N] [--seconds S] [--modes a,b,...] [--semi-space MiB]\n` +
      `                        [--collector URL] [--collector-pid PID] [--out DIR]\n` +
      `modes: ${MODES.map((m) => m.name).join(' | ')}\n`,
  );
  process.exit(0);
}
const reps = Number(args.reps ?? (args.quick ? 1 : 3));
const seconds = Number(args.seconds ?? (args.quick ? 1 : 8));
const semiSpace = Number(args['semi-space']);
for (const [flag, value] of [
  ['--reps', reps],
  ['--seconds', seconds],
  ['--semi-space', semiSpace],
] as const) {
  if (!Number.isInteger(value) || value < 1) {
    process.stderr.write(`bench: ${flag} must be a positive integer\n`);
    process.exit(2);
  }
}
const modes = selectedModes(args.modes);

function selectedModes(list: string | undefined): Mode[] {
  if (!list) return MODES;
  const names = list.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !MODES.some((mode) => mode.name === name));
  if (unknown.length > 0 || !names.includes('bare')) {
    process.stderr.write(
      `bench: --modes must name bare and known modes${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}; known: ${MODES.map((m) => m.name).join(', ')}\n`,
    );
    process.exit(2);
  }
  return MODES.filter((mode) => names.includes(mode.name));
}

const progress = (text: string) => process.stderr.write(`bench: ${text}\n`);

/**
 * Where each process runs. With two CPUs or more: the measured services on
 * CPU 0; this process (autocannon, the fixed-rate client) and every process
 * of the native stack (the collector, Jaeger, Prometheus, the stack's own
 * services) on CPU 1, so the service's CPU per request is its own, and
 * neither the load generator nor the backends that ingest its telemetry
 * steal its core. The stack's processes get their own affinity back at the end.
 */
const placement = (() => {
  if (cpus().length < 2)
    return { pinned: false, note: 'one CPU only: nothing pinned, load generator and stack share it' };
  pin(process.pid, '1');
  return {
    pinned: true,
    note: 'services measured on CPU 0; load generator and the native stack (collector, Jaeger, Prometheus) on CPU 1 (taskset)',
  };
})();

const STACK_PIDS = join(__dirname, '..', '..', '..', '.stack', 'pids');

/** The pid in a native-stack pid file, if that process is running. */
function stackPid(file: string): number | undefined {
  const path = join(STACK_PIDS, file);
  if (!existsSync(path)) return undefined;
  const pid = Number(readFileSync(path, 'utf8').trim());
  return Number.isInteger(pid) && existsSync(`/proc/${pid}`) ? pid : undefined;
}

/** The native stack's collector, whose CPU per request is measured beside the service's. */
function collectorPid(): number | undefined {
  return args['collector-pid'] ? Number(args['collector-pid']) : stackPid('otel-collector.pid');
}

/** Every running process of the native stack. */
function stackPids(): number[] {
  if (!existsSync(STACK_PIDS)) return [];
  return readdirSync(STACK_PIDS)
    .filter((file) => file.endsWith('.pid'))
    .map(stackPid)
    .filter((pid): pid is number => pid !== undefined);
}

function serviceEnv(service: string, mode: Mode, port: number): Record<string, string> {
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

async function startCase(chained: boolean, mode: Mode): Promise<{ processes: Started[]; coldStart: number }> {
  const options = {
    preload: mode.preload ?? GLASSBOX_PRELOAD,
    nodeFlags: [`--max-semi-space-size=${semiSpace}`],
    ...(placement.pinned ? { cpu: 0 } : {}),
  };
  const users = await startService(
    'users',
    serviceEnv('users', mode, USERS_PORT),
    `http://127.0.0.1:${USERS_PORT}/healthz`,
    options,
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
    options,
  );
  return { processes: [users, gateway], coldStart: gateway.coldStartMs };
}

interface Throughput {
  rps: number;
  cpuPerRequest: number;
  collectorCpuPerRequest: number;
}

/** Max throughput, and the CPU the services and the collector spent per request meanwhile. */
async function maxThroughput(url: string, duration: number, pids: number[]): Promise<Throughput> {
  const collector = collectorPid();
  const cpuOf = (list: number[]) => list.reduce((sum, pid) => sum + cpuMicros(pid), 0);
  const before = cpuOf(pids);
  const collectorBefore = collector === undefined ? Number.NaN : cpuMicros(collector);
  const result = await autocannon({ url, connections: 32, duration, workers: 0 });
  const spent = cpuOf(pids) - before;
  const collectorSpent = collector === undefined ? Number.NaN : cpuMicros(collector) - collectorBefore;
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors under load`);
  const answered = result['2xx'];
  return {
    rps: result.requests.average,
    cpuPerRequest: spent / answered,
    collectorCpuPerRequest: collectorSpent / answered,
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

async function main(): Promise<void> {
  // Moved to CPU 1 for the run, and given back their own affinity after it.
  const moved = placement.pinned
    ? [...new Set([...stackPids(), collectorPid()])].filter((pid) => pid !== undefined)
    : [];
  const affinities = new Map(moved.map((pid) => [pid, affinityOf(pid)]));
  for (const pid of moved) pin(pid, '1');
  try {
    await measure();
  } finally {
    for (const [pid, cpus] of affinities) if (existsSync(`/proc/${pid}`)) pin(pid, cpus);
  }
}

async function measure(): Promise<void> {
  const results = new Map<string, Sample[]>(); // key: case|mode
  const key = (c: string, m: string) => `${c}|${m}`;
  const pidsOf = (processes: Started[]) => processes.map((started) => started.child.pid!);
  for (const benchCase of CASES) {
    for (let rep = 1; rep <= reps; rep++) {
      // Phase 1: the max throughput of every mode, interleaved.
      const phase: Array<{ mode: string; coldStart: number } & Throughput> = [];
      for (const mode of modes) {
        progress(`${benchCase.name} | rep ${rep}/${reps} | ${mode.name}: max throughput`);
        const { processes, coldStart } = await startCase(benchCase.chained, mode);
        try {
          await maxThroughput(benchCase.url, 1, pidsOf(processes)); // warm-up: JIT, connection pools
          phase.push({
            mode: mode.name,
            coldStart,
            ...(await maxThroughput(benchCase.url, seconds, pidsOf(processes))),
          });
        } finally {
          for (const started of processes.reverse()) await stopService(started.child);
        }
      }
      // Phase 2: latency at half the instrumented (full) max, the same rate for every mode.
      const reference = phase.find((p) => p.mode === 'full') ?? phase.find((p) => p.mode === 'bare');
      const rate = Math.max(10, Math.round((reference?.rps ?? 100) / 2));
      for (const mode of modes) {
        progress(`${benchCase.name} | rep ${rep}/${reps} | ${mode.name}: latency at ${rate} req/s`);
        const { processes } = await startCase(benchCase.chained, mode);
        try {
          await measureAtFixedRate(benchCase.url, rate, 1); // warm-up
          const latency = await measureAtFixedRate(benchCase.url, rate, seconds);
          if (latency.failed > 0)
            throw new Error(`${latency.failed} of ${latency.sent} requests failed at ${rate} req/s`);
          const rss = pidsOf(processes).reduce((sum, pid) => sum + rssMiB(pid), 0);
          const first = phase.find((p) => p.mode === mode.name)!;
          const samples = results.get(key(benchCase.name, mode.name)) ?? [];
          samples.push({
            maxRps: first.rps,
            cpu: first.cpuPerRequest,
            collectorCpu: first.collectorCpuPerRequest,
            coldStart: first.coldStart,
            p50: latency.p50,
            p99: latency.p99,
            rss,
          });
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
    for (const mode of modes) {
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
        cpu: stat((s) => s.cpu),
        cpuRatio: median(samples.map((s) => s.cpu)) / bareMedian((s) => s.cpu),
        collectorCpu: stat((s) => s.collectorCpu),
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
    `${reps} repetition(s), ${seconds} s per measurement${args.quick ? ' (quick mode: proves the harness, the figures mean little)' : ''}; load generator on the same machine; ${placement.note}.`,
    `Every process runs with --max-semi-space-size=${semiSpace}, as production does. CPU µs/req: the service's own CPU time (both services' in the gateway case) per request answered at max throughput; collector µs/req: the native stack's collector over the same time${collectorPid() === undefined ? ' (not found: no native stack running)' : ''}.`,
    'Medians, with min–max over the repetitions. Ratios and differences are to bare, per case.',
  ];
  const table = renderTable(rows);
  const targets = renderTargets(rows);
  process.stdout.write(`\n${header.join('\n')}\n\n${table}\n\n${targets}\n`);
  writeFileSync(
    join(args.out, 'results.md'),
    `# Instrumentation overhead\n\n${header.join('\n')}\n\n${table}\n\n## Targets\n\n${targets}\n\n![throughput by mode](results.svg)\n`,
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
