import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ConfigError } from '@glassbox/service-kit';
import { readConfig } from '../src/config';

describe('products configuration', () => {
  it('has defaults that fit the compose stack', () => {
    const config = readConfig({ DB_PASSWORD: 'secret' });
    assert.equal(config.PORT, 8082);
    assert.equal(config.GRPC_PORT, 50051);
    assert.equal(config.HOST, '0.0.0.0');
    assert.equal(config.STORAGE, 'postgres');
    assert.equal(config.postgres?.DB_HOST, 'postgres');
    assert.equal(config.postgres?.DB_PORT, 5432);
  });

  it('needs no database settings with in-memory storage', () => {
    const config = readConfig({ STORAGE: 'memory' });
    assert.equal(config.postgres, undefined);
  });

  it('names the variable that is wrong', () => {
    assert.throws(
      () => readConfig({ STORAGE: 'memory', GRPC_PORT: '70000' }),
      (error: Error) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /GRPC_PORT/);
        return true;
      },
    );
    assert.throws(() => readConfig({ DB_PASSWORD: 'x', DB_PORT: 'five' }), /DB_PORT/);
    assert.throws(() => readConfig({ STORAGE: 'disk' }), /STORAGE/);
  });

  it('names a required variable that is missing', () => {
    assert.throws(() => readConfig({}), /DB_PASSWORD: required/);
  });

  it('makes the process exit non-zero with the variable in its message', () => {
    const main = join(__dirname, '..', 'src', 'main.js');
    const result = spawnSync(process.execPath, [main], {
      env: { PATH: process.env.PATH, GRPC_PORT: 'many', STORAGE: 'memory', OTEL_SDK_DISABLED: 'true' },
      encoding: 'utf8',
      timeout: 15_000,
    });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /products: failed to start: invalid configuration:\n\s+GRPC_PORT:/);
  });
});
