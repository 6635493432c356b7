import { applyDecorators } from '@nestjs/common';
import {
  ApiConsumes,
  ApiDefaultResponse,
  ApiExtraModels,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiProduces,
  ApiProperty,
  getSchemaPath,
} from '@nestjs/swagger';

/** `protobufAny` as protoc-gen-openapiv2 emits it. */
export class ProtobufAnyDto {
  @ApiProperty({ name: '@type', type: String, example: 'string' })
  '@type': string;
}

/** `rpcStatus`: the ZITADEL error body. */
export class RpcStatusDto {
  @ApiProperty({ type: 'integer', format: 'int32', example: 0 })
  code: number;
  @ApiProperty({ type: String, example: 'string' })
  message: string;
  @ApiProperty({ type: () => [ProtobufAnyDto] })
  details: ProtobufAnyDto[];
}

export const RPC_STATUS_EXAMPLE = { code: 0, message: 'string', details: [{ '@type': 'string' }] };
const rpcStatus = () => ({ schema: { $ref: getSchemaPath(RpcStatusDto) }, example: RPC_STATUS_EXAMPLE });

/** The ZITADEL v2 / v3alpha global responses: 403, 404 and default (rpcStatus). */
export function ZitadelErrorResponses() {
  return applyDecorators(
    ApiExtraModels(RpcStatusDto, ProtobufAnyDto),
    ApiForbiddenResponse({ description: 'Returned when the user does not have permission to access the resource.', ...rpcStatus() }),
    ApiNotFoundResponse({ description: 'Returned when the resource does not exist.', ...rpcStatus() }),
    ApiDefaultResponse({ description: 'An unexpected error response.', ...rpcStatus() }),
  );
}

/** The ZITADEL v1 auth API declares no responses but `default`. */
export function ZitadelDefaultResponse() {
  return applyDecorators(
    ApiExtraModels(RpcStatusDto, ProtobufAnyDto),
    ApiDefaultResponse({ description: 'An unexpected error response.', ...rpcStatus() }),
  );
}

/** The media types every ZITADEL operation consumes and produces (grpc-gateway's JSON, gRPC, gRPC-Web). */
const ZITADEL_MEDIA_TYPES = ['application/json', 'application/grpc', 'application/grpc-web+proto'];

export function ZitadelMediaTypes() {
  return applyDecorators(ApiConsumes(...ZITADEL_MEDIA_TYPES), ApiProduces(...ZITADEL_MEDIA_TYPES));
}
