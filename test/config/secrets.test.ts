import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { parse } from 'yaml';
import { COMPOSE_FILE, INSTRUMENTED_SERVICES, ROOT, loadCompose, serviceEnvironment } from '../src/compose';
import { fileInVolume, runSetup, volumeMounts, type SetupRun } from '../src/setup-secrets';

/**
 * Secrets and where they may live. docker-compose.yml holds none: setup makes
 * them on the first start and each container reads its own from files. The
 * native stack's scripts keep theirs in private files and off command lines.
 * What follows proves it from the files themselves: setup's script is run
 * (without Docker), and every path a container is told to read is checked
 * against what setup wrote into the volumes that container mounts.
 */

const compose = loadCompose();

/** The user each container runs as (from the images' own Dockerfiles), who alone may read its secrets. */
const CONTAINER_USER: Record<string, string> = {
  grafana: '472',
  postgres: '70',
  rabbitmq: '100',
  ...Object.fromEntries(INSTRUMENTED_SERVICES.map((name) => [name, '1000'])),
};

const SECRET_KEY = /PASSWORD|PASS$|TOKEN|SECRET|AMQP_URL/i;
const FILE_KEY = /_FILE$/;
/** `${NAME}`, `${NAME:-}`, `${NAME:?message}`: a value given when compose runs, not written here. */
const INTERPOLATION = /^\$\{[A-Z_][A-Z0-9_]*(:?[-?][^}]*)?\}$/;
/** scheme://user:password@ anywhere in a string; the password must be a placeholder ($..., %s). */
const CREDENTIALS_IN_URL = /\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@'"]+:([^\s@'"]+)@/gi;
/** NAME_PASSWORD=value inside a command or a script; the value must be a reference. */
const SECRET_ASSIGNMENT = /\b[A-Z_]*(?:PASSWORD|PASS|TOKEN|SECRET)[A-Z_]*=([^\s;&|]+)/g;

