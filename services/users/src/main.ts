/**
 * The users service's process: read config, build the repository, the logic
 * and the routes, start. Wiring only; every decision lives in the files it
 * names. Started as `node --require @glassbox/telemetry/register dist/src/main.js`.
 */
import { createLogger } from '@glassbox/telemetry';
import { createApp, createHttpService, createPool, runService, type Service } from '@glassbox/service-kit';
import type { Logger } from '@glassbox/telemetry';
import { usersRoutes } from './app';
import { readConfig, type UsersConfig } from './config';
import { InMemoryUserRepository, PostgresUserRepository, type UserRepository } from './repository';
import { UserDirectory } from './users';

export async function buildUsersService(config: UsersConfig, logger: Logger): Promise<Service> {
  let repository: UserRepository;
  const closers: Array<() => Promise<void>> = [];
  if (config.postgres) {
    const pool = createPool(config.postgres, logger);
    const postgres = new PostgresUserRepository(pool);
    await postgres.migrate();
    repository = postgres;
    closers.push(() => pool.end());
  } else {
    repository = new InMemoryUserRepository();
  }
  const app = createApp({
    logger,
    routes: usersRoutes(new UserDirectory(repository)),
    readiness: [{ name: config.STORAGE, check: () => repository.ping() }],
  });
  return createHttpService({
    app,
    logger,
    host: config.HOST,
    port: config.PORT,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    closers,
  });
}

if (require.main === module) {
  runService('users', async () => {
    const config = readConfig();
    const logger = createLogger({ name: 'users' });
    return { service: await buildUsersService(config, logger), logger };
  });
}
