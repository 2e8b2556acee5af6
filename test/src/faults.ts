/**
 * Switching a fault scenario (docs/scenarios/) on and off from a test, as
 * `npm run scenario` does: PUT /admin/faults/<name> on the service's
 * management port, with the admin token. The native stack writes the token to
 * .stack/admin-token; under compose, ADMIN_TOKEN gives it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { call } from '@glassbox/service-kit/testing';
import { endpoints } from './endpoints';

export function adminToken(): string {
  if (process.env.ADMIN_TOKEN) return process.env.ADMIN_TOKEN;
  try {
    return readFileSync(join(__dirname, '..', '..', '..', '.stack', 'admin-token'), 'utf8').trim();
  } catch {
    throw new Error('set ADMIN_TOKEN (compose) or start the native stack, which writes .stack/admin-token');
  }
}

export async function fault(service: keyof typeof endpoints.management, name: string, enabled: boolean): Promise<void> {
  const reply = await call(endpoints.management[service], 'PUT', `/admin/faults/${name}`, {
    body: { enabled },
    headers: { authorization: `Bearer ${adminToken()}` },
  });
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
}

/** Runs `work` with the fault on, and switches it off again whatever happens. */
export async function withFault<T>(
  service: keyof typeof endpoints.management,
  name: string,
  work: () => Promise<T>,
): Promise<T> {
  await fault(service, name, true);
  try {
    return await work();
  } finally {
    await fault(service, name, false);
  }
}
