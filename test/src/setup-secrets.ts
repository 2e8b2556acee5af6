/**
 * docker-compose.yml's `setup` service, run here without Docker: its own
 * script, taken from the file, with `$$` unescaped as compose would and every
 * volume it mounts moved into a folder of the caller's. `chown` is stood in
 * for (a test need not run as root): it records which user each file was
 * given to. What setup writes can then be checked against what each
 * container is told to read, by test/config/secrets.test.ts and
 * compose.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import type { ComposeFile, ComposeService } from './compose';

/** Named-volume mounts of a service: [volume, target]. */
export function volumeMounts(service: ComposeService): Array<[string, string]> {
  return (service.volumes ?? [])
    .map((volume) => (typeof volume === 'string' ? volume.split(':') : [volume.source ?? '', volume.target]))
    .filter(([source]) => source !== undefined && source !== '' && !source.startsWith('.') && !isAbsolute(source))
    .map(([source, target]) => [source!, target!]);
}

export interface SetupRun {
  /** Where each named volume setup mounts ended up. */
  volumes: Record<string, string>;
  /** The user id each file was handed to (chown), by its path here. */
  owners: Map<string, string>;
  /** The script's output, for a failure message. */
  output: string;
}

/**
 * Runs setup's script with its volumes in `root` (kept there, so a second run
 * sees what the first one made, as a restart would). `environment` is what
 * setup's own environment would hold, GRAFANA_ADMIN_PASSWORD for instance.
 */
export function runSetup(compose: ComposeFile, root: string, environment: Record<string, string> = {}): SetupRun {
  const setup = compose.services.setup!;
  const [shell, flags, script] = setup.command as string[];
  if (shell !== 'sh' || !script) throw new Error('setup is expected to run `sh -euc <script>`');

  // Each volume where setup mounts it, under `root` instead of `/`; the script's
  // paths under those top folders (/secrets/..., /probe/...) follow, loop
  // variables and all (/secrets/$service/admin-token).
  const volumes: Record<string, string> = {};
  const tops = new Set<string>(['/bin']);
  for (const [volume, target] of volumeMounts(setup)) {
    volumes[volume] = join(root, target);
    mkdirSync(volumes[volume], { recursive: true });
    tops.add(`/${target.split('/')[1]}`);
  }
  const top = new RegExp(`(?<![\\w./$-])(${[...tops].join('|')})(?=/)`, 'g');
  const text = script.replaceAll('$$', '$').replace(top, (path) => join(root, path));
  // The busybox it copies into the probe volume: any file will do here.
  mkdirSync(join(root, 'bin'), { recursive: true });
  if (!existsSync(join(root, 'bin', 'busybox'))) writeFileSync(join(root, 'bin', 'busybox'), '');

  const shims = join(root, 'shims');
  mkdirSync(shims, { recursive: true });
  const chownLog = join(root, 'chown.log');
  writeFileSync(chownLog, '');
  writeFileSync(
    join(shims, 'chown'),
    `#!/bin/sh\nuid=$1; shift\nfor file; do printf '%s %s\\n' "$uid" "$file" >> '${chownLog}'; done\n`,
  );
  chmodSync(join(shims, 'chown'), 0o755);

  const result = spawnSync(shell, [flags!, text], {
    encoding: 'utf8',
    env: { PATH: `${shims}:${process.env.PATH}`, GRAFANA_ADMIN_PASSWORD: '', ...environment },
  });
  const output = `${result.stdout}${result.stderr}`;
  if (result.status !== 0) throw new Error(`setup's script failed (${result.status}):\n${output}`);

  const owners = new Map<string, string>();
  for (const line of readFileSync(chownLog, 'utf8').split('\n').filter(Boolean)) {
    const [uid, file] = line.split(' ', 2);
    owners.set(file!, uid!);
  }
  return { volumes, owners, output };
}

/**
 * The file a path inside a container (`/run/secrets/glassbox/db-password`)
 * is, in a setup run: through the named volume the container mounts there.
 * Undefined when no volume of that container holds the path.
 */
export function fileInVolume(run: SetupRun, service: ComposeService, path: string): string | undefined {
  for (const [volume, target] of volumeMounts(service)) {
    const inside = relative(target, path);
    if (!inside.startsWith('..') && !isAbsolute(inside) && run.volumes[volume])
      return join(run.volumes[volume], inside);
  }
  return undefined;
}
