import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startedPorts } from '@glassbox/service-kit/testing';
import { createProductsClient, GrpcStatus } from '../src/client';
import { grpcFailure } from './grpc-failure';

/** Reads the child's JSON log lines until it says it started, and which port each listener took. */
async function listeningPorts(child: ChildProcessWithoutNullStreams): Promise<{ http: number; grpc: number }> {
  for await (const line of createInterface({ input: child.stdout })) {
    const ports = startedPorts(line);
    if (ports?.http && ports.grpc) return { http: ports.http, grpc: ports.grpc };
  }
  throw new Error('the process ended before both listeners were up');
}

describe('the products process', () => {
  it('started as production starts it, serves HTTP and gRPC, and on SIGTERM stops both and exits 0', async () => {
    const main = join(__dirname, '..', 'src', 'main.js');
    const child = spawn(process.execPath, ['--require', '@glassbox/telemetry/register', main], {
      env: {
        PATH: process.env.PATH,
        STORAGE: 'memory',
        HOST: '127.0.0.1',
        PORT: '0',
        GRPC_PORT: '0',
        MANAGEMENT_PORT: '0',
        OTEL_SDK_DISABLED: 'true',
      },
      timeout: 15_000,
    });
    try {
      const ports = await listeningPorts(child);
      const health = await fetch(`http://127.0.0.1:${ports.http}/healthz`, { signal: AbortSignal.timeout(5_000) });
      assert.equal(health.status, 200);

      const products = createProductsClient(`127.0.0.1:${ports.grpc}`, { deadlineMs: 5_000 });
      try {
        await assert.rejects(products.getProduct(1), (error) => grpcFailure(error).code === GrpcStatus.NOT_FOUND);
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        assert.deepEqual(await exited, [0, null]);
        await assert.rejects(products.getProduct(1), (error) => grpcFailure(error).code === GrpcStatus.UNAVAILABLE);
      } finally {
        products.close();
      }
    } finally {
      child.kill('SIGKILL');
    }
  });
});
