import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ConfigError } from '@glassbox/service-kit';
import { readConfig } from '../src/config';

describe('users configuration', () => {
  it('has defaults that fit the compose stack', () => {
    const config = readConfig({ DB_PASSWORD: 'secret' });
    assert.equal(config.PORT, 8081);
    assert.equal(config.postgres?.DB_HOST, 'postgres');
    assert.equal(config.postgres?.DB_PORT, 5432);
  });

  it('names the variable that is wrong', () => {
    assert.throws(
      () => readConfig({ DB_PASSWORD: 'x', DB_PORT: 'five' }),
      (error: Error) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /DB_PORT/);
        return true;
      },
    );
    assert.throws(() => readConfig({ STORAGE: 'disk' }), /STORAGE/);
  });

  it('names a required variable that is missing', () => {
    assert.throws(() => readConfig({}), /DB_PASSWORD: required/);
  });

  it('makes the process exit non-zero with the variable in its message', () => {
    const main = join(__dirname, '..', 'src', 'main.js');
    const result = spawnSync(process.execPath, [main], {
      env: { PATH: process.env.PATH, PORT: '-1', STORAGE: 'memory', OTEL_SDK_DISABLED: 'true' },
      encoding: 'utf8',
      timeout: 15_000,
    });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /users: failed to start: invalid configuration:\n\s+PORT:/);
  });
});
