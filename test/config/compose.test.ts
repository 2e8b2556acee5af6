import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, isAbsolute, join, relative } from 'node:path';
import { DCLinter } from 'dclint';
import { readConfig as gatewayConfig } from '@glassbox/gateway/config';
import { readConfig as notificationsConfig } from '@glassbox/notifications/config';
import { readConfig as ordersConfig } from '@glassbox/orders/config';
import { readConfig as productsConfig } from '@glassbox/products/config';
import { readConfig as usersConfig } from '@glassbox/users/config';
import { readConfig as loadgenConfig } from '@glassbox/loadgen/config';
import {
  COMPOSE_FILE,
  INSTRUMENTED_SERVICES,
  ROOT,
  dependencies,
  dockerfileStages,
  imagePinProblem,
  loadCompose,
  memoryLimit,
  oneShotServices,
  publishedPorts,
  serviceEnvironment,
  splitImage,
  type ComposeFile,
  type ComposeService,
  type InstrumentedService,
} from '../src/compose';
import { readPortsEnv } from '../src/ports';
import { fileInVolume, runSetup, volumeMounts, type SetupRun } from '../src/setup-secrets';

/**
 * docker-compose.yml is code: no Docker engine runs here, so this suite reads
 * the file and checks what `docker compose up` would get wrong silently or
 * late: schema errors, floating image tags, host ports that drift from
 * deploy/ports.env, a variable a service needs but does not get, a memory
 * budget that no longer adds up, a container nobody health-checks.
 */

const compose = loadCompose();
const ports = readPortsEnv();
const MiB = 1024 ** 2;

/** Each service's own config schema (src/config.ts), as the service runs it at start. */
const READ_CONFIG: Record<InstrumentedService, (environment: NodeJS.ProcessEnv) => unknown> = {
  gateway: gatewayConfig,
  users: usersConfig,
  products: productsConfig,
  orders: ordersConfig,
  notifications: notificationsConfig,
};

/**
 * What is published where: [the deploy/ports.env name of the host port, the
 * container port]. Nothing else may be published. Loki and the collector's own
 * metrics are there for the end-to-end suite (test/src/endpoints.ts).
 */
const PUBLISHED: Record<string, Array<[string, number]>> = {
  gateway: [['GATEWAY_PORT', 8080]],
  grafana: [['GRAFANA_PORT', 3000]],
  jaeger: [['JAEGER_UI_PORT', 16686]],
  prometheus: [['PROMETHEUS_PORT', 9090]],
  rabbitmq: [['RABBITMQ_MANAGEMENT_PORT', 15672]],
  loki: [['LOKI_PORT', 3100]],
  'otel-collector': [
    ['COLLECTOR_OTLP_GRPC_PORT', 4317],
    ['COLLECTOR_OTLP_HTTP_PORT', 4318],
    ['COLLECTOR_METRICS_PORT', 8888],
  ],
};

/** Where the third-party services listen inside the compose network (their images' defaults). */
const BACKEND_PORTS: Record<string, number[]> = {
  postgres: [5432],
  rabbitmq: [5672],
  'otel-collector': [4317, 4318],
};

/** The host and port a config value addresses, if it is an address: a URL, or host:port. */
function address(value: string): { host: string; port: number } | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    const url = new URL(value);
    const defaults: Record<string, number> = { 'http:': 80, 'https:': 443, 'amqp:': 5672, 'amqps:': 5671 };
    return { host: url.hostname, port: url.port ? Number(url.port) : defaults[url.protocol]! };
  }
  const match = /^([a-z][a-z0-9-]*):(\d+)$/i.exec(value);
  return match ? { host: match[1]!, port: Number(match[2]) } : undefined;
}

/** Every string leaf of a config object with its path ("postgres.DB_HOST"). */
function leaves(value: unknown, path = ''): Array<[string, string]> {
  if (typeof value === 'string') return [[path, value]];
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, child]) => leaves(child, path ? `${path}.${key}` : key));
  }
  return [];
}

