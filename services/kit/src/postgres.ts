import pg from 'pg';
import type { Logger } from '@glassbox/telemetry';
import { AppError, badRequest, dependencyUnavailable } from './errors';

export interface PostgresConfig {
  DB_HOST: string;
  DB_PORT: number;
  DB_USER: string;
  DB_PASSWORD: string;
  DB_NAME: string;
  DB_POOL_SIZE: number;
  DB_STATEMENT_TIMEOUT_MS: number;
}

/**
 * A pg pool with every wait bounded: connecting, each statement, and the
 * client-side query wait. A database outage then shows up as a quick 503,
 * never as a request that hangs.
 */
export function createPool(config: PostgresConfig, logger: Logger): pg.Pool {
  const pool = new pg.Pool({
    host: config.DB_HOST,
    port: config.DB_PORT,
    user: config.DB_USER,
    password: config.DB_PASSWORD,
    database: config.DB_NAME,
    max: config.DB_POOL_SIZE,
    connectionTimeoutMillis: 2_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: config.DB_STATEMENT_TIMEOUT_MS,
    query_timeout: config.DB_STATEMENT_TIMEOUT_MS + 1_000,
  });
  // An idle client whose server went away emits 'error' on the pool; without a
  // listener that would crash the process. The next query reconnects.
  pool.on('error', (error) => logger.warn({ err: error }, 'idle PostgreSQL connection lost'));
  return pool;
}

/**
 * Runs `statements` once per database, however many replicas start at once:
 * a transaction-scoped advisory lock serialises them, and every statement is
 * written to be idempotent (IF NOT EXISTS).
 */
export function migrate(pool: pg.Pool, name: string, statements: string[]): Promise<void> {
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`glassbox:${name}`]);
    for (const statement of statements) await client.query(statement);
  });
}

/**
 * One statement, its rows back. A failure comes back translated: an outage
 * as a 503, a unique violation as whatever `onUniqueViolation` makes.
 */
export async function queryRows<R extends pg.QueryResultRow>(
  pool: pg.Pool,
  text: string,
  values: unknown[] = [],
  onUniqueViolation?: () => AppError,
): Promise<R[]> {
  try {
    return (await pool.query<R>(text, values)).rows;
  } catch (error) {
    throw translatePgError(error, onUniqueViolation);
  }
}

/**
 * BEGIN, `work`, COMMIT on one pooled connection; ROLLBACK if `work` throws.
 * Errors come back translated, as from queryRows.
 */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw translatePgError(error);
  }
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw translatePgError(error);
  } finally {
    client.release();
  }
}

/** SQLSTATE classes and client errors that mean "the database is not there", not "your query is wrong". */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '08000',
  '08003',
  '08006',
  '08001',
  '08004',
  '57014',
]);

/**
 * Turns a pg error into what the caller should see: an outage becomes 503,
 * a unique violation becomes whatever `onUniqueViolation` says (409 usually),
 * a data exception (SQLSTATE class 22: a value the column can not hold, a
 * byte sequence it refuses) becomes 400, as it came from the request, and
 * anything else stays a bug (500). Validation should catch such values first;
 * this is the net under it, so no input can make the service answer 500.
 */
export function translatePgError(error: unknown, onUniqueViolation?: () => AppError): unknown {
  if (error instanceof AppError) return error;
  const { code, message } = error as { code?: string; message?: string };
  if (code === '23505' && onUniqueViolation) return onUniqueViolation();
  // PostgreSQL's message names the type and the problem, never the statement.
  if (code?.startsWith('22')) return badRequest(`a value in the request can not be stored: ${message ?? code}`);
  if ((code && UNAVAILABLE_CODES.has(code)) || isConnectionFailure(message)) {
    return dependencyUnavailable('PostgreSQL', error);
  }
  return error;
}

function isConnectionFailure(message: string | undefined): boolean {
  if (!message) return false;
  return /timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED|Query read timeout|Client has encountered a connection error/i.test(
    message,
  );
}

/**
 * What every PostgreSQL repository starts with: its pool, its schema run at
 * start, the readiness ping, and queries whose failures come back translated.
 * A service's repository extends it and adds only its own statements.
 */
export abstract class PostgresRepository {
  constructor(
    protected readonly pool: pg.Pool,
    private readonly schema: { name: string; statements: string[] },
  ) {}

  /** Creates the tables if they are not there; safe to run at every start. */
  migrate(): Promise<void> {
    return migrate(this.pool, this.schema.name, this.schema.statements);
  }

  /** Resolves when the database answers: what /readyz asks. */
  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  protected query<R extends pg.QueryResultRow>(
    text: string,
    values: unknown[] = [],
    onUniqueViolation?: () => AppError,
  ): Promise<R[]> {
    return queryRows<R>(this.pool, text, values, onUniqueViolation);
  }

  protected transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, work);
  }
}
