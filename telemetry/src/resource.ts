import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { defaultResource, resourceFromAttributes, type Resource } from '@opentelemetry/resources';

/**
 * The resource every signal carries. These are defaults only: NodeSDK merges
 * OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES on top, so the standard
 * variables always win.
 */
export function buildResource(): Resource {
  return defaultResource().merge(
    resourceFromAttributes({
      'service.namespace': 'glassbox',
      'service.version': mainPackageVersion() ?? 'unknown',
      'deployment.environment.name': 'local',
      // One id per process, so two replicas of a service stay apart in Prometheus.
      'service.instance.id': randomUUID(),
    }),
  );
}

/** The version in the package.json nearest to the script node was asked to run. */
function mainPackageVersion(): string | undefined {
  const script = process.argv[1];
  if (!script) return undefined;
  for (let dir = dirname(script); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const { version } = JSON.parse(readFileSync(file, 'utf8')) as { version?: string };
      return version;
    }
  }
  return undefined;
}
