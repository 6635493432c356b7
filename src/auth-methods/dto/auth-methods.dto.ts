import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { AUTH_METHOD_TYPES, AuthMethodType } from '../../common/auth-methods/auth-method-source';

/** `zitadel.object.v2.ListDetails`. */
export class ListDetailsDto {
  @ApiPropertyOptional({ type: String, format: 'uint64', example: '2' })
  totalResult?: string;

  @ApiPropertyOptional({
    type: String,
    format: 'date-time',
    example: '2025-03-05T21:29:22.094Z',
    description: 'the last time the projection got updated',
  })
  timestamp?: string;
}

/** `ListAuthenticationMethodTypesResponse`. */
export class ListAuthenticationMethodTypesResponseDto {
  @ApiProperty({ type: () => ListDetailsDto })
  details: ListDetailsDto;

  @ApiProperty({
    enum: ['AUTHENTICATION_METHOD_TYPE_UNSPECIFIED', ...AUTH_METHOD_TYPES],
    enumName: 'v2AuthenticationMethodType',
    isArray: true,
    description: 'The ready factors of the user this service holds.',
    example: ['AUTHENTICATION_METHOD_TYPE_TOTP', 'AUTHENTICATION_METHOD_TYPE_RECOVERY_CODE'],
  })
  authMethodTypes: AuthMethodType[];
}
