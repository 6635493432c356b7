import { applyDecorators, createParamDecorator, ExecutionContext } from '@nestjs/common';
import { ApiQuery } from '@nestjs/swagger';

/**
 * The request-header fields of every v3alpha request, which grpc-gateway takes from the query
 * string: `instance.id` / `instance.domain` and `organization.orgId` / `organization.orgDomain`
 * (the proto names `organization.org_id` / `organization.org_domain` are accepted too).
 */
export interface V3alphaScope {
  instanceId?: string;
  instanceDomain?: string;
  orgId?: string;
  orgDomain?: string;
}

function first(query: Record<string, unknown>, ...names: string[]): string | undefined {
  for (const name of names) {
    const v = query[name];
    const s = Array.isArray(v) ? v[0] : v;
    if (typeof s === 'string' && s.length > 0) return s;
  }
  return undefined;
}

/** Reads the v3alpha scope from the query string. */
export const V3alphaScopeParam = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): V3alphaScope => {
    const query = (ctx.switchToHttp().getRequest<{ query?: Record<string, unknown> }>().query ??
      {}) as Record<string, unknown>;
    return {
      instanceId: first(query, 'instance.id'),
      instanceDomain: first(query, 'instance.domain'),
      orgId: first(query, 'organization.orgId', 'organization.org_id'),
      orgDomain: first(query, 'organization.orgDomain', 'organization.org_domain'),
    };
  },
);

/** Documents the v3alpha query parameters. */
export function ApiV3alphaScopeQuery() {
  return applyDecorators(
    ApiQuery({
      name: 'instance.id',
      required: false,
      type: String,
      description: 'Select the instance by its ID.',
    }),
    ApiQuery({
      name: 'instance.domain',
      required: false,
      type: String,
      description: 'Select the instance by one of its domains.',
    }),
    ApiQuery({
      name: 'organization.orgId',
      required: false,
      type: String,
      description: 'Optionally expect the user to be in this organization (by ID).',
    }),
    ApiQuery({
      name: 'organization.orgDomain',
      required: false,
      type: String,
      description: 'Optionally expect the user to be in this organization (by domain).',
    }),
  );
}
