import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { promisify } from 'node:util';
import {
  ROOT,
  dockerfileStages,
  flag,
  instructions,
  loadCompose,
  serviceEnvironment,
  type Stage,
} from '../src/compose';

/**
 * The image, without Docker: no engine runs on these machines, so this test
 * does what `docker build` would do with the final stage, in a temporary
 * folder, by running the Dockerfile's OWN instructions (read with
 * dockerfile-ast, so the two can not drift apart):
 *
 *   1. the build stage's assembly step (the RUN that writes $OUT), over this
 *      checkout, built by `npm run build` like the build stage is;
 *   2. every instruction of the final stage, in order: COPY --from=build,
 *      RUN (npm ci --omit=dev ...), ENV, WORKDIR.
 *
 * Then it checks what the folder holds, and starts the users service from it
 * exactly as compose does: `node services/users/dist/src/main.js` in /app,
 * with users' compose environment, NODE_OPTIONS and all, so the preload must
 * resolve from the image's working directory. Only the addresses change:
 * the local PostgreSQL of scripts/deps.sh, and a stand-in collector.
 */

const execFileAsync = promisify(execFile);
const stages = dockerfileStages();
const build = stages.find((stage) => stage.name === 'build')!;
const final = stages.at(-1)!;

/** The build stage's ARG OUT default ("/out"), where its assembly step writes. */
function buildOut(stage: Stage): string {
  const arg = instructions(stage, 'ARG')
    .map((a) => a.getArgumentsContent() ?? '')
    .find((a) => a.startsWith('OUT='));
  assert.ok(arg, 'the build stage has no ARG OUT=...: its assembly step can not be run outside Docker');
  return arg.slice('OUT='.length);
}

/**
 * The environment of a build step run here: this machine's (its network and
 * certificate settings), minus what an `npm run` around the tests adds (npm_*,
 * INIT_CWD) or a preload (NODE_OPTIONS), and this test's node first on PATH.
 */
function buildEnvironment(): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(([name]) => !/^(npm_|INIT_CWD$|NODE_OPTIONS$)/i.test(name));
  return { ...Object.fromEntries(inherited), PATH: `${dirname(process.execPath)}:${process.env.PATH}` };
}

/** PostgreSQL of scripts/deps.sh: from the environment `npm run test:integration` sets, else asked. */
function postgresEnvironment(): Record<string, string> {
  const names = ['DB_HOST', 'DB_PORT', 'DB_USER', 'DB_PASSWORD', 'DB_NAME'];
  let source: Record<string, string | undefined> = process.env;
  if (!process.env.DB_HOST) {
    const printed = execFileSync('sh', [join(ROOT, 'scripts', 'deps.sh'), 'env'], { encoding: 'utf8' });
    source = Object.fromEntries([...printed.matchAll(/\b([A-Z_]+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));
  }
  return Object.fromEntries(names.map((name) => [name, source[name] ?? '']));
}

/** Files under a folder, as paths relative to it, not descending into node_modules. */
function ownFiles(folder: string, prefix = ''): string[] {
  return readdirSync(join(folder, prefix), { withFileTypes: true }).flatMap((entry) => {
    const path = join(prefix, entry.name);
    if (entry.name === 'node_modules') return [];
    return entry.isDirectory() ? [`${path}/`, ...ownFiles(folder, path)] : [path];
  });
}

/** Polls until `probe` returns a value, the process dies, or the deadline passes. */
async function waitFor<T>(
  what: string,
  child: ChildProcess,
  output: () => string,
  probe: () => Promise<T | undefined>,
  ms: number,
): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) assert.fail(`the service exited (${child.exitCode}) before ${what}:\n${output()}`);
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return assert.fail(`no ${what} within ${ms} ms:\n${output()}`);
}

