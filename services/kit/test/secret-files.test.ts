import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { loadConfig, postgresConfig } from '../src/config';
import { readSecretFiles, SecretFileError } from '../src/secret-files';

describe('readSecretFiles (the NAME_FILE convention)', () => {
  let folder: string;
  const secret = (name: string, content: string) => {
    const path = join(folder, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  };

  beforeEach(() => (folder = mkdtempSync(join(tmpdir(), 'glassbox-secrets-'))));
  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  /** Asserts a SecretFileError naming every pattern, and never showing `hidden`. */
  function refuses(environment: NodeJS.ProcessEnv, names: string[], patterns: RegExp[], hidden?: string): void {
    assert.throws(
      () => readSecretFiles(environment, names),
      (error: unknown) => {
        assert.ok(error instanceof SecretFileError, `expected a SecretFileError, got ${String(error)}`);
        assert.match(error.message, /^invalid configuration:\n/);
        for (const pattern of patterns) assert.match(error.message, pattern);
        if (hidden) assert.ok(!error.message.includes(hidden), 'the error shows the secret');
        return true;
      },
    );
  }

  it('sets NAME from the file NAME_FILE names, without its trailing newline', () => {
    const environment = { DB_PASSWORD_FILE: secret('db-password', 's3cret\n'), DB_HOST: 'postgres' };
    const resolved = readSecretFiles(environment, ['DB_PASSWORD', 'DB_HOST']);
    assert.equal(resolved.DB_PASSWORD, 's3cret');
    assert.equal(resolved.DB_PASSWORD_FILE, undefined, 'resolved: reading the result again changes nothing');
    assert.deepEqual(readSecretFiles(resolved, ['DB_PASSWORD']), resolved);
    assert.equal(resolved.DB_HOST, 'postgres');
    assert.equal(environment.DB_HOST, 'postgres');
    assert.equal((environment as NodeJS.ProcessEnv).DB_PASSWORD, undefined, 'the given environment is not changed');
  });

  it('keeps everything but the trailing newlines: inner spaces and a CRLF ending', () => {
    const path = secret('token', ' two words \r\n');
    assert.equal(readSecretFiles({ ADMIN_TOKEN_FILE: path }, ['ADMIN_TOKEN']).ADMIN_TOKEN, ' two words ');
  });

  it('reads only the files of the variables it is asked for', () => {
    const read: string[] = [];
    const resolved = readSecretFiles({ OTHER_FILE: '/etc/shadow', AMQP_URL: 'amqp://mq' }, ['AMQP_URL'], (path) => {
      read.push(path);
      return 'x';
    });
    assert.deepEqual(read, []);
    assert.equal(resolved.OTHER, undefined);
    assert.equal(resolved.AMQP_URL, 'amqp://mq', 'a value given directly still works');
  });

  it('feeds loadConfig: a password file satisfies the required DB_PASSWORD', () => {
    const schema = z.object(postgresConfig);
    const environment = { DB_PASSWORD_FILE: secret('db-password', 'from-a-file\n') };
    assert.equal(
      loadConfig(schema, readSecretFiles(environment, Object.keys(schema.shape))).DB_PASSWORD,
      'from-a-file',
    );
  });

  it('refuses NAME and NAME_FILE both set', () => {
    refuses(
      { ADMIN_TOKEN: 'x'.repeat(20), ADMIN_TOKEN_FILE: secret('t', 'y'.repeat(20)) },
      ['ADMIN_TOKEN'],
      [/^ {2}ADMIN_TOKEN_FILE: ADMIN_TOKEN is set as well/m],
    );
  });

  it('refuses a missing, unreadable or empty file, naming the variable and the path, never the content', () => {
    const missing = join(folder, 'nope');
    refuses(
      { DB_PASSWORD_FILE: missing },
      ['DB_PASSWORD'],
      [new RegExp(`DB_PASSWORD_FILE: could not read ${missing} \\(ENOENT\\)`)],
    );
    refuses({ DB_PASSWORD_FILE: folder }, ['DB_PASSWORD'], [/DB_PASSWORD_FILE: could not read .+ \(EISDIR\)/]);
    refuses({ ADMIN_TOKEN_FILE: secret('empty', '\n') }, ['ADMIN_TOKEN'], [/ADMIN_TOKEN_FILE: .+empty is empty/]);
  });

  it('names every bad file at once, one to a line', () => {
    refuses(
      {
        DB_PASSWORD_FILE: join(folder, 'a'),
        AMQP_URL_FILE: join(folder, 'b'),
        ADMIN_TOKEN_FILE: secret('ok', 'z'.repeat(20)),
      },
      ['DB_PASSWORD', 'AMQP_URL', 'ADMIN_TOKEN'],
      [/^ {2}DB_PASSWORD_FILE: .+$/m, /^ {2}AMQP_URL_FILE: .+$/m],
      'z'.repeat(20),
    );
  });
});
