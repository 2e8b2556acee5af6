import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';

/** glassbox's own preload; a mode may name another (the stock zero-code setup). */
export const GLASSBOX_PRELOAD = require.resolve('@glassbox/telemetry/register');

export interface Started {
  child: ChildProcess;
  /** Milliseconds from spawn to the first 200 of `readyPath`. */
  coldStartMs: number;
}

export interface StartOptions {
  /** What node --require's: glassbox's preload, or another. */
  preload: string;
  /** Node's flags before the preload, as production passes them (NODE_OPTIONS). */
  nodeFlags: string[];
  /** The CPU the process is pinned to (taskset), if any. */
  cpu?: number;
}

/**
 * Starts a built service as production does (node --require the preload) and
 * waits for a 200 on `readyUrl`. The program is the package's own entry point
 * (its `exports`), services/<name>/dist/src/main.js. taskset runs it on one
 * CPU when asked: it execs the program, so the pid is the service's own.
 */
export async function startService(
  service: 'users' | 'gateway',
  env: Record<string, string>,
  readyUrl: string,
  options: StartOptions,
): Promise<Started> {
  const started = performance.now();
  const node = [
    process.execPath,
    ...options.nodeFlags,
    '--require',
    options.preload,
    require.resolve(`@glassbox/${service}`),
  ];
  const [command, ...args] = options.cpu === undefined ? node : ['taskset', '-c', String(options.cpu), ...node];
  const child = spawn(command!, args, {
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', STORAGE: 'memory', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${service} exited during start-up: ${stderr}`);
    try {
      const response = await fetch(readyUrl, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    if (performance.now() - started > 30_000)
      throw new Error(`${service} did not answer 200 at ${readyUrl} within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return { child, coldStartMs: performance.now() - started };
}

export async function stopService(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
}

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/**
 * CPU time (user + system) a process has used so far, in microseconds, from
 * /proc/<pid>/stat (fields 14 and 15, counted after the command name, which
 * may itself hold spaces). Its resolution is one clock tick (10 ms): fine over
 * a measurement of seconds at thousands of requests per second.
 */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS_PER_SECOND;
}

/** The CPUs a process may run on (taskset's list form, e.g. "0,1" or "0-1"), to restore later. */
export function affinityOf(pid: number): string {
  return (
    execFileSync('taskset', ['-pc', String(pid)], { encoding: 'utf8' })
      .trim()
      .split(': ')
      .pop() ?? ''
  );
}

/** Every thread of the process (-a): a Go or Node process runs many. */
export function pin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-pc', cpus, String(pid)], { stdio: 'ignore' });
}
