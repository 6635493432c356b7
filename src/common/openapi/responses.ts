import { applyDecorators } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConsumes,
  ApiDefaultResponse,
  ApiExtraModels,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiProduces,
  ApiProperty,
  ApiPropertyOptional,
  ApiResponse,
  ApiUnauthorizedResponse,
  getSchemaPath,
} from '@nestjs/swagger';

/**
 * `protobufAny` as protoc-gen-openapiv2 emits it, plus the two fields ZITADEL's ErrorDetail carries
 * on the wire (`id`, `message`).
 */
export class ProtobufAnyDto {
  @ApiProperty({ name: '@type', type: String, example: 'string' })
  '@type': string;
  @ApiPropertyOptional({ type: String, description: 'The error id, e.g. `QUERY-Dfbg2`.' })
  id?: string;
  @ApiPropertyOptional({ type: String, description: 'The error message without the id.' })
  message?: string;
}

/**
 * `rpcStatus`: the ZITADEL error body. `details` is left out when there is none (validation errors,
 * a missing `Authorization` header, unknown routes).
 */
export class RpcStatusDto {
  @ApiProperty({ type: 'integer', format: 'int32', example: 0 })
  code: number;
  @ApiProperty({ type: String, example: 'string' })
  message: string;
  @ApiPropertyOptional({ type: () => [ProtobufAnyDto] })
  details?: ProtobufAnyDto[];
}

export const RPC_STATUS_EXAMPLE = { code: 0, message: 'string', details: [{ '@type': 'string' }] };
const rpcStatus = () => ({ schema: { $ref: getSchemaPath(RpcStatusDto) }, example: RPC_STATUS_EXAMPLE });

/** A ZITADEL error response with an example as the service renders it (`id` given: with `details`). */
export function zitadelError(code: number, message: string, id?: string) {
  return {
    schema: { $ref: getSchemaPath(RpcStatusDto) },
    example: id
      ? {
          code,
          message: `${message} (${id})`,
          details: [{ '@type': 'type.googleapis.com/zitadel.v1.ErrorDetail', id, message }],
        }
      : { code, message },
  };
}

/** 400 and 401, which every ZITADEL-family route can answer (validation; a missing or invalid token). */
function ZitadelClientErrors(invalid: string) {
  return applyDecorators(
    ApiBadRequestResponse({ description: 'The request is malformed.', ...zitadelError(3, invalid) }),
    ApiUnauthorizedResponse({
      description: 'Returned when the user is not authenticated.',
      ...zitadelError(16, 'auth header missing'),
    }),
  );
}

/** Further statuses of single ZITADEL-family routes (conflicts, rate limits, an SMS provider that is down). */
export function ZitadelResponse(
  status: 409 | 429 | 503,
  description: string,
  example: ReturnType<typeof zitadelError>,
) {
  return ApiResponse({ status, description, ...example });
}

/**
 * The ZITADEL v2 / v3alpha global responses: 403, 404 and default (rpcStatus), plus the 400 and 401
 * every route can answer. `invalid` is the message of an example validation error.
 */
export function ZitadelErrorResponses(
  invalid = 'invalid Request.Field: value length must be between 1 and 200 runes, inclusive',
) {
  return applyDecorators(
    ApiExtraModels(RpcStatusDto, ProtobufAnyDto),
    ZitadelClientErrors(invalid),
    ApiForbiddenResponse({
      description: 'Returned when the user does not have permission to access the resource.',
      ...rpcStatus(),
    }),
    ApiNotFoundResponse({ description: 'Returned when the resource does not exist.', ...rpcStatus() }),
    ApiDefaultResponse({ description: 'An unexpected error response.', ...rpcStatus() }),
  );
}

/** The ZITADEL v1 auth API declares no responses but `default`; 400 and 401 are added. */
export function ZitadelDefaultResponse(
  invalid = 'invalid Request.Field: value length must be between 1 and 200 runes, inclusive',
) {
  return applyDecorators(
    ApiExtraModels(RpcStatusDto, ProtobufAnyDto),
    ZitadelClientErrors(invalid),
    ApiDefaultResponse({ description: 'An unexpected error response.', ...rpcStatus() }),
  );
}

/** The media types every ZITADEL operation consumes and produces (grpc-gateway's JSON, gRPC, gRPC-Web). */
const ZITADEL_MEDIA_TYPES = ['application/json', 'application/grpc', 'application/grpc-web+proto'];

export function ZitadelMediaTypes() {
  return applyDecorators(ApiConsumes(...ZITADEL_MEDIA_TYPES), ApiProduces(...ZITADEL_MEDIA_TYPES));
}
