import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { API_TAGS } from './tags';

/** Builds the OpenAPI document. Operation ids are the handler names (ZITADEL rpc names), so they are stable. */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('MFA verification service')
    .setDescription(
      'Enrol and verify second factors: TOTP (ZITADEL User Service v2 and Auth API v1), OTP SMS (ZITADEL v3alpha user resources) and email step-up challenges.',
    )
    .setVersion('1.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'Personal access token or OIDC access token (JWT)' }, 'bearer')
    .build();
  const doc = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (_controllerKey: string, methodKey: string) => methodKey,
  });
  doc.tags = API_TAGS;
  return sortKeys(doc) as OpenAPIObject;
}

/** Deep copy with object keys sorted, so the committed file diffs cleanly. Arrays keep their order. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value as object)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

export function serialiseOpenApi(doc: OpenAPIObject): string {
  return JSON.stringify(sortKeys(doc), null, 2) + '\n';
}
