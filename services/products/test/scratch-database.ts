import { z } from 'zod';
import pg from 'pg';
import { loadConfig, postgresConfig, type PostgresConfig } from '@glassbox/service-kit';
import { localDependencies } from '@glassbox/service-kit/testing';

/**
 * A database of its own for one test file, on the PostgreSQL that
 * `sh scripts/deps.sh start postgres` runs. Other suites use the same server
 * at the same time; a fresh database keeps their `products` rows and ours apart.
 * The DB_* variables come from `sh scripts/deps.sh run` (see localDependencies).
 */
export interface ScratchDatabase {
  config: PostgresConfig;
  /** The DB_* variables that point a service at it. */
  environment: NodeJS.ProcessEnv;
  drop(): Promise<void>;
}

export async function createScratchDatabase(purpose: string): Promise<ScratchDatabase> {
  const server = loadConfig(z.object(postgresConfig), localDependencies().postgres);
  const name = `glassbox_${purpose}_${process.pid}_${Date.now()}`;
  await asAdmin(server, `CREATE DATABASE ${name}`);
  const config = { ...server, DB_NAME: name, DB_POOL_SIZE: 20 };
  return {
    config,
    environment: Object.fromEntries(Object.entries(config).map(([key, value]) => [key, String(value)])),
    drop: () => asAdmin(server, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

async function asAdmin(server: PostgresConfig, statement: string): Promise<void> {
  const client = new pg.Client({
    host: server.DB_HOST,
    port: server.DB_PORT,
    user: server.DB_USER,
    password: server.DB_PASSWORD,
    database: server.DB_NAME,
    connectionTimeoutMillis: 5_000,
    query_timeout: 10_000,
  });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
