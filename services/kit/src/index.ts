export { FaultSwitches, faultRoutes } from './faults';
export { createApp, createManagementApp, type AppOptions, type ManagementOptions } from './app';
export type { AppState } from './state';
export { CLIENT_CLOSED_REQUEST, MAX_BODY_BYTES, MAX_JSON_DEPTH } from './body';
export {
  ConfigError,
  env,
  httpServerConfig,
  loadConfig,
  loadServiceConfig,
  postgresConfig,
  storageConfig,
  type PostgresSettings,
} from './config';
export {
  AppError,
  badRequest,
  conflict,
  dependencyUnavailable,
  methodNotAllowed,
  notFound,
  unprocessable,
  upstreamTimeout,
  upstreamUnreachable,
  type FieldProblem,
} from './errors';
export {
  createPool,
  inTransaction,
  migrate,
  PostgresRepository,
  queryRows,
  translatePgError,
  type PostgresConfig,
} from './postgres';
export { checkReadiness, withTimeout, type ReadinessCheck, type ReadinessReport } from './readiness';
export { openStore, type Store } from './store';
export {
  createService,
  drainWithin,
  runService,
  type Listener,
  type Part,
  type Service,
  type ServiceOptions,
} from './service';
export {
  httpListener,
  managementListener,
  type HttpListenerOptions,
  type ManagementListenerOptions,
} from './http-listener';
export { idParam, MAX_PAGE_SIZE, pageQuery, ROW_ID_MAX, rowId, rowIdText, singleLineText, type Page } from './inputs';
export { parseInput } from './validation';
export {
  DEAD_LETTER_EXCHANGE,
  EVENTS_EXCHANGE,
  NOTIFICATIONS_ORDER_CREATED,
  ORDER_CREATED,
  newOrderCreated,
  orderCreatedSchema,
  type ConsumerQueues,
  type OrderCreated,
} from './events';
export {
  ATTEMPTS_HEADER,
  RabbitMq,
  attemptsOf,
  declareTopology,
  rabbitMqConfig,
  type Delivery,
  type Handler,
  type RabbitMqOptions,
  type Verdict,
} from './rabbitmq';
