/**
 * The users service's process. Wiring only, in the order every glassbox
 * service's main.ts reads: its dependencies, its parts, createService.
 * Started as `node --require @glassbox/telemetry/register dist/src/main.js`.
 */
import { createHttpMetrics, type Logger } from '@glassbox/telemetry';
import {
  createApp,
  createService,
  FaultSwitches,
  httpListener,
  managementListener,
  openStore,
  runService,
  type Service,
  type Store,
} from '@glassbox/service-kit';
import { usersRoutes } from './app';
import { readConfig, type UsersConfig } from './config';
import { InMemoryUserRepository, PostgresUserRepository } from './repository';
import { USERS_FAULTS, UserDirectory, type UserRepository } from './users';

/** What the service needs from outside; a test may pass any of them in `overrides`. */
export interface UsersDependencies {
  store: Store<UserRepository>;
}

export async function buildUsersService(
  config: UsersConfig,
  logger: Logger,
  overrides: Partial<UsersDependencies> = {},
): Promise<Service> {
  const store =
    overrides.store ??
    (await openStore<UserRepository>(config.postgres, logger, {
      memory: () => new InMemoryUserRepository(),
      postgres: (pool) => new PostgresUserRepository(pool),
    }));

  const metrics = createHttpMetrics();
  const faults = new FaultSwitches(USERS_FAULTS, logger);
  const app = createApp({ logger, metrics, routes: usersRoutes(new UserDirectory(store.repository, faults)) });

  const readiness = [{ name: config.STORAGE, check: () => store.repository.ping() }];

  return createService({
    logger,
    config,
    listeners: [
      httpListener({ app, logger, config }),
      managementListener({ logger, config, metrics, faults, readiness }),
    ],
    closers: [store.close],
  });
}

if (require.main === module) runService('users', readConfig, buildUsersService);
