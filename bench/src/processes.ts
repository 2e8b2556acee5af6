import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';

const PRELOAD = require.resolve('@glassbox/telemetry/register');

export interface Started {
  child: ChildProcess;
  /** Milliseconds from spawn to the first 200 of `readyPath`. */
  coldStartMs: number;
}

/**
 * Starts a built service as production does (node --require the preload) and
 * waits for a 200 on `readyUrl`. The program is the package's own entry point
 * (its `exports`), services/<name>/dist/src/main.js.
 */
export async function startService(
  service: 'users' | 'gateway',
  env: Record<string, string>,
  readyUrl: string,
): Promise<Started> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--require', PRELOAD, require.resolve(`@glassbox/${service}`)], {
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

export function rssMiB(child: ChildProcess): number {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
}