describe('the image, assembled by the Dockerfile’s own steps outside Docker', function () {
  // npm ci of the production dependencies dominates: about a minute when its cache is cold.
  this.timeout(240_000);

  let work: string;
  let app: string;
  const imageEnvironment: Record<string, string> = {};

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'glassbox-image-'));
    const out = join(work, 'out');

    // 1. The build stage's assembly, over this checkout (npm run build has run).
    const assembly = instructions(build, 'RUN').find((run) => (run.getArgumentsContent() ?? '').includes('$OUT'));
    assert.ok(assembly, 'no RUN in the build stage writes to $OUT');
    await execFileAsync('sh', ['-c', assembly.getArgumentsContent()!], {
      cwd: ROOT,
      env: { ...buildEnvironment(), OUT: out },
    });

    // 2. The final stage, instruction by instruction.
    const fromBuild = buildOut(build);
    let workdir = '/';
    const inImage = (path: string) => join(work, 'image', isAbsolute(path) ? path : join(workdir, path));
    for (const instruction of final.instructions) {
      const keyword = instruction.getKeyword();
      const content = instruction.getArgumentsContent() ?? '';
      switch (keyword) {
        case 'WORKDIR':
          workdir = content;
          mkdirSync(inImage('.'), { recursive: true });
          break;
        case 'ENV':
          for (const [, name, value] of content.matchAll(/(\w+)=(\S+)/g)) imageEnvironment[name!] = value!;
          break;
        case 'COPY': {
          assert.equal(flag(instruction, 'from'), 'build', `COPY ${content}: only --from=build is reproduced here`);
          const [source, destination] = content.split(/\s+/);
          assert.ok(source!.startsWith(fromBuild), `COPY ${content}: the source should be under ${fromBuild}`);
          cpSync(join(out, relative(fromBuild, source!)), inImage(destination!), { recursive: true });
          break;
        }
        case 'RUN':
          // The image's npm cache is a BuildKit cache mount; here it is a folder of this test's own.
          await execFileAsync('sh', ['-c', content.replace(/--cache \S+/g, `--cache ${join(work, 'npm-cache')}`)], {
            cwd: inImage('.'),
            // This machine's environment (network, certificates), minus what
            // this test's own npm run put there (npm_*, INIT_CWD): nothing may
            // steer the install elsewhere.
            env: { ...buildEnvironment(), ...imageEnvironment },
            maxBuffer: 16 * 1024 * 1024,
          });
          break;
        case 'USER': // the process below runs as whoever runs the tests
        case 'HEALTHCHECK': // compose replaces it; the service's /healthz is asked below
        case 'ENTRYPOINT': // node, and the command is the service's main.js: as spawned below
        case 'CMD':
        case 'EXPOSE':
        case 'LABEL':
          break;
        default:
          assert.fail(`the final stage has a ${keyword}, which this test does not reproduce: teach it`);
      }
    }
    app = inImage('.');
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('holds the compiled services and their production dependencies, and no dev dependency', () => {
    const lockfile = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; link?: boolean }>;
    };
    const devOnly = Object.entries(lockfile.packages)
      .filter(([path, entry]) => path.includes('node_modules/') && entry.dev === true)
      .map(([path]) => path);
    for (const known of ['typescript', 'mocha', 'eslint', 'prettier', 'dclint']) {
      assert.ok(devOnly.includes(`node_modules/${known}`), `the lockfile should list ${known} as dev-only`);
    }
    const present = devOnly.filter((path) => existsSync(join(app, path)));
    assert.deepEqual(present, [], 'dev dependencies in the image');
    for (const needed of ['koa', 'pg', 'zod', '@glassbox/telemetry', '@glassbox/users']) {
      assert.ok(existsSync(join(app, 'node_modules', needed)), `node_modules/${needed} is missing`);
    }
  });

  it('holds no tests, no TypeScript sources and no build leftovers', () => {
    const files = ownFiles(app);
    assert.ok(files.includes('services/users/dist/src/main.js'), 'the users service is in the image');
    assert.ok(files.includes('services/products/proto/products.proto'), 'products reads its .proto at run time');
    const unwanted = files.filter(
      (path) =>
        /(^|\/)dist\/test\//.test(path) ||
        (/(^|\/)src\/$/.test(path) && !path.endsWith('dist/src/')) ||
        (path.endsWith('.ts') && !path.endsWith('.d.ts')) ||
        path.endsWith('.tsbuildinfo') ||
        path.startsWith('test/'),
    );
    assert.deepEqual(unwanted, []);
  });

  describe('the users service started from it as compose starts it', () => {
    let child: ChildProcess;
    let collector: Server;
    const exports: string[] = [];
    let output = '';

    before(async () => {
      // Stands in for the collector: records what the SDK exports (POST /v1/traces...).
      collector = createServer((request, response) => {
        exports.push(`${request.method} ${request.url}`);
        request.resume();
        request.on('end', () => response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
      });
      collector.listen(0, '127.0.0.1');
      await once(collector, 'listening');
      const collectorPort = (collector.address() as { port: number }).port;

      const users = loadCompose().services.users!;
      const [main] = users.command as string[];
      // Compose hands secrets over as files (NAME_FILE, written by its setup
      // service): here, files of this test's own, with the local values.
      const local = postgresEnvironment(); // the local PostgreSQL instead of compose's
      const environment = { ...serviceEnvironment(users), ...local }; // NODE_OPTIONS, OTEL_*, DB_*, PORT
      mkdirSync(join(work, 'secrets'));
      for (const key of Object.keys(environment).filter((name) => name.endsWith('_FILE'))) {
        const name = key.slice(0, -'_FILE'.length);
        const file = join(work, 'secrets', name);
        writeFileSync(file, local[name] ?? randomBytes(16).toString('hex'), { mode: 0o600 });
        environment[key] = file;
        delete environment[name];
      }
      child = spawn(process.execPath, [main!], {
        cwd: app,
        env: {
          PATH: process.env.PATH,
          ...imageEnvironment,
          ...environment,
          HOST: '127.0.0.1',
          PORT: '0', // any free port; the service logs the one it got
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collectorPort}`,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    });

    after(async () => {
      if (child?.pid !== undefined && child.exitCode === null) {
        const exited = once(child, 'exit');
        process.kill(child.pid, 'SIGTERM');
        const timer = setTimeout(() => child.exitCode === null && process.kill(child.pid!, 'SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      collector?.close();
    });

    it('answers 200 on /healthz, and serves users from PostgreSQL', async () => {
      const port = await waitFor(
        '"listening" log line',
        child,
        () => output,
        () => Promise.resolve(/"port":(\d+),"msg":"listening"/.exec(output)?.[1]),
        30_000,
      );
      const base = `http://127.0.0.1:${port}`;
      const health = await waitFor(
        '200 from /healthz',
        child,
        () => output,
        async () => {
          const response = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2_000) });
          return response.status === 200 ? response.status : undefined;
        },
        30_000,
      );
      assert.equal(health, 200);
      const list = await fetch(`${base}/users`, { signal: AbortSignal.timeout(5_000) });
      assert.equal(list.status, 200, await list.text());
    });

    it('is instrumented by the preload from NODE_OPTIONS: its spans reach the collector', async () => {
      // Export happens every OTEL_BSP_SCHEDULE_DELAY (1 s in compose).
      await waitFor(
        'POST /v1/traces at the stand-in collector',
        child,
        () => `${output}\nexports: ${exports.join(', ')}`,
        () => Promise.resolve(exports.includes('POST /v1/traces') ? true : undefined),
        15_000,
      );
    });
  });
});
