import assert from 'node:assert/strict';
import { z } from 'zod';
import { ConfigError, env, httpServerConfig, loadConfig, loadServiceConfig, storageConfig } from '../src/config';

/** A service's schema, the way every service writes one. */
const serviceSchema = z.object({
  PORT: env.port(8080),
  USERS_URL: env.url('http://users:8081'),
  ...httpServerConfig,
  ...storageConfig,
});

/** Asserts that `load` throws a ConfigError whose message matches every pattern. */
function throwsConfigError(load: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(load, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.name, 'ConfigError');
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

describe('loadConfig', () => {
  it('applies the defaults when nothing is set', () => {
    const config = loadConfig(serviceSchema, {});

    assert.deepEqual(config, {
      PORT: 8080,
      USERS_URL: 'http://users:8081',
      HOST: '0.0.0.0',
      SHUTDOWN_TIMEOUT_MS: 10_000,
      STORAGE: 'postgres',
    });
  });

  it('turns the environment strings into checked values', () => {
    const config = loadConfig(serviceSchema, { PORT: '9090', SHUTDOWN_TIMEOUT_MS: '2500', STORAGE: 'memory' });

    assert.equal(config.PORT, 9090);
    assert.equal(config.SHUTDOWN_TIMEOUT_MS, 2500);
    assert.equal(config.STORAGE, 'memory');
  });

  it('stops with a ConfigError that names the bad variable', () => {
    throwsConfigError(() => loadConfig(serviceSchema, { PORT: 'eighty' }), /^invalid configuration:\n/, /^ {2}PORT: /m);
  });

  it('names every bad variable, one to a line', () => {
    throwsConfigError(
      () => loadConfig(serviceSchema, { PORT: '70000', USERS_URL: 'ftp://users', STORAGE: 'disk' }),
      /^ {2}PORT: .+$/m,
      /^ {2}USERS_URL: .+$/m,
      /^ {2}STORAGE: .+$/m,
    );
  });

  it('refuses an admin token short enough to guess', () => {
    throwsConfigError(
      () => loadConfig(serviceSchema, { ADMIN_TOKEN: 'letmein' }),
      /ADMIN_TOKEN: must be at least 16 characters/,
    );
  });
});

describe('loadServiceConfig', () => {
  it('requires the PostgreSQL password when STORAGE is postgres, the default', () => {
    throwsConfigError(() => loadServiceConfig(serviceSchema, {}), /DB_PASSWORD: required \(the PostgreSQL password\)/);
  });

  it('reads the PostgreSQL variables with their defaults once the password is given', () => {
    const config = loadServiceConfig(serviceSchema, { DB_PASSWORD: 'secret' });

    assert.deepEqual(config.postgres, {
      DB_HOST: 'postgres',
      DB_PORT: 5432,
      DB_USER: 'glassbox',
      DB_PASSWORD: 'secret',
      DB_NAME: 'glassbox',
      DB_POOL_SIZE: 10,
      DB_STATEMENT_TIMEOUT_MS: 5_000,
    });
  });

  it('names a bad PostgreSQL variable: "DB_PORT: ..."', () => {
    throwsConfigError(() => loadServiceConfig(serviceSchema, { DB_PASSWORD: 'secret', DB_PORT: 'five' }), /DB_PORT: /);
  });

  it('neither requires nor reads the PostgreSQL variables when STORAGE is memory', () => {
    const config = loadServiceConfig(serviceSchema, { STORAGE: 'memory', DB_PORT: 'five' });

    assert.equal(config.STORAGE, 'memory');
    assert.equal(config.postgres, undefined);
  });
});
