import { Injectable, OnModuleInit, RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { API_FAMILY_KEY, ApiFamily } from './api-family';

interface RouteEntry {
  method: string;
  pattern: RegExp;
  family: ApiFamily;
  /** The route's path as declared, e.g. `/v2/users/:userId/totp/_check` (a literal colon unescaped). */
  template: string;
}

/**
 * Knows every route and the API family of its controller, read from controller metadata at start-up.
 * The exception filter asks it for errors raised before routing (malformed JSON, oversize body,
 * unknown path, wrong method), where no handler metadata exists yet.
 */
@Injectable()
export class RouteRegistry implements OnModuleInit {
  private routes: RouteEntry[] = [];

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  onModuleInit(): void {
    const routes: RouteEntry[] = [];
    for (const wrapper of this.discovery.getControllers()) {
      const type = wrapper.metatype as (new (...args: unknown[]) => unknown) | undefined;
      if (!type || !wrapper.instance) continue;
      const family = this.reflector.get<ApiFamily>(API_FAMILY_KEY, type) ?? 'zitadel';
      const prefixes = toArray(Reflect.getMetadata(PATH_METADATA, type) as string | string[] | undefined);
      const proto = Object.getPrototypeOf(wrapper.instance) as object;
      for (const name of this.scanner.getAllMethodNames(proto)) {
        const handler = (proto as Record<string, unknown>)[name] as object;
        const paths = toArray(Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined);
        const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
        if (method === undefined || paths.length === 0) continue;
        for (const prefix of prefixes.length ? prefixes : ['']) {
          for (const p of paths) {
            const full = joinPath(prefix, p);
            routes.push({
              method: RequestMethod[method],
              pattern: toRegExp(full),
              family,
              template: full.replace(/\\:/g, ':'),
            });
          }
        }
      }
    }
    this.routes = routes;
  }

  /** The family of the routes whose path matches, else the family of the longest matching prefix, else zitadel. */
  familyOf(path: string): ApiFamily {
    const clean = stripQuery(path);
    const exact = this.routes.find((r) => r.pattern.test(clean));
    if (exact) return exact.family;
    let best: { len: number; family: ApiFamily } | undefined;
    for (const r of this.routes) {
      const prefix = r.pattern.source.replace(/^\^/, '').split(/\[\^|\\\/\[/)[0];
      const literal = prefix.replace(/\\/g, '');
      const common = commonSegments(literal, clean);
      if (common >= 3 && (!best || common > best.len)) best = { len: common, family: r.family };
    }
    return best?.family ?? 'zitadel';
  }

  /** The template of the route `method` and `path` reach (metrics name routes by it), if any. */
  templateOf(method: string, path: string): string | undefined {
    const clean = stripQuery(path);
    for (const r of this.routes)
      if ((r.method === method || r.method === 'ALL') && r.pattern.test(clean)) return r.template;
    return undefined;
  }

  /** Methods allowed on a path, to tell 405 from 404. */
  allowedMethods(path: string): string[] {
    const clean = stripQuery(path);
    return [...new Set(this.routes.filter((r) => r.pattern.test(clean)).map((r) => r.method))];
  }
}

function toArray(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

function joinPath(a: string, b: string): string {
  return ('/' + [a, b].filter((x) => x && x !== '/').join('/')).replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
}

function stripQuery(p: string): string {
  const i = p.indexOf('?');
  const s = i >= 0 ? p.slice(0, i) : p;
  return s.length > 1 ? s.replace(/\/$/, '') : s;
}

function commonSegments(a: string, b: string): number {
  const x = a.split('/').filter(Boolean);
  const y = b.split('/').filter(Boolean);
  let n = 0;
  while (n < x.length && n < y.length && x[n] === y[n]) n++;
  return n;
}

/** Nest/Express 5 path → RegExp: `:name` is one segment part, `\\:` is a literal colon. */
export function toRegExp(path: string): RegExp {
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const c = path[i];
    if (c === '\\' && path[i + 1] === ':') {
      out += ':';
      i++;
    } else if (c === ':') {
      const m = /^:[A-Za-z_$][A-Za-z0-9_$]*/.exec(path.slice(i));
      out += '[^/]+?';
      i += (m?.[0].length ?? 1) - 1;
    } else if (c === '*') {
      const m = /^\*[A-Za-z_$][A-Za-z0-9_$]*/.exec(path.slice(i));
      out += '.*';
      i += (m?.[0].length ?? 1) - 1;
    } else {
      out += c.replace(/[.+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  return new RegExp(`^${out}$`);
}
