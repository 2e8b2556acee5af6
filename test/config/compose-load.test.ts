import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMPOSE_FILE, imagePinProblem, loadCompose, memoryLimit } from '../src/compose';
import { run, toolOnce, type Tool } from '../src/tools';

/**
 * docker-compose.yml loaded by compose-go, the library `docker compose` itself
 * loads it with (deploy/compose-check): interpolation, the Compose schema,
 * normalization and consistency checks, no Docker needed. compose.test.ts
 * reads the YAML; this suite reads what Compose would run.
 */

const COMPOSE_CHECK: Tool = {
  what: 'compose-check (deploy/compose-check, built with Go)',
  variable: 'COMPOSE_CHECK_BIN',
  script: 'validators.sh',
  install: 'sh scripts/validators.sh install',
};
const composeCheck = toolOnce(COMPOSE_CHECK);

/** The parts of compose-go's normalized project (`--json`) read below. */
interface Project {
  services: Record<
    string,
    {
      image?: string;
      build?: { context: string };
      /** Bytes, as a decimal string (compose-go's UnitBytes). */
      mem_limit?: string;
      restart?: string;
      healthcheck?: { test?: string[]; disable?: boolean };
      depends_on?: Record<string, { condition: string }>;
      environment?: Record<string, string | null>;
    }
  >;
  volumes?: Record<string, unknown>;
  networks?: Record<string, unknown>;
}

// Interpolation reads the environment, as `docker compose` does: without the
// file's one variable, the check sees the default written in the file (and the
// variable the broken copy below requires is surely unset).
const environment = { ...process.env };
delete environment.TRACE_SAMPLING_PERCENT;
delete environment.GLASSBOX_UNSET_FOR_TEST;

describe('docker-compose.yml, as compose-go loads it', () => {
  let project: Project;
  before(async () => {
    const result = await run(await composeCheck(), ['-f', 'docker-compose.yml', '--json'], environment);
    assert.equal(result.code, 0, `compose-check failed:\n${result.output}`);
    project = JSON.parse(result.stdout) as Project;
  });

  it('loads: interpolated, valid against the Compose schema, consistent', async () => {
    const result = await run(await composeCheck(), ['-f', 'docker-compose.yml'], environment);
    assert.equal(result.code, 0, result.output);
    const summary = /^compose-check: docker-compose.yml loads: (\d+) services, (\d+) volumes?, (\d+) networks?\n$/;
    const [, services, volumes, networks] = summary.exec(result.stdout) ?? assert.fail(result.output);
    assert.deepEqual(
      [services, volumes, networks].map(Number),
      [project.services, project.volumes ?? {}, project.networks ?? {}].map((map) => Object.keys(map).length),
    );
    assert.equal(project.services['otel-collector']?.environment?.TRACE_SAMPLING_PERCENT, '10');
    console.log(`      ${result.stdout.trim()}`);
  });

  it('gives every container a memory limit and a health check, except the one-shot setup', () => {
    const yaml = loadCompose();
    for (const [name, service] of Object.entries(project.services)) {
      // compose-go's bytes are the ones compose.test.ts adds up in the memory budget.
      assert.ok(service.mem_limit, `${name}: no mem_limit`);
      assert.equal(Number(service.mem_limit), memoryLimit(yaml.services[name]!), `${name}: mem_limit`);
      if (name === 'setup') {
        assert.equal(service.restart, 'no', 'setup runs once');
        continue;
      }
      const test = service.healthcheck?.disable ? undefined : service.healthcheck?.test;
      assert.match(test?.[0] ?? '', /^CMD(-SHELL)?$/, `${name}: no health check`);
    }
    const oneShots = Object.values(project.services).flatMap((service) =>
      Object.entries(service.depends_on ?? {})
        .filter(([, { condition }]) => condition === 'service_completed_successfully')
        .map(([name]) => name),
    );
    assert.deepEqual([...new Set(oneShots)], ['setup'], 'the only service waited for to complete');
  });

  it('pins every image it pulls to an exact tag; the rest are built', () => {
    for (const [name, service] of Object.entries(project.services)) {
      if (service.image === undefined) assert.ok(service.build, `${name}: neither image nor build`);
      else assert.equal(imagePinProblem(service.image), undefined, `${name}: ${service.image}`);
    }
  });

  it("fails, with the loader's message, on an unknown key and on a required variable that is unset", async () => {
    // Copies of the real file, each with one extra service that is wrong.
    const folder = mkdtempSync(join(tmpdir(), 'glassbox-compose-check-'));
    const original = readFileSync(COMPOSE_FILE, 'utf8');
    const broken: Array<[string, RegExp]> = [
      ['    image: busybox:1.37.0\n    bogus: true\n', /services\.broken\.bogus/],
      [
        '    image: busybox:${GLASSBOX_UNSET_FOR_TEST:?must be set}\n',
        /required variable GLASSBOX_UNSET_FOR_TEST is missing a value: must be set/,
      ],
    ];
    try {
      for (const [service, message] of broken) {
        const file = join(folder, 'docker-compose.yml');
        assert.match(original, /^services:\n/m);
        writeFileSync(file, original.replace(/^services:\n/m, `services:\n  broken:\n${service}`));
        const result = await run(await composeCheck(), ['-f', file], environment);
        assert.equal(result.code, 1, `compose-check accepted a broken file:\n${result.output}`);
        assert.match(result.output, message);
      }
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
