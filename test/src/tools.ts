/**
 * The real tools that the config tests run (helm, kubernetes-validate, the
 * native collector build): found where the project's scripts install them,
 * or where a variable points. A tool that is missing FAILS the test with the
 * command that installs it: a config check that skips itself would pass on
 * every broken file.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..', '..');

export interface Run {
  code: number;
  stdout: string;
  /** stdout and stderr together, for failure messages. */
  output: string;
}

/** Runs a program from the repository root; never rejects (the exit code says how it went). */
export function run(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: ROOT, env, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      const spawnFailure = error && typeof error.code !== 'number' ? `${error.message}\n` : '';
      resolve({ code, stdout, output: `${spawnFailure}${stdout}${stderr}` });
    });
  });
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface Tool {
  /** What the tool is, for messages ("helm 3"). */
  what: string;
  /** The variable that may point at it, also the name the script's `paths` prints. */
  variable: string;
  /** The script (under scripts/) whose `paths` command prints `export <variable>='...'`. */
  script: string;
  /** How to get it, for the failure message. */
  install: string;
}

/** Resolves a tool: $<variable>, else the path the script prints. Throws, saying how to install it, when it is missing. */
export async function findTool(tool: Tool): Promise<string> {
  const fromEnv = process.env[tool.variable];
  let candidate = fromEnv;
  if (!candidate) {
    const paths = await run('sh', [join('scripts', tool.script), 'paths']);
    candidate = new RegExp(`^export ${tool.variable}=(['"]?)(.+)\\1$`, 'm').exec(paths.stdout)?.[2];
  }
  if (!candidate || !isExecutable(candidate)) {
    const where = fromEnv
      ? `${tool.variable}=${fromEnv} is not an executable file. `
      : `${tool.what} is not installed. `;
    throw new Error(
      `${where}Get it with \`${tool.install}\` (cached outside the repository), or set ${tool.variable}.`,
    );
  }
  return candidate;
}

/** A finder that looks once; every test that needs the tool fails with the same message when it is missing. */
export function toolOnce(tool: Tool): () => Promise<string> {
  let lookup: Promise<string> | undefined;
  return () => (lookup ??= findTool(tool));
}

export const HELM: Tool = {
  what: 'helm 3',
  variable: 'HELM_BIN',
  script: 'backends.sh',
  install: 'sh scripts/backends.sh install helm',
};

export const KUBERNETES_VALIDATE: Tool = {
  what: 'kubernetes-validate',
  variable: 'KUBERNETES_VALIDATE_BIN',
  script: 'validators.sh',
  install: 'sh scripts/validators.sh install',
};

export const OTELCOL: Tool = {
  what: "the native stack's collector build",
  variable: 'OTELCOL_BIN',
  script: 'backends.sh',
  install: 'sh scripts/backends.sh install otelcol',
};

export const PROMTOOL: Tool = {
  what: 'promtool from Prometheus 3',
  variable: 'PROMTOOL_BIN',
  script: 'backends.sh',
  install: 'sh scripts/backends.sh install prometheus',
};

/** The name=value lines a script's `versions` command prints. */
export async function versions(script: string): Promise<Record<string, string>> {
  const result = await run('sh', [join('scripts', script), 'versions']);
  if (result.code !== 0) throw new Error(`sh scripts/${script} versions failed:\n${result.output}`);
  return Object.fromEntries(
    result.stdout
      .trim()
      .split('\n')
      .map((line) => line.split('=') as [string, string]),
  );
}
