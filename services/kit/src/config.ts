import { z } from 'zod';
import { readSecretFiles } from './secret-files';
import { describeIssues } from './validation';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Reads a service's configuration from the environment and validates it once,
 * at start. A bad or missing variable stops the service with a message that
 * names it ("DB_PORT: expected a number"), instead of failing later, far away.
 */
export function loadConfig<T extends z.ZodObject>(schema: T, env: NodeJS.ProcessEnv = process.env): z.output<T> {
  // NAME_FILE variables (Docker and Kubernetes secrets) are read into NAME first: secrets stay off the environment.
  const result = schema.safeParse(readSecretFiles(env, Object.keys(schema.shape)));
  if (result.success) return result.data;
  const lines = describeIssues(result.error.issues, '').map((p) => `  ${p.field}: ${p.message}`);
  throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
}

/** Environment values are strings; these turn them into checked values. */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  url: (fallback: string) => z.url({ protocol: /^https?$/ }).default(fallback),
  text: (fallback: string) => z.string().min(1).default(fallback),
};

/** The variables every HTTP service reads. */
export const httpServerConfig = {
  HOST: env.text('0.0.0.0'),
  /**
   * The whole of a graceful stop after SIGTERM: draining listeners, stopping
   * workers, closing pools, flushing telemetry. Below the orchestrator's grace
   * period (compose's stop_grace_period is 15 s), so the process exits by itself.
   */
  SHUTDOWN_TIMEOUT_MS: env.positiveInt(10_000),
  /**
   * Opens /admin/faults (the fault scenarios) to callers that present it as a
   * bearer token. Unset: those routes do not exist. Long enough to not be guessed.
   */
  ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
};

/**
 * PostgreSQL, as the compose stack names it. The password has no default on
 * purpose: a service that would store data must be told where, explicitly.
 */
export const postgresConfig = {
  DB_HOST: env.text('postgres'),
  DB_PORT: env.port(5432),
  DB_USER: env.text('glassbox'),
  DB_PASSWORD: z.string({ error: 'required (the PostgreSQL password)' }).min(1),
  DB_NAME: env.text('glassbox'),
  DB_POOL_SIZE: env.positiveInt(10),
  /** Upper bound for one SQL statement; every external call has a timeout. */
  DB_STATEMENT_TIMEOUT_MS: env.positiveInt(5_000),
};

/** Where a service keeps its data. `memory` runs without a database: for a first look, and for fast tests. */
export const storageConfig = {
  STORAGE: z.enum(['postgres', 'memory']).default('postgres'),
};

export type PostgresSettings = z.output<z.ZodObject<typeof postgresConfig>>;

/**
 * loadConfig for a service with storageConfig in its schema: the PostgreSQL
 * variables are read (and required) only when STORAGE is postgres.
 */
export function loadServiceConfig<T extends z.ZodObject<typeof storageConfig & z.ZodRawShape>>(
  schema: T,
  environment: NodeJS.ProcessEnv = process.env,
): z.output<T> & { postgres?: PostgresSettings } {
  const config: z.output<T> & { postgres?: PostgresSettings } = loadConfig(schema, environment);
  if (config.STORAGE === 'postgres') config.postgres = loadConfig(z.object(postgresConfig), environment);
  return config;
}
