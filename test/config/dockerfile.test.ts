import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, dockerfileStages, execForm, flag, imagePinProblem, instructions, type Stage } from '../src/compose';

/**
 * The Dockerfile, parsed with dockerfile-ast (no Docker engine here): pinned
 * bases, a final stage that holds only what runs and runs it as an
 * unprivileged user, node as PID 1. Whether the final stage's contents really
 * start a service is test/integration/image-contents.integration.ts's job.
 *
 * Health checks: the image has a HEALTHCHECK (liveness, /healthz on $PORT, for
 * `docker run`), and docker-compose.yml gives every service its own
 * (readiness, /readyz), which replaces it; compose.test.ts checks those.
 */

const stages = dockerfileStages();
const final = stages.at(-1)!;

function args(stage: Stage, keyword: string): string[] {
  return instructions(stage, keyword).map((instruction) => instruction.getArgumentsContent() ?? '');
}

describe('Dockerfile', () => {
  it('has a build stage and a final stage, both FROM an exactly pinned image', () => {
    assert.ok(stages.length >= 2, 'a multi-stage build');
    assert.ok(
      stages.some((stage) => stage.name === 'build'),
      'a stage named build',
    );
    for (const stage of stages) {
      assert.equal(imagePinProblem(stage.image), undefined, `FROM ${stage.image}: ${imagePinProblem(stage.image)}`);
    }
  });

  it('builds and runs on the Node version the tests run on (scripts/node-env.sh)', () => {
    const version = /GLASSBOX_NODE_VERSION:-([\d.]+)/.exec(
      readFileSync(join(ROOT, 'scripts', 'node-env.sh'), 'utf8'),
    )?.[1];
    assert.ok(version, 'no default GLASSBOX_NODE_VERSION in scripts/node-env.sh');
    for (const stage of stages) {
      assert.equal(stage.image, `node:${version}-bookworm-slim`, `FROM ${stage.image}`);
    }
  });

  it('installs from the lockfile and compiles in the build stage', () => {
    const build = stages.find((stage) => stage.name === 'build')!;
    const runs = args(build, 'RUN');
    assert.ok(
      runs.some((run) => /^npm ci\b/.test(run)),
      'npm ci (the lockfile, exactly)',
    );
    assert.ok(
      runs.some((run) => run === 'npm run build'),
      'npm run build',
    );
  });

  it('installs only production dependencies in the final stage and copies nothing from the sources', () => {
    const install = args(final, 'RUN').filter((run) => /\bnpm ci\b/.test(run));
    assert.equal(install.length, 1, 'one npm ci in the final stage');
    assert.match(install[0]!, /--omit=dev\b/);
    assert.match(install[0]!, /--ignore-scripts\b/);
    // Everything the final stage holds comes out of the build stage: no COPY
    // from the build context (sources, tests) and no ADD.
    for (const copy of instructions(final, 'COPY')) {
      assert.equal(flag(copy, 'from'), 'build', `COPY ${copy.getArgumentsContent()} must come from the build stage`);
    }
    assert.deepEqual(instructions(final, 'ADD'), []);
  });

  it('runs as an unprivileged user from /app, in production mode', () => {
    const users = args(final, 'USER');
    assert.ok(users.length > 0, 'the final stage has no USER: it would run as root');
    assert.ok(!['root', '0', '0:0'].includes(users.at(-1)!), `USER ${users.at(-1)}`);
    assert.deepEqual(args(final, 'WORKDIR'), ['/app']);
    assert.ok(args(final, 'ENV').includes('NODE_ENV=production'), 'ENV NODE_ENV=production');
  });

  it('starts node itself (exec form, no npm), the command naming the service', () => {
    const [entrypoint] = args(final, 'ENTRYPOINT');
    assert.deepEqual(execForm(entrypoint ?? null), ['node'], 'ENTRYPOINT ["node"]: node is PID 1 and gets SIGTERM');
    const [cmd] = args(final, 'CMD');
    const command = execForm(cmd ?? null);
    assert.ok(command, 'CMD in exec form');
    assert.doesNotMatch(command.join(' '), /\bnpm\b/, 'no npm in CMD: it would sit between Docker and node');
  });

  it('has a health check in exec form that keeps the telemetry preload out of the probe', () => {
    const [healthcheck] = instructions(final, 'HEALTHCHECK');
    assert.ok(healthcheck, 'no HEALTHCHECK in the final stage');
    const test = execForm((healthcheck.getArgumentsContent() ?? '').replace(/^CMD\s+/, ''));
    assert.ok(test, 'HEALTHCHECK CMD [...] (exec form: the slim image needs no shell for it)');
    assert.deepEqual(test.slice(0, 4), ['env', '-u', 'NODE_OPTIONS', 'node']);
    assert.match(test.join(' '), /\/healthz/);
  });

  it('keeps local output and state out of the build context (.dockerignore)', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    for (const entry of ['**/node_modules', '**/dist', '.git', '.stack']) {
      assert.ok(ignored.includes(entry), `.dockerignore should list ${entry}`);
    }
  });
});
