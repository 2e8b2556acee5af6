/**
 * deploy/ports.env, the one table of host ports, as the tests read it. The
 * native stack's scripts (stack.sh, deps.sh, scenario.sh) source the same
 * file, and compose.test.ts checks docker-compose.yml against it, so no port
 * number is written twice.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const PORTS_FILE = join(__dirname, '..', '..', '..', 'deploy', 'ports.env');

/** Every NAME=port line of deploy/ports.env; comments and blank lines ignored. */
export function readPortsEnv(): Record<string, number> {
  const ports: Record<string, number> = {};
  for (const line of readFileSync(PORTS_FILE, 'utf8').split('\n')) {
    const match = /^\s*([A-Z][A-Z0-9_]*)=(\d+)\s*$/.exec(line);
    if (match) ports[match[1]!] = Number(match[2]);
  }
  return ports;
}

let table: Record<string, number> | undefined;

/** One port of the table. A name it does not hold throws, naming the file, instead of becoming NaN later. */
export function port(name: string): number {
  table ??= readPortsEnv();
  const value = table[name];
  if (value === undefined) throw new Error(`deploy/ports.env has no ${name}`);
  return value;
}
