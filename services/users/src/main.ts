/**
 * The users service's process: read config, build the repository, the logic
 * and the routes, start. Wiring only; every decision lives in the files it
 * names. Started as `node --require @glassbox/telemetry/register dist/src/main.js`.
 */
import { createLogger, type Logger } from '@glassbox/telemetry';
import {
  createApp,
  createHttpService,
  FaultSwitches,
  openStore,
  runService,
  type Service,
  type Store,
} from '@glassbox/service-kit';
import { usersRoutes } from './app';
import { readConfig, type UsersConfig } from './config';
import { InMemoryUserRepository, PostgresUserRepository, type UserRepository } from './repository';
import { USERS_FAULTS, UserDirectory } from './users';

/** `store` replaces the configured one: tests use it to stage failures. */
export async function buildUsersService(
  config: UsersConfig,
  logger: Logger,
  store?: Store<UserRepository>,
): Promise<Service> {
  const { repository, close } =
    store ??
    (await openStore<UserRepository>(config.postgres, logger, {
      memory: () => new InMemoryUserRepository(),
      postgres: (pool) => new PostgresUserRepository(pool),
    }));
  const faults = new FaultSwitches(USERS_FAULTS, logger);
  const app = createApp({
    logger,
    routes: usersRoutes(new UserDirectory(repository, faults)),
    faults,
    adminToken: config.ADMIN_TOKEN,
    readiness: [{ name: config.STORAGE, check: () => repository.ping() }],
  });
  return createHttpService({
    app,
    logger,
    config,
    closers: [close],
  });
}

if (require.main === module) {
  runService('users', async () => {
    const config = readConfig();
    const logger = createLogger({ name: 'users' });
    return { service: await buildUsersService(config, logger), logger };
  });
}
