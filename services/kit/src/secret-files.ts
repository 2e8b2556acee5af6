import { readFileSync } from 'node:fs';

/**
 * Secrets arrive as files, not as values: the `_FILE` convention of the
 * official postgres and mysql images (Grafana spells it `__FILE`), made for
 * Docker and Kubernetes secrets. NAME_FILE=/run/secrets/... says where the
 * value of NAME is kept; the variable holds a path, which is no secret.
 *
 * Why bother: a value in the environment is copied into every child process,
 * shown by `docker inspect` and `docker compose config`, and easily ends up in
 * a crash report or a support bundle. A file is mounted into the one container
 * that needs it, readable by one user, and never printed by accident.
 *
 * For each NAME of `names` (the variables a config schema reads), a set
 * NAME_FILE sets NAME to the file's content, trailing newlines dropped (as
 * `echo secret > file` leaves one), and is itself removed from the result, so
 * reading the result again changes nothing. Other *_FILE variables are not
 * read. The files are read once, at start; a service picks up a new secret
 * when it restarts.
 *
 * Refused, naming the variable and the path but never the content: NAME and
 * NAME_FILE both set (which one would win is a guess), a file that can not be
 * read, an empty file (a secret that was never written).
 */
export function readSecretFiles(
  environment: NodeJS.ProcessEnv,
  names: Iterable<string>,
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): NodeJS.ProcessEnv {
  const resolved: NodeJS.ProcessEnv = { ...environment };
  const problems: string[] = [];
  for (const name of names) {
    const path = environment[`${name}_FILE`];
    if (path === undefined || path === '') continue;
    if (environment[name] !== undefined) {
      problems.push(`${name}_FILE: ${name} is set as well; give one or the other`);
      continue;
    }
    let content: string;
    try {
      content = read(path).replace(/(\r?\n)+$/, '');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      problems.push(`${name}_FILE: could not read ${path} (${code})`);
      continue;
    }
    if (content === '') {
      problems.push(`${name}_FILE: ${path} is empty`);
    } else {
      resolved[name] = content;
      delete resolved[`${name}_FILE`];
    }
  }
  if (problems.length > 0) throw new SecretFileError(problems);
  return resolved;
}

/** Worded like the kit's ConfigError, so a bad secret file reads like any bad variable at start. */
export class SecretFileError extends Error {
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((problem) => `  ${problem}`).join('\n')}`);
    this.name = 'SecretFileError';
  }
}
