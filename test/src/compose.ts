/**
 * docker-compose.yml and the Dockerfile as data, for the tests that check
 * them (test/config/compose.test.ts, dockerfile.test.ts) and the one that
 * builds the image's contents and runs a service the way compose would
 * (test/integration/image-contents.integration.ts). No Docker is needed: the
 * files are read, never run. deploy/ports.env is read by ports.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerfileParser, ModifiableInstruction, type Instruction } from 'dockerfile-ast';
import { parse } from 'yaml';

export const ROOT = join(__dirname, '..', '..', '..');
export const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
export const DOCKERFILE = join(ROOT, 'Dockerfile');

/** The glassbox services: one image, the telemetry preload, a config schema each. */
export const INSTRUMENTED_SERVICES = ['gateway', 'users', 'products', 'orders', 'notifications'] as const;
export type InstrumentedService = (typeof INSTRUMENTED_SERVICES)[number];

export interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string; dockerfile_inline?: string };
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: Array<string | { host_ip?: string; published?: string | number; target: number }>;
  volumes?: Array<string | { type: string; source?: string; target: string }>;
  depends_on?: string[] | Record<string, { condition: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  mem_limit?: string | number;
  deploy?: { resources?: { limits?: { memory?: string | number } } };
  restart?: string;
}

export interface ComposeFile {
  name?: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** The compose file as Compose sees it: YAML merge keys (`<<: *anchor`) applied. */
export function loadCompose(): ComposeFile {
  return parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as ComposeFile;
}

/**
 * A service's environment as its process receives it: strings, in either of
 * Compose's two notations. `${...}` interpolation is not resolved: the
 * services' environments use none (a test checks it).
 */
export function serviceEnvironment(service: ComposeService): Record<string, string> {
  const environment: Record<string, string> = {};
  if (Array.isArray(service.environment)) {
    for (const entry of service.environment) {
      const [name, ...value] = entry.split('=');
      environment[name!] = value.join('=');
    }
  } else {
    for (const [name, value] of Object.entries(service.environment ?? {})) {
      environment[name] = value === null ? '' : String(value);
    }
  }
  return environment;
}

/** The dependencies of a service and the condition each waits for. */
export function dependencies(service: ComposeService): Record<string, string> {
  if (Array.isArray(service.depends_on)) {
    // The short form means service_started: no health condition at all.
    return Object.fromEntries(service.depends_on.map((name) => [name, 'service_started']));
  }
  return Object.fromEntries(Object.entries(service.depends_on ?? {}).map(([name, d]) => [name, d.condition]));
}

const UNITS: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** A Compose byte value ("192m", "1g", "512mb", 1048576) in bytes. */
export function parseBytes(value: string | number): number {
  if (typeof value === 'number') return value;
  const match = /^(\d+(?:\.\d+)?)\s*([bkmg])?b?$/i.exec(value.trim());
  if (!match) throw new Error(`not a byte value: ${value}`);
  return Math.round(Number(match[1]) * UNITS[(match[2] ?? 'b').toLowerCase()]!);
}

/** The memory limit of a service in bytes, from mem_limit or deploy.resources.limits.memory. */
export function memoryLimit(service: ComposeService): number | undefined {
  const value = service.mem_limit ?? service.deploy?.resources?.limits?.memory;
  return value === undefined ? undefined : parseBytes(value);
}

export interface PublishedPort {
  hostIp: string | undefined;
  published: number;
  target: number;
}

/** The ports a service publishes, from the short ("127.0.0.1:8080:8080") or the long syntax. */
export function publishedPorts(service: ComposeService): PublishedPort[] {
  return (service.ports ?? []).map((port) => {
    if (typeof port === 'object') {
      return { hostIp: port.host_ip, published: Number(port.published), target: port.target };
    }
    const parts = String(port).split(':');
    const target = Number(parts.pop());
    const published = Number(parts.pop() ?? target);
    return { hostIp: parts.pop(), published, target };
  });
}

/** Services that run once and exit: some dependent waits for them with service_completed_successfully. */
export function oneShotServices(compose: ComposeFile): Set<string> {
  const oneShots = new Set<string>();
  for (const service of Object.values(compose.services)) {
    for (const [name, condition] of Object.entries(dependencies(service))) {
      if (condition === 'service_completed_successfully') oneShots.add(name);
    }
  }
  return oneShots;
}

/** PostgreSQL numbers its releases MAJOR.MINOR since version 10: 15.19 is an exact version. */
const TWO_PART_VERSIONS = new Set(['postgres']);

/** An image reference split into repository and tag (a digest pins it whatever the tag). */
export function splitImage(image: string): { repository: string; tag: string | undefined; digest: boolean } {
  const [reference, digest] = image.split('@');
  const slash = reference!.lastIndexOf('/');
  const colon = reference!.lastIndexOf(':');
  if (colon > slash)
    return { repository: reference!.slice(0, colon), tag: reference!.slice(colon + 1), digest: !!digest };
  return { repository: reference!, tag: undefined, digest: !!digest };
}

/** Why an image reference is not pinned to an exact version, or undefined when it is. */
export function imagePinProblem(image: string): string | undefined {
  const { repository, tag, digest } = splitImage(image);
  if (digest) return undefined;
  if (tag === undefined) return 'no tag (that is :latest)';
  const parts = TWO_PART_VERSIONS.has(repository.split('/').pop()!) ? 2 : 3;
  const exact = new RegExp(`^v?\\d+(\\.\\d+){${parts - 1}}(-[0-9A-Za-z][0-9A-Za-z.-]*)?$`);
  return exact.test(tag) ? undefined : `tag "${tag}" is not an exact ${parts}-part version`;
}

/** One stage of the Dockerfile: its FROM and the instructions up to the next FROM. */
export interface Stage {
  /** The `AS name`, or null for an unnamed stage (the final one, here). */
  name: string | null;
  image: string;
  instructions: Instruction[];
}

export function dockerfileStages(): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of DockerfileParser.parse(readFileSync(DOCKERFILE, 'utf8')).getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      const [image, as, name] = (instruction.getArgumentsContent() ?? '').split(/\s+/);
      stages.push({ name: as?.toUpperCase() === 'AS' ? name! : null, image: image!, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

/** The instructions of a stage with this keyword (RUN, COPY...). */
export function instructions(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((instruction) => instruction.getKeyword() === keyword);
}

/** The value of a flag (--from=build -> "build"), or undefined. */
export function flag(instruction: Instruction, name: string): string | undefined {
  const flags = instruction instanceof ModifiableInstruction ? instruction.getFlags() : [];
  return flags.find((f) => f.getName() === name)?.getValue() ?? undefined;
}

/** The arguments of an exec-form (JSON array) instruction, or undefined for the shell form. */
export function execForm(text: string | null): string[] | undefined {
  try {
    const value: unknown = JSON.parse(text ?? '');
    return Array.isArray(value) && value.every((item) => typeof item === 'string') ? value : undefined;
  } catch {
    return undefined;
  }
}
