import { INestApplicationContext, RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { PERMISSION_KEY, PermissionSpec, PUBLIC_KEY } from '../../src/common/auth/decorators';

export interface RouteAccess {
  /** `GET /v2/users/:userId` */
  route: string;
  /** `Controller.handler` */
  handler: string;
  /** `PUBLIC`, `MISSING`, or the permission with its scope, e.g. `user.read (self | user)`. */
  access: string;
}

/**
 * Every controller route of a running app with what the global guard demands of it, read the way the
 * guard reads it (handler metadata overrides class metadata). Routes added by any module show up
 * without being listed anywhere.
 */
export function routeAccessTable(app: INestApplicationContext): RouteAccess[] {
  const discovery = app.get(DiscoveryService);
  const scanner = app.get(MetadataScanner);
  const reflector = app.get(Reflector);
  const out: RouteAccess[] = [];
  for (const wrapper of discovery.getControllers()) {
    const type = wrapper.metatype as (new (...args: unknown[]) => unknown) | undefined;
    if (!type || !wrapper.instance) continue;
    const prefixes = toArray(Reflect.getMetadata(PATH_METADATA, type) as string | string[] | undefined);
    const proto = Object.getPrototypeOf(wrapper.instance) as Record<string, unknown>;
    for (const name of scanner.getAllMethodNames(proto)) {
      const handler = proto[name] as (...args: unknown[]) => unknown;
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      const paths = toArray(Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined);
      if (method === undefined || paths.length === 0) continue;
      const targets = [handler, type];
      const isPublic = reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets) === true;
      const spec = reflector.getAllAndOverride<PermissionSpec | undefined>(PERMISSION_KEY, targets);
      const access = isPublic ? 'PUBLIC' : spec ? describeSpec(spec) : 'MISSING';
      for (const prefix of prefixes.length ? prefixes : ['']) {
        for (const p of paths)
          out.push({
            route: `${RequestMethod[method]} ${joinPath(prefix, p)}`,
            handler: `${type.name}.${name}`,
            access,
          });
      }
    }
  }
  return out.sort((a, b) => a.route.localeCompare(b.route));
}

function describeSpec(spec: PermissionSpec): string {
  if (spec.permission === 'authenticated') return 'authenticated';
  const scope = spec.target ? `${spec.target.kind} from ${spec.target.from} ${spec.target.key}` : 'instance';
  return `${spec.permission} (${spec.self ? 'self or ' : ''}${scope})`;
}

export function formatTable(rows: RouteAccess[]): string {
  const width = Math.max(...rows.map((r) => r.route.length));
  return rows.map((r) => `${r.route.padEnd(width)}  ${r.access}`).join('\n');
}

function toArray(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

function joinPath(a: string, b: string): string {
  return ('/' + [a, b].filter((x) => x && x !== '/').join('/')).replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
}
