import type { Logger } from '@glassbox/telemetry';
import type { PostgresSettings } from './config';
import { createPool } from './postgres';

/** A service's repository and how to let go of what it holds. */
export interface Store<R> {
  repository: R;
  close: () => Promise<void>;
}

/**
 * Opens a service's store as its config says: in memory when there are no
 * PostgreSQL settings (STORAGE=memory), otherwise a pool, the repository on
 * it, and its migration run before the service takes its first request.
 */
export async function openStore<R>(
  postgres: PostgresSettings | undefined,
  logger: Logger,
  build: { memory: () => R; postgres: (pool: ReturnType<typeof createPool>) => R & { migrate(): Promise<void> } },
): Promise<Store<R>> {
  if (!postgres) return { repository: build.memory(), close: () => Promise.resolve() };
  const pool = createPool(postgres, logger);
  const repository = build.postgres(pool);
  try {
    await repository.migrate();
  } catch (error) {
    await pool.end();
    throw error;
  }
  return { repository, close: () => pool.end() };
}