/** The ports a compose service listens on inside the network. */
function listeningPorts(name: string): number[] {
  const environment = serviceEnvironment(compose.services[name]!);
  const own = ['PORT', 'GRPC_PORT'].filter((key) => environment[key]).map((key) => Number(environment[key]));
  return [...own, ...(BACKEND_PORTS[name] ?? [])];
}

/** The most all the memory limits may add up to: 2.5 GiB, in MiB. */
const BUDGET_MIB = 2560;

/** How a budget row's RSS is known (the key above the table says what each means). */
const RSS_KINDS = ['measured', 'reported', 'bound'] as const;

interface BudgetRow {
  rss: number;
  limit: number;
  kind: (typeof RSS_KINDS)[number];
}

/**
 * The budget table at the top of docker-compose.yml, in MiB: from its header
 * (`component  RSS  limit  RSS is ...`) to its `total` line. A row starts in
 * the component column; a line indented past it continues the row above. A
 * row that does not read as `name RSS limit kind` throws, naming the line.
 */
function budgetTable(text = readFileSync(COMPOSE_FILE, 'utf8')): { rows: Map<string, BudgetRow>; total: number } {
  const lines = text.split('\n');
  const header = lines.findIndex((line) => /^# {3}component\s+RSS\s+limit\s+RSS is\b/.test(line));
  if (header < 0) throw new Error('docker-compose.yml has no budget table (its header: component  RSS  limit  RSS is)');
  const rows = new Map<string, BudgetRow>();
  const row = new RegExp(`^# {3}([a-z][a-z-]*)\\s+(\\d+)\\s+(\\d+)\\s+(${RSS_KINDS.join('|')})\\b`);
  for (const line of lines.slice(header + 1)) {
    const total = /^# {3}total\s+(\d+)\b/.exec(line);
    if (total) return { rows, total: Number(total[1]) };
    if (!line.startsWith('#')) break;
    if (/^# {4}/.test(line)) continue; // the row above, continued
    const match = row.exec(line);
    if (!match) throw new Error(`not a budget row (component, RSS, limit, ${RSS_KINDS.join('|')}): ${line}`);
    const [, name, rss, limit, kind] = match;
    rows.set(name!, { rss: Number(rss), limit: Number(limit), kind: kind as BudgetRow['kind'] });
  }
  throw new Error('the budget table in docker-compose.yml has no total line');
}

/**
 * What each image ships that a health check can run, by image name without
 * its tag ("glassbox": the services' image, built from ./Dockerfile), and why
 * we know. A bare name is looked up on the image's PATH; a path must be that
 * path. `/probe/busybox` is in no image: setup copies it into the probe
 * volume (see healthCheckProblems).
 */
const IMAGE_TOOLS: Record<string, { runs: string[]; source: string }> = {
  busybox: { runs: ['sh', 'wget', 'nc'], source: 'busybox:*-musl: one static busybox; these are the applets used' },
  postgres: { runs: ['sh', 'pg_isready'], source: 'postgres:*-alpine: the server package, pg_isready included' },
  rabbitmq: {
    runs: ['sh', 'wget', 'nc', 'rabbitmq-diagnostics'],
    source: 'rabbitmq:*-management-alpine: FROM alpine, busybox applets (docker-library/rabbitmq)',
  },
  'prom/prometheus': { runs: ['sh', 'wget'], source: 'Prometheus 3: FROM quay.io/prometheus/busybox' },
  'jaegertracing/jaeger': { runs: ['sh', 'wget'], source: 'Jaeger 2.x: FROM alpine (busybox)' },
  'grafana/grafana': { runs: ['sh', 'wget'], source: 'the default grafana/grafana image is Alpine-based (busybox)' },
  'grafana/loki': {
    runs: ['/usr/bin/loki'],
    source: 'FROM gcr.io/distroless/static:nonroot: /usr/bin/loki, its config, /etc/passwd; `loki -health` since 3.7.0',
  },
  'otel/opentelemetry-collector-contrib': {
    runs: ['/otelcol-contrib'],
    source: 'FROM scratch: /otelcol-contrib, its config and CA certificates, nothing else',
  },
  glassbox: {
    runs: ['sh', 'env', 'node'],
    source: './Dockerfile: FROM node:*-bookworm-slim (coreutils; no curl, no wget)',
  },
};

/** The busybox that setup copies into the probe volume, where the containers that mount it find it. */
const PROBE = { volume: 'probe', mountedAt: '/probe', path: '/probe/busybox' };

/** The image a service runs, without its tag: "glassbox" for those built from ./Dockerfile. */
function imageName(service: ComposeService): string {
  return service.build ? 'glassbox' : splitImage(service.image ?? '').repository;
}

/** The programs a command runs: its first word, and the command `env [-u NAME] [NAME=VALUE]...` runs. */
function programs(command: string[]): string[] {
  const [first, ...rest] = command;
  if (first === undefined) return [];
  if (basename(first) !== 'env') return [first];
  let next = 0;
  while (next < rest.length && (rest[next]!.startsWith('-') || rest[next]!.includes('='))) {
    next += rest[next] === '-u' ? 2 : 1;
  }
  return [first, ...programs(rest.slice(next))];
}

/**
 * Why a health check could not run in its container: it names a program its
 * image does not ship (IMAGE_TOOLS), or runs the probe busybox without
 * mounting the volume that holds it, or an applet busybox lacks. The probe
 * volume must be written by a service running the busybox image (setup).
 */
function healthCheckProblems(file: ComposeFile): string[] {
  const problems: string[] = [];
  // Who writes the probe volume: whoever mounts it other than read-only.
  const writers = Object.entries(file.services).filter(([, service]) =>
    (service.volumes ?? []).some(
      (volume) => typeof volume === 'string' && volume === `${PROBE.volume}:${PROBE.mountedAt}`,
    ),
  );
  const probeFromBusybox = writers.length > 0 && writers.every(([, service]) => imageName(service) === 'busybox');
  for (const [name, service] of Object.entries(file.services)) {
    const test = service.healthcheck?.test;
    if (test === undefined || service.healthcheck?.disable) continue;
    const [form, ...rest] = typeof test === 'string' ? ['CMD-SHELL', test] : test;
    // CMD-SHELL runs /bin/sh -c: the shell, then the script's first word.
    const shell = form === 'CMD-SHELL';
    const command = shell ? (rest[0] ?? '').trim().split(/\s+/) : rest;
    const image = imageName(service);
    const ships = IMAGE_TOOLS[image]?.runs;
    if (!ships) {
      problems.push(`${name}: no IMAGE_TOOLS row for its image ${image}`);
      continue;
    }
    for (const program of [...(shell ? ['sh'] : []), ...programs(command)]) {
      if (program === PROBE.path) {
        const mounted = volumeMounts(service).some(
          ([volume, target]) => volume === PROBE.volume && target === PROBE.mountedAt,
        );
        if (!mounted) problems.push(`${name}: runs ${PROBE.path} but does not mount the ${PROBE.volume} volume`);
        if (!probeFromBusybox)
          problems.push(`${name}: the ${PROBE.volume} volume is not filled from the busybox image`);
        const applet = command[command.indexOf(program) + 1] ?? '';
        if (!IMAGE_TOOLS.busybox!.runs.includes(applet)) problems.push(`${name}: busybox has no applet "${applet}"`);
        break; // the rest are the applet's arguments
      }
      if (!ships.includes(program)) problems.push(`${name}: runs ${program}, which ${image} does not ship`);
    }
  }
  return problems;
}

describe('docker-compose.yml', () => {
  /** setup's script, run here: the secret files it makes for the containers (test/src/setup-secrets.ts). */
  let secrets: string;
  let setup: SetupRun;
  before(() => {
    secrets = mkdtempSync(join(tmpdir(), 'glassbox-setup-'));
    setup = runSetup(compose, secrets);
  });
  after(() => rmSync(secrets, { recursive: true, force: true }));

  it('is valid against the current Compose specification, as dclint checks it', () => {
    // dclint validates against the Compose specification's JSON schema that it
    // bundles (node_modules/dclint/schemas/compose.schema.json), then applies
    // its rules. Two style rules are off: services are grouped by role (data,
    // telemetry, glassbox) and keys by meaning, not alphabetically.
    const linter = new DCLinter({
      rules: { 'services-alphabetical-order': 0, 'service-keys-order': 0 },
      quiet: false,
      debug: false,
      exclude: [],
    });
    const [result] = linter.lintFiles([COMPOSE_FILE], false);
    assert.ok(result, 'dclint did not lint docker-compose.yml');
    const problems = result.messages.map(
      (m: { line: number; column: number; type: string; rule: string; message: string }) =>
        `${m.line}:${m.column} ${m.type} ${m.rule}: ${m.message}`,
    );
    assert.deepEqual(problems, [], `dclint found problems in docker-compose.yml:\n${problems.join('\n')}`);
  });

  it('is the project "glassbox"', () => {
    assert.equal(compose.name, 'glassbox');
  });

  it('pins every image to an exact version tag', () => {
    const problems = Object.entries(compose.services)
      .filter(([, service]) => service.image !== undefined)
      .map(([name, service]) => [name, service.image!, imagePinProblem(service.image!)] as const)
      .filter(([, , problem]) => problem !== undefined)
      .map(([name, image, problem]) => `${name}: ${image}: ${problem}`);
    assert.deepEqual(problems, []);
    // Sanity of the rule itself, so it can not pass by accepting everything.
    assert.ok(
      imagePinProblem('postgres:15-alpine') &&
        imagePinProblem('grafana/grafana') &&
        imagePinProblem('prom/prometheus:latest'),
    );
    assert.ok(imagePinProblem('rabbitmq:3.13-management-alpine') && imagePinProblem('node:24-bookworm-slim'));
  });

  it('runs the collector and Jaeger at the versions the native stack builds, and Prometheus at the same major', () => {
    const pinned = Object.fromEntries(
      execFileSync('sh', [join(ROOT, 'scripts', 'backends.sh'), 'versions'], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .map((line) => line.split('=') as [string, string]),
    );
    const tag = (name: string) => splitImage(compose.services[name]?.image ?? '').tag;
    assert.equal(tag('otel-collector'), pinned.otelcol, 'otel-collector image vs scripts/backends.sh');
    assert.equal(tag('jaeger'), pinned.jaeger, 'jaeger image vs scripts/backends.sh');
    assert.equal(tag('prometheus')?.replace(/^v/, '').split('.')[0], pinned.prometheus!.split('.')[0]);
    assert.match(compose.services['otel-collector']!.image!, /^otel\/opentelemetry-collector-contrib:/);
    assert.match(compose.services.jaeger!.image!, /^jaegertracing\/jaeger:/);
  });

  it('builds the five services and loadgen from the one Dockerfile, the command choosing the program', () => {
    for (const name of [...INSTRUMENTED_SERVICES, 'loadgen']) {
      const service = compose.services[name];
      assert.ok(service, `no ${name} service`);
      assert.equal(service.image, undefined, `${name} is built, not pulled`);
      assert.deepEqual(service.build, { context: '.' }, `${name} builds ./Dockerfile`);
      const program = `services/${name}/dist/src/main.js`;
      assert.deepEqual(service.command, [program], `${name} runs ${program}`);
      // The compiled entry point the command names (npm run build makes it).
      assert.ok(existsSync(join(ROOT, program)), `${program} does not exist: run npm run build`);
    }
  });

  it('bind-mounts only files and folders that exist in the repository, read-only', () => {
    const namedVolumes = new Set(Object.keys(compose.volumes ?? {}));
    for (const [name, service] of Object.entries(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const [source, , mode] = typeof volume === 'string' ? volume.split(':') : [volume.source, volume.target];
        assert.ok(source, `${name}: a volume without a source`);
        if (!source.startsWith('.') && !isAbsolute(source)) {
          assert.ok(namedVolumes.has(source), `${name}: volume "${source}" is not declared under volumes:`);
          continue;
        }
        assert.ok(source.startsWith('./'), `${name}: ${source} should be relative to the repository (./...)`);
        assert.ok(existsSync(join(ROOT, source)), `${name}: ${source} does not exist in the repository`);
        assert.equal(mode, 'ro', `${name}: ${source} should be mounted read-only`);
      }
    }
  });

  it('opens Grafana on a dashboard that exists, from the folder compose mounts', () => {
    const grafana = compose.services.grafana!;
    const home = serviceEnvironment(grafana).GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    assert.ok(home, 'no GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH');
    const mount = (grafana.volumes ?? [])
      .filter((volume): volume is string => typeof volume === 'string')
      .map((volume) => volume.split(':'))
      .find(([, target]) => home.startsWith(`${target}/`));
    assert.ok(mount, `${home} is not in a folder mounted from the repository`);
    const file = join(ROOT, mount[0]!, relative(mount[1]!, home));
    assert.ok(existsSync(file), `${relative(ROOT, file)} does not exist`);
  });

  it('publishes exactly the host ports of deploy/ports.env listed for it, on 127.0.0.1 only', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      const expected = (PUBLISHED[name] ?? []).map(([variable, target]) => {
        assert.ok(ports[variable], `deploy/ports.env has no ${variable}`);
        return { hostIp: '127.0.0.1', published: ports[variable], target };
      });
      assert.deepEqual(publishedPorts(service), expected, `ports of ${name}`);
    }
  });

  it("listens on each service's ports from deploy/ports.env: the public one, and the management one Prometheus scrapes", () => {
    for (const name of INSTRUMENTED_SERVICES) {
      const environment = serviceEnvironment(compose.services[name]!);
      assert.equal(Number(environment.PORT), ports[`${name.toUpperCase()}_PORT`], `${name} PORT`);
      assert.equal(
        Number(environment.MANAGEMENT_PORT),
        ports[`${name.toUpperCase()}_MANAGEMENT_PORT`],
        `${name} MANAGEMENT_PORT`,
      );
    }
    assert.equal(Number(serviceEnvironment(compose.services.products!).GRPC_PORT), ports.PRODUCTS_GRPC_PORT);
  });

  it('gives each service every variable its config schema requires, with addresses that are compose services', () => {
    // Secrets come as files (NAME_FILE) that setup writes into each service's
    // volume: each NAME_FILE is pointed at the file the container would find
    // at that path, as setup's own script made it (in `before`).
    const withSecretFiles = (name: string, environment: Record<string, string>) => {
      for (const [key, path] of Object.entries(environment).filter(([key]) => key.endsWith('_FILE'))) {
        const file = fileInVolume(setup, compose.services[name]!, path);
        assert.ok(file && existsSync(file), `${name}: ${key}=${path} is in no file setup writes into its volumes`);
        environment[key] = file;
      }
      return environment;
    };

    for (const name of INSTRUMENTED_SERVICES) {
      const environment = serviceEnvironment(compose.services[name]!);
      for (const [key, value] of Object.entries(environment)) {
        assert.ok(!value.includes('$'), `${name}: ${key} uses interpolation; give the value itself`);
      }
      withSecretFiles(name, environment);
      // Exactly what the service does at start: a missing or invalid variable throws, naming it.
      let config: unknown;
      assert.doesNotThrow(() => (config = READ_CONFIG[name](environment)), `${name}'s config rejects its environment`);
      // Every URL or host:port in the resulting config, plus the database's host and port.
      const addresses = leaves(config)
        // JAEGER_UI_URL is where the visitor's browser finds Jaeger, published on the host: not a service address.
        .filter(([path]) => path !== 'JAEGER_UI_URL')
        .map(([path, value]) => [path, address(value)] as const)
        .filter((entry): entry is readonly [string, { host: string; port: number }] => entry[1] !== undefined);
      const postgres = (config as { postgres?: { DB_HOST: string; DB_PORT: number } }).postgres;
      if (postgres) addresses.push(['postgres.DB_HOST', { host: postgres.DB_HOST, port: postgres.DB_PORT }]);
      for (const [path, { host, port }] of addresses) {
        assert.ok(compose.services[host], `${name}: ${path} points at "${host}", which is not a compose service`);
        assert.ok(host !== name, `${name}: ${path} points at itself`);
        assert.ok(
          listeningPorts(host).includes(port),
          `${name}: ${path} uses port ${port}, ${host} listens on ${listeningPorts(host).join(', ')}`,
        );
      }
    }
    // The check above has teeth: without its password, a service that stores data does not start.
    const users = withSecretFiles('users', serviceEnvironment(compose.services.users!));
    delete users.DB_PASSWORD_FILE;
    assert.throws(() => usersConfig(users), /DB_PASSWORD/);
  });

  it('instruments every service through the preload in NODE_OPTIONS and the standard OTEL_* variables', () => {
    for (const name of INSTRUMENTED_SERVICES) {
      const environment = serviceEnvironment(compose.services[name]!);
      assert.match(
        String(environment.NODE_OPTIONS),
        /(^| )--require @glassbox\/telemetry\/register$/,
        `${name} NODE_OPTIONS`,
      );
      assert.equal(environment.OTEL_SERVICE_NAME, name, `${name} OTEL_SERVICE_NAME`);
      assert.equal(environment.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://otel-collector:4318', `${name} endpoint`);
      assert.equal(environment.OTEL_RESOURCE_ATTRIBUTES, 'deployment.environment.name=compose');
      assert.equal(environment.OTEL_BSP_SCHEDULE_DELAY, '1000');
      assert.equal(environment.OTEL_SDK_DISABLED, undefined, `${name} must not disable the SDK`);
    }
  });

  it('sends gentle, endless traffic to the gateway from an uninstrumented load generator', () => {
    const environment = serviceEnvironment(compose.services.loadgen!);
    assert.equal(environment.OTEL_SDK_DISABLED, 'true');
    assert.equal(environment.NODE_OPTIONS, undefined, 'loadgen runs without the telemetry preload');
    // Its own option parser, as main.ts calls it (no flags: the environment only).
    const config = loadgenConfig([], environment);
    assert.ok(config, 'loadgen read its environment as a request for --help');
    assert.equal(new URL(config.target).host, 'gateway:8080');
    assert.equal(config.rps, 5);
    assert.equal(config.durationMs, 0, 'it runs until stopped');
    assert.equal(config.profile, 'steady');
    assert.equal(config.statusPort, 8089);
  });

  it('limits the memory of every container, 2.5 GiB at most in all, as the budget table in the file says', () => {
    const limits = Object.entries(compose.services).map(([name, service]) => [name, memoryLimit(service)] as const);
    for (const [name, limit] of limits) assert.ok(limit, `${name} has no mem_limit`);
    const total = limits.reduce((sum, [, limit]) => sum + limit!, 0) / MiB;
    assert.ok(total <= BUDGET_MIB, `the memory limits add up to ${total} MiB, over ${BUDGET_MIB}`);

    const { rows, total: tableTotal } = budgetTable();
    assert.deepEqual([...rows.keys()].sort(), Object.keys(compose.services).sort(), 'one budget row per service');
    for (const [name, limit] of limits) {
      assert.equal(rows.get(name)!.limit, limit! / MiB, `the budget table's limit for ${name} is stale`);
    }
    assert.equal(tableTotal, total, "the budget table's total is stale");
  });

  it('gives every container at least 1.5x its RSS, each RSS measured, reported or bound', () => {
    const { rows } = budgetTable();
    for (const [name, { rss, limit }] of rows) {
      assert.ok(rss > 0, `${name}: no RSS`);
      assert.ok(limit >= 1.5 * rss, `${name}: ${limit} MiB is below 1.5x its RSS of ${rss} MiB`);
    }
    // The reader has teeth: a row without an RSS, or without how it is known, is not a row.
    const text = readFileSync(COMPOSE_FILE, 'utf8');
    assert.match(text, /^# {3}postgres {9}28 {5}80 {2}measured /m);
    for (const broken of ['#   postgres          -     80  measured', '#   postgres         28     80  guessed ']) {
      assert.throws(() => budgetTable(text.replace(/^# {3}postgres {9}28 {5}80 {2}measured /m, broken)), /postgres/);
    }
  });

  it('health-checks every long-running container; only one-shot setup goes without', () => {
    const oneShots = oneShotServices(compose);
    for (const [name, service] of Object.entries(compose.services)) {
      if (oneShots.has(name)) {
        assert.equal(service.restart, 'no', `${name} runs once: restart "no"`);
        continue;
      }
      const test = service.healthcheck?.test;
      assert.ok(Array.isArray(test) && test.length > 1, `${name} has no health check`);
      assert.ok(['CMD', 'CMD-SHELL'].includes(test[0]!), `${name}: health check "${test.join(' ')}" is not a command`);
      assert.notEqual(service.healthcheck?.disable, true, `${name}: health check disabled`);
    }
  });

  it('health-checks each container with a program its image ships, or the busybox setup puts in the probe volume', () => {
    assert.deepEqual(healthCheckProblems(compose), []);
    // The table describes the images compose runs, and nothing else.
    const images = new Set(Object.values(compose.services).map(imageName));
    assert.deepEqual(
      Object.keys(IMAGE_TOOLS).sort(),
      [...images].sort(),
      'IMAGE_TOOLS rows vs the images compose runs',
    );
    // The services' image is what its row says: Debian slim with Node (env from coreutils, no curl or wget).
    assert.match(dockerfileStages().at(-1)!.image, /^node:[\d.]+-bookworm-slim$/);
    // The check has teeth: wget in Loki's distroless image, curl in Grafana's,
    // the probe busybox without its volume, an applet busybox lacks.
    const broken = structuredClone(compose);
    broken.services.loki!.healthcheck!.test = ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:3100/ready'];
    broken.services.grafana!.healthcheck!.test = ['CMD-SHELL', 'curl -f http://127.0.0.1:3000/api/health'];
    const collector = broken.services['otel-collector']!;
    collector.volumes = collector.volumes!.filter((volume) => volume !== 'probe:/probe:ro');
    broken.services.rabbitmq!.healthcheck!.test = ['CMD', '/probe/busybox', 'telnet', '127.0.0.1', '5672'];
    assert.deepEqual(healthCheckProblems(broken), [
      'rabbitmq: busybox has no applet "telnet"',
      'loki: runs wget, which grafana/loki does not ship',
      'otel-collector: runs /probe/busybox but does not mount the probe volume',
      'grafana: runs curl, which grafana/grafana does not ship',
    ]);
  });

  it('keeps the telemetry preload out of the services’ health probes', () => {
    for (const name of INSTRUMENTED_SERVICES) {
      const test = compose.services[name]!.healthcheck!.test as string[];
      assert.deepEqual(test.slice(0, 5), ['CMD', 'env', '-u', 'NODE_OPTIONS', 'node'], `${name} probe`);
      assert.match(test.join(' '), /\/readyz/, `${name} is ready only when its dependencies are`);
    }
  });

  it('starts a container only when what it depends on is healthy (or, for setup, done)', () => {
    const oneShots = oneShotServices(compose);
    for (const [name, service] of Object.entries(compose.services)) {
      for (const [dependency, condition] of Object.entries(dependencies(service))) {
        assert.ok(compose.services[dependency], `${name} depends on unknown service ${dependency}`);
        const expected = oneShots.has(dependency) ? 'service_completed_successfully' : 'service_healthy';
        assert.equal(condition, expected, `${name} -> ${dependency}`);
      }
    }
    // The chain that makes `up --wait` mean "usable": the gateway waits for every service it calls.
    // (And for setup, which made the admin token it reads.)
    assert.deepEqual(Object.keys(dependencies(compose.services.gateway!)).sort(), [
      'orders',
      'otel-collector',
      'products',
      'setup',
      'users',
    ]);
  });
});