const isPlaceholder = (value: string) => /^["']?(\$|%s)/.test(value);

/** Every literal secret in a parsed compose document, as "path: why". */
function literalSecrets(node: unknown, path = ''): string[] {
  if (typeof node === 'string') {
    const problems: string[] = [];
    for (const match of node.matchAll(CREDENTIALS_IN_URL)) {
      if (!isPlaceholder(match[1]!)) problems.push(`${path}: a password in the URL ${match[0]}`);
    }
    for (const match of node.matchAll(SECRET_ASSIGNMENT)) {
      if (!isPlaceholder(match[1]!)) problems.push(`${path}: ${match[0]}`);
    }
    return problems;
  }
  if (Array.isArray(node)) return node.flatMap((item, index) => literalSecrets(item, `${path}[${index}]`));
  if (node && typeof node === 'object') {
    return Object.entries(node).flatMap(([key, value]) => {
      const here = path ? `${path}.${key}` : key;
      const problems = literalSecrets(value, here);
      if (FILE_KEY.test(key)) {
        if (typeof value !== 'string' || !value.startsWith('/run/secrets/')) {
          problems.push(`${here}: a secret file outside /run/secrets/ (${String(value)})`);
        }
      } else if (SECRET_KEY.test(key) && value !== null && value !== '' && typeof value !== 'object') {
        if (typeof value !== 'string' || !INTERPOLATION.test(value)) {
          problems.push(`${here}: a literal value; give NAME_FILE (a file setup makes) or \${NAME} instead`);
        }
      }
      return problems;
    });
  }
  return [];
}

/** `key = value` or `key: value` lines of a config file whose key names a secret, with a literal value. */
function literalSecretsInConfig(text: string, file: string): string[] {
  return text
    .split('\n')
    .map((line, index) => [index + 1, line.replace(/\s#.*$/, '')] as const)
    .filter(([, line]) => !/^\s*(#|--|\/\/)/.test(line))
    .flatMap(([number, line]) => {
      const match = /^\s*"?([\w.-]*(?:pass|password|token|secret)[\w.-]*)"?\s*[=:]\s*(\S.*)$/i.exec(line);
      if (!match || /^\d+$|^(true|false)$/.test(match[2]!) || isPlaceholder(match[2]!)) return [];
      if (match[2]!.startsWith('/run/secrets/')) return [];
      return [`${file}:${number}: ${match[1]} has a literal value`];
    });
}

/** The repository files a service bind-mounts (folders walked), as [path relative to the repository, text]. */
function mountedConfigFiles(service: { volumes?: Array<string | { source?: string }> }): Array<[string, string]> {
  const walk = (path: string): string[] =>
    statSync(join(ROOT, path)).isDirectory()
      ? readdirSync(join(ROOT, path)).flatMap((entry) => walk(join(path, entry)))
      : [path];
  return (service.volumes ?? [])
    .map((volume) => (typeof volume === 'string' ? volume.split(':')[0]! : (volume.source ?? '')))
    .filter((source) => source.startsWith('./'))
    .flatMap(walk)
    .filter((file) => ['.yml', '.yaml', '.conf', '.sh', '.ini', '.env', '.json'].includes(extname(file)))
    .map((file) => [file, readFileSync(join(ROOT, file), 'utf8')]);
}

describe('secrets', () => {
  describe('docker-compose.yml', () => {
    it('holds no password, token or secret: every such value is a file setup makes, or ${VARIABLE}', () => {
      const document = parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as unknown;
      assert.deepEqual(literalSecrets(document), []);
    });

    it('would be caught holding one (the check above has teeth)', () => {
      const careless = parse(
        `
x-db: &db
  DB_PASSWORD: glassbox
services:
  app:
    environment:
      <<: *db
      ADMIN_TOKEN: glassbox-local-fault-switches
      AMQP_URL: amqp://glassbox:glassbox@rabbitmq:5672
      GF_SECURITY_ADMIN_PASSWORD__FILE: /etc/grafana/password
      GRAFANA_ADMIN_PASSWORD: \${GRAFANA_ADMIN_PASSWORD:-}
      DB_PASSWORD_FILE: /run/secrets/glassbox/db-password
    command: ['sh', '-c', 'PGPASSWORD=glassbox psql']
    healthcheck:
      test: ['CMD', 'wget', 'http://guest:guest@127.0.0.1:15672/api/health']
`,
        { merge: true },
      ) as unknown;
      const found = literalSecrets(careless).join('\n');
      for (const culprit of [
        /services\.app\.environment\.DB_PASSWORD: a literal value/,
        /ADMIN_TOKEN: a literal value/,
        /AMQP_URL: a literal value/,
        /a password in the URL amqp:\/\/glassbox:glassbox@/,
        /__FILE: a secret file outside \/run\/secrets\//,
        /PGPASSWORD=glassbox/,
        /a password in the URL http:\/\/guest:guest@/,
      ]) {
        assert.match(found, culprit);
      }
      assert.doesNotMatch(found, /GRAFANA_ADMIN_PASSWORD:|DB_PASSWORD_FILE/, 'references are not secrets');
    });

    it('mounts no configuration file that holds a literal password or token', () => {
      const problems = Object.values(compose.services)
        .flatMap(mountedConfigFiles)
        .flatMap(([file, text]) => literalSecretsInConfig(text, file));
      assert.deepEqual(problems, []);
      assert.deepEqual(literalSecretsInConfig('default_user = glassbox\ndefault_pass = glassbox\n', 'x.conf'), [
        'x.conf:2: default_pass has a literal value',
      ]);
    });
  });

  describe('setup, run as compose would run it', () => {
    let root: string;
    let first: SetupRun;
    let second: SetupRun;
    const read = (run: SetupRun, volume: string, file: string) =>
      readFileSync(join(run.volumes[volume]!, file), 'utf8');

    before(() => {
      root = mkdtempSync(join(tmpdir(), 'glassbox-setup-'));
      first = runSetup(compose, root);
      // What a later `docker compose up` does: setup runs again over the same volumes.
      second = runSetup(compose, root);
    });
    after(() => rmSync(root, { recursive: true, force: true }));

    /** Secret volumes: the named volumes setup writes, but the busybox one. */
    const secretVolumes = () =>
      volumeMounts(compose.services.setup!)
        .map(([volume]) => volume)
        .filter((volume) => volume !== 'probe');

    it('gives each secret volume to one container, whose user alone owns and reads its files (0600)', () => {
      for (const volume of secretVolumes()) {
        const readers = Object.entries(compose.services)
          .filter(([name, service]) => name !== 'setup' && volumeMounts(service).some(([v]) => v === volume))
          .map(([name]) => name);
        assert.equal(readers.length, 1, `${volume} is mounted by ${readers.join(', ') || 'nobody'}: one reader each`);
        const user = CONTAINER_USER[readers[0]!];
        assert.ok(user, `${readers[0]} runs as which user? teach CONTAINER_USER`);
        const files = readdirSync(second.volumes[volume]!);
        assert.ok(files.length > 0, `setup wrote nothing into ${volume}`);
        for (const file of files) {
          const path = join(second.volumes[volume]!, file);
          assert.equal((statSync(path).mode & 0o777).toString(8), '600', `${volume}/${file} mode`);
          assert.equal(
            second.owners.get(path),
            user,
            `${volume}/${file} should belong to ${readers[0]}'s user ${user}`,
          );
        }
      }
    });

    it('makes each secret once, random, and keeps it across restarts', () => {
      for (const volume of secretVolumes()) {
        for (const file of readdirSync(first.volumes[volume]!)) {
          assert.equal(read(second, volume, file), read(first, volume, file), `${volume}/${file} changed on restart`);
        }
      }
      const password = read(first, 'postgres-secrets', 'superuser-password');
      assert.match(password, /^[A-Za-z0-9]{32}$/);
    });

    it('gives every service an admin token of its own', () => {
      const tokens = INSTRUMENTED_SERVICES.map((name) => read(first, `${name}-secrets`, 'admin-token'));
      for (const token of tokens) assert.match(token, /^[A-Za-z0-9]{32}$/);
      assert.equal(new Set(tokens).size, INSTRUMENTED_SERVICES.length, 'two services share a token');
    });

    it('gives the services the passwords PostgreSQL and RabbitMQ were set up with', () => {
      const database = read(first, 'postgres-secrets', 'glassbox-password');
      const broker = read(first, 'rabbitmq-secrets', 'glassbox-password');
      assert.notEqual(database, broker);
      for (const name of ['users', 'products', 'orders', 'notifications']) {
        assert.equal(read(first, `${name}-secrets`, 'db-password'), database, `${name} db-password`);
      }
      for (const name of ['orders', 'notifications']) {
        assert.equal(read(first, `${name}-secrets`, 'amqp-url'), `amqp://glassbox:${broker}@rabbitmq:5672`);
      }
      assert.ok(!existsSync(join(first.volumes['gateway-secrets']!, 'db-password')), 'the gateway stores nothing');
    });

    it('writes RabbitMQ definitions with the services’ user, an administrator for the web UI, and no guest', () => {
      const definitions = JSON.parse(read(first, 'rabbitmq-secrets', 'definitions.json'));
      const users = Object.fromEntries(definitions.users.map((user: { name: string }) => [user.name, user]));
      assert.deepEqual(Object.keys(users).sort(), ['admin', 'glassbox']);
      assert.equal(users.glassbox.password, read(first, 'rabbitmq-secrets', 'glassbox-password'));
      assert.equal(users.glassbox.tags, '', 'the services’ user can not sign in to the web UI');
      assert.equal(users.admin.password, read(first, 'rabbitmq-secrets', 'admin-password'));
      assert.equal(users.admin.tags, 'administrator');
      assert.deepEqual(definitions.vhosts, [{ name: '/' }]);
      for (const user of ['glassbox', 'admin']) {
        assert.ok(
          definitions.permissions.some((p: { user: string; vhost: string }) => p.user === user && p.vhost === '/'),
          `${user} has no permissions on /`,
        );
      }
    });

    it('takes GRAFANA_ADMIN_PASSWORD when one is given', () => {
      const own = mkdtempSync(join(tmpdir(), 'glassbox-setup-'));
      try {
        const run = runSetup(compose, own, { GRAFANA_ADMIN_PASSWORD: 'chosen by me' });
        assert.equal(read(run, 'grafana-admin', 'password'), 'chosen by me');
      } finally {
        rmSync(own, { recursive: true, force: true });
      }
    });

    it('makes every secret file a container is told to read, in a volume that container mounts', () => {
      const PATH = /\/run\/secrets\/[\w./-]+/g;
      const readers: string[] = [];
      for (const [name, service] of Object.entries(compose.services)) {
        const told = [
          ...Object.values(serviceEnvironment(service)),
          ...mountedConfigFiles(service).map(([, text]) => text),
        ].flatMap((text) => [...text.matchAll(PATH)].map((match) => match[0]));
        for (const path of told) {
          const file = fileInVolume(first, service, path);
          assert.ok(file && existsSync(file), `${name} reads ${path}, which setup does not make in its volumes`);
        }
        if (told.length > 0) readers.push(name);
      }
      // Teeth: who must have been checked above.
      assert.deepEqual(readers.sort(), Object.keys(CONTAINER_USER).sort());
    });
  });

  describe('the native stack', () => {
    let folder: string;
    beforeEach(() => (folder = mkdtempSync(join(tmpdir(), 'glassbox-secret-file-'))));
    afterEach(() => rmSync(folder, { recursive: true, force: true }));

    /** scripts/secret-file.sh FILE, with a umask that would make files readable to all, and `od` watched. */
    function secretFile(file: string): void {
      const shims = join(folder, 'shims');
      mkdirSync(shims, { recursive: true });
      // Runs while the secret is being made: records the partial file's mode and size at that moment.
      const od = spawnSync('sh', ['-c', 'command -v od'], { encoding: 'utf8' }).stdout.trim();
      writeFileSync(
        join(shims, 'od'),
        `#!/bin/sh\nstat -c '%a %s' "${file}".partial.* >> "${join(folder, 'od.log')}"\nexec "${od}" "$@"\n`,
      );
      chmodSync(join(shims, 'od'), 0o755);
      const result = spawnSync('sh', ['-c', `umask 022 && sh "${join(ROOT, 'scripts', 'secret-file.sh')}" "${file}"`], {
        encoding: 'utf8',
        env: { ...process.env, PATH: `${shims}:${process.env.PATH}` },
      });
      assert.equal(result.status, 0, result.stderr);
    }

    it('makes the admin token file private before a byte of the token is in it, and keeps it', () => {
      const token = join(folder, 'admin-token');
      secretFile(token);
      assert.equal(readFileSync(join(folder, 'od.log'), 'utf8'), '600 0\n', 'the file existed, empty and 600, first');
      assert.equal((statSync(token).mode & 0o777).toString(8), '600');
      const value = readFileSync(token, 'utf8');
      assert.match(value, /^[0-9a-f]{64}$/);
      secretFile(token);
      assert.equal(readFileSync(token, 'utf8'), value, 'kept across runs');
      assert.deepEqual(readdirSync(folder).sort(), ['admin-token', 'od.log', 'shims'], 'no partial file left');
    });

    it('closes a token file an older version left readable to all', () => {
      const token = join(folder, 'admin-token');
      writeFileSync(token, 'an-older-token-0123456789', { mode: 0o644 });
      secretFile(token);
      assert.equal((statSync(token).mode & 0o777).toString(8), '600');
      assert.equal(readFileSync(token, 'utf8'), 'an-older-token-0123456789');
    });

    it('is how scripts/stack.sh makes .stack/admin-token', () => {
      const stack = readFileSync(join(ROOT, 'scripts', 'stack.sh'), 'utf8');
      assert.match(stack, /sh "\$ROOT\/scripts\/secret-file\.sh" "\$STATE\/admin-token"/);
    });

    it('passes no token or password on a command line, where ps shows it to every user', () => {
      /*
       * What puts a secret into a process's arguments: `env NAME=secret cmd`
       * (the bug stack.sh had), a secret read with $(cat ...) and spliced into a
       * command, or a tool's password flag. A NAME=value prefix of a command,
       * an exported variable or a file path is not an argument.
       */
      const onCommandLine = (text: string) =>
        text
          .split('\n')
          .filter((line) => !/^\s*#/.test(line))
          .filter(
            (line) =>
              /\benv\b[^#]*\b\w*(TOKEN|PASSWORD|SECRET|AMQP_URL)(?!_FILE)\w*=/.test(line) ||
              /^\s*[A-Z_]*(TOKEN|PASSWORD|SECRET)[A-Z_]*=\$\(cat\b/.test(line) ||
              /\$\(cat [^)]*(token|password|secret)[^)]*\)/i.test(line) ||
              /--password[= ]\S|\badd_user\s+\S+\s+\S+|\bchange_password\s/.test(line),
          );
      const scripts = [
        ...readdirSync(join(ROOT, 'scripts')).map((file) => join('scripts', file)),
        join('.ci', 'run'),
      ].filter((file) => existsSync(join(ROOT, file)));
      const problems = scripts.flatMap((file) =>
        onCommandLine(readFileSync(join(ROOT, file), 'utf8')).map((line) => `${file}: ${line.trim()}`),
      );
      assert.deepEqual(problems, []);
      // Teeth: the lines this check was written against.
      assert.equal(
        onCommandLine(
          [
            'ADMIN_TOKEN=$(cat "$STATE/admin-token")',
            'start "$name" env $(service_env) ADMIN_TOKEN="$token" node main.js',
            'rabbitmqctl add_user glassbox glassbox',
            'start "$name" env ADMIN_TOKEN_FILE="$STATE/admin-token" node main.js',
          ].join('\n'),
        ).length,
        3,
      );
    });
  });
});
