import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { API_TAGS } from './tags';
import { addTransportResponses } from './transport-responses';

/** Builds the OpenAPI document. Operation ids are the handler names (ZITADEL rpc names), so they are stable. */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('MFA verification service')
    .setDescription(
      'Enrol and verify second factors: TOTP (ZITADEL User Service v2 and Auth API v1), OTP SMS (ZITADEL v3alpha user resources) and email step-up challenges.',
    )
    .setVersion('1.0')
    // Relative: the API is served where this document is (Swagger UI and clients resolve it against its URL).
    .addServer('/', 'This service')
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', description: 'Personal access token or OIDC access token (JWT)' },
      'bearer',
    )
    .build();
  const doc = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (_controllerKey: string, methodKey: string) => methodKey,
  });
  // The package's licence (package.json: UNLICENSED, i.e. proprietary).
  doc.info.license = { name: 'UNLICENSED' };
  doc.tags = API_TAGS;
  addTransportResponses(doc);
  return canonicalOpenApi(doc);
}

/** Copy of a plain object with its own keys in sorted order (values untouched). */
function sortedMap<T>(map: Record<string, T> | undefined): Record<string, T> | undefined {
  if (!map) return map;
  return Object.fromEntries(
    Object.keys(map)
      .sort()
      .map((k) => [k, map[k]]),
  );
}

/**
 * The document in a stable order, so the committed file diffs cleanly: paths and component names are
 * sorted, everything else keeps the order it was declared in. That order means something to clients:
 * Swagger UI sends the first media type of a request body (application/json must come before the
 * gRPC types), and shows schema properties and example keys as listed.
 */
export function canonicalOpenApi(doc: OpenAPIObject): OpenAPIObject {
  const copy = JSON.parse(JSON.stringify(doc)) as OpenAPIObject;
  copy.paths = sortedMap(copy.paths)!;
  if (copy.components) {
    const components = copy.components as Record<string, Record<string, unknown> | undefined>;
    for (const kind of Object.keys(components)) components[kind] = sortedMap(components[kind]);
    copy.components = sortedMap(components) as OpenAPIObject['components'];
  }
  return copy;
}

export function serialiseOpenApi(doc: OpenAPIObject): string {
  return JSON.stringify(canonicalOpenApi(doc), null, 2) + '\n';
}
