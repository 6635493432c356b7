import { INestApplication, INestApplicationContext, RequestMethod } from '@nestjs/common';
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

/** The committed route → access table: `{ "GET /v2/users/:userId": "user.read (…)", … }`. */
export type RouteFixture = Record<string, string>;

export interface FixtureDiff {
  /** Routes the app serves that the fixture does not list (a new route: add it to the fixture). */
  unlisted: string[];
  /** Routes the fixture lists that the app no longer serves. */
  stale: string[];
  /** Routes whose access differs: `route: fixture → app`. */
  changed: string[];
}

/** What differs between the app's table and the committed fixture (all empty when they agree). */
export function diffWithFixture(table: RouteAccess[], fixture: RouteFixture): FixtureDiff {
  const app = new Map(table.map((r) => [r.route, r.access]));
  return {
    unlisted: [...app.keys()].filter((route) => !(route in fixture)),
    stale: Object.keys(fixture).filter((route) => !app.has(route)),
    changed: [...app.entries()]
      .filter(([route, access]) => route in fixture && fixture[route] !== access)
      .map(([route, access]) => `${route}: ${fixture[route]} → ${access}`),
  };
}

/** The table in the fixture's form, sorted by route, to paste into the fixture file. */
export function toFixture(table: RouteAccess[]): RouteFixture {
  return Object.fromEntries(table.map((r) => [r.route, r.access]));
}

/**
 * Every `METHOD /path` the Express router serves, read from the router itself (so routes added around
 * the controllers show up too), without the catch-all that renders unknown routes. Undefined on the
 * Fastify adapter, whose router cannot be listed; there `hasRoute` checks single routes instead.
 */
export function expressRoutes(app: INestApplication): string[] | undefined {
  const instance = app.getHttpAdapter().getInstance() as {
    router?: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] };
  };
  if (!instance.router) return undefined;
  const out: string[] = [];
  for (const layer of instance.router.stack) {
    if (!layer.route) continue;
    const methods = Object.keys(layer.route.methods);
    if (layer.route.path === '/{*path}') continue; // the not-found / method-not-allowed renderer
    for (const m of methods) out.push(`${m.toUpperCase()} ${layer.route.path}`);
  }
  return [...new Set(out)].sort();
}
