import { Controller, Get, Param } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { RequirePermission, userParam } from '../common/auth/decorators';
import { ZitadelErrorResponses, ZitadelMediaTypes } from '../common/openapi/responses';
import { ListAuthenticationMethodTypesResponseDto } from './dto/auth-methods.dto';
import { AuthMethodsService } from './auth-methods.service';

/** ZITADEL User Service v2: which factors a user has. */
@ApiTags('User Service')
@ZitadelMediaTypes()
@ZitadelErrorResponses(
  'invalid ListAuthenticationMethodTypesRequest.UserId: value length must be between 1 and 200 runes, inclusive',
)
@Controller('v2/users/:userId/authentication_methods')
export class AuthMethodsController {
  constructor(private readonly methods: AuthMethodsService) {}

  @Get()
  @RequirePermission('user.read', { self: true, target: userParam('userId') })
  @ApiOperation({
    summary: 'List all possible authentication methods of a user',
    description:
      'List all possible authentication methods of a user like password, passwordless, (T)OTP and more.. Here: the second factors this service holds, ready ones only (TOTP, OTP SMS, OTP Email, recovery codes while unused codes remain).',
  })
  @ApiParam({
    name: 'userId',
    required: true,
    example: '163840776835432705',
    schema: { type: 'string', minLength: 1, maxLength: 200 },
  })
  @ApiOkResponse({
    type: ListAuthenticationMethodTypesResponseDto,
    description: 'OK',
    example: {
      details: { totalResult: '2', timestamp: '2025-03-05T21:29:22.094Z' },
      authMethodTypes: ['AUTHENTICATION_METHOD_TYPE_TOTP', 'AUTHENTICATION_METHOD_TYPE_RECOVERY_CODE'],
    },
  })
  ListAuthenticationMethodTypes(@Param('userId') userId: string) {
    return this.methods.list(userId);
  }
}
