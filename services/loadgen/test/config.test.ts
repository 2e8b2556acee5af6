import assert from 'node:assert/strict';
import { readConfig, UsageError } from '../src/config';

describe('the command line', () => {
  it('has defaults for everything', () => {
    assert.deepEqual(readConfig([], {}), {
      target: 'http://127.0.0.1:8080',
      rps: 10,
      durationMs: 30_000,
      seed: 1,
      profile: 'steady',
      maxInFlight: 1000,
      timeoutMs: 10_000,
      waitMs: 60_000,
      statusPort: 8089,
      statusHost: '0.0.0.0',
    });
  });

  it('reads the flags', () => {
    const config = readConfig(
      [
        '--rps',
        '50',
        '--duration',
        '2m',
        '--seed',
        '42',
        '--profile',
        'spike',
        '--target',
        'http://gw:1/',
        '--timeout=1.5s',
      ],
      {},
    );
    assert.equal(config?.rps, 50);
    assert.equal(config?.durationMs, 120_000);
    assert.equal(config?.seed, 42);
    assert.equal(config?.profile, 'spike');
    assert.equal(config?.target, 'http://gw:1/');
    assert.equal(config?.timeoutMs, 1500);
  });

  it('falls back to the environment, and a flag wins over it', () => {
    const environment = {
      GATEWAY_URL: 'http://gateway:8080',
      LOAD_RPS: '5',
      LOAD_DURATION: '0',
      LOAD_SEED: '9',
      LOAD_PROFILE: 'steady',
      LOADGEN_PORT: '9000',
    };
    const config = readConfig([], environment);
    assert.equal(config?.target, 'http://gateway:8080');
    assert.equal(config?.rps, 5);
    assert.equal(config?.durationMs, 0);
    assert.equal(config?.seed, 9);
    assert.equal(config?.statusPort, 9000);
    assert.equal(readConfig(['--rps', '7'], environment)?.rps, 7);
  });

  it('reads durations in ms, s, m and h; a bare number is seconds', () => {
    const ms = (text: string) => readConfig(['--duration', text], {})?.durationMs;
    assert.deepEqual(
      ['500ms', '30s', '2m', '1h', '45', '0', '1.5m'].map(ms),
      [500, 30_000, 120_000, 3_600_000, 45_000, 0, 90_000],
    );
  });

  it('refuses a bad value with a message that names the flag, or the variable it came from', () => {
    const refusal = (argv: string[], environment: NodeJS.ProcessEnv = {}) => {
      try {
        readConfig(argv, environment);
      } catch (error) {
        assert.ok(error instanceof UsageError);
        return error.message;
      }
      assert.fail(`${argv.join(' ')} was accepted`);
    };
    assert.match(refusal(['--rps', 'fast']), /^--rps: expected a number/);
    assert.match(refusal(['--rps', '0']), /^--rps: expected more than 0/);
    assert.match(refusal(['--duration', '5 minutes']), /^--duration: expected a duration/);
    assert.match(refusal(['--seed', '1.5']), /^--seed: expected an integer from 0 to 4294967295/);
    assert.match(refusal(['--seed', '4294967296']), /^--seed: /);
    assert.match(refusal(['--profile', 'wave']), /^--profile: expected one of steady, ramp, spike/);
    assert.match(refusal(['--profile', 'ramp', '--duration', '0']), /^--profile: .*finite run/);
    assert.match(refusal(['--target', 'gateway:8080']), /^--target: expected an http/);
    assert.match(refusal(['--timeout', '0']), /^--timeout: /);
    assert.match(refusal([], { LOAD_RPS: 'lots' }), /^LOAD_RPS \(--rps\): expected a number.*got 'lots'/);
    assert.match(refusal(['--speed', '3']), /Unknown option '--speed'/);
    assert.match(refusal(['extra']), /positional/);
  });

  it('answers --help with nothing to run', () => {
    assert.equal(readConfig(['--help'], {}), undefined);
    assert.equal(readConfig(['-h'], {}), undefined);
  });
});
