import { Body, Controller, Delete, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Principal, RequirePermission, userParam } from '../common/auth/decorators';
import { Principal as Caller } from '../common/auth/principal';
import { RequireStepUpForFactorRemoval } from '../common/auth/step-up';
import { ZitadelDefaultResponse, ZitadelErrorResponses, ZitadelMediaTypes } from '../common/openapi/responses';
import {
  AddMyAuthFactorOTPResponseDto,
  CheckTOTPRequestDto,
  DetailsResponseDto,
  MyDetailsResponseDto,
  RegisterTOTPResponseDto,
  V1_DETAILS_EXAMPLE,
  V2_DETAILS_EXAMPLE,
  VerifyMyAuthFactorOTPRequestDto,
  VerifyTOTPRegistrationRequestDto,
} from './dto/totp.dto';
import { TotpService } from './totp.service';

const USER_ID = { name: 'userId', required: true, example: '163840776835432705', schema: { type: 'string' as const, minLength: 1, maxLength: 200 } };

/** ZITADEL User Service v2: the TOTP of any user (self, or with the permission on the user's organisation). */
@ApiTags('User Service')
@ZitadelMediaTypes()
@ZitadelErrorResponses()
@Controller('v2/users/:userId/totp')
export class TotpController {
  constructor(private readonly totp: TotpService) {}

  @Post()
  @HttpCode(200)
  @RequirePermission('user.credential.write', { self: true, target: userParam('userId') })
  @ApiOperation({
    summary: 'Start the registration of a TOTP generator for a user',
    description:
      'Start the registration of a TOTP generator for a user, as a response a secret returned, which is used to initialize a TOTP app or device..',
  })
  @ApiParam(USER_ID)
  @ApiOkResponse({ type: RegisterTOTPResponseDto, description: 'OK' })
  RegisterTOTP(@Principal() caller: Caller, @Param('userId') userId: string): Promise<RegisterTOTPResponseDto> {
    return this.totp.register(caller, userId);
  }

  @Post('verify')
  @HttpCode(200)
  @RequirePermission('user.credential.write', { self: true, target: userParam('userId') })
  @ApiOperation({ summary: 'Verify a TOTP generator for a user', description: 'Verify the TOTP registration with a generated code..' })
  @ApiParam(USER_ID)
  @ApiBody({ type: VerifyTOTPRegistrationRequestDto, required: true })
  @ApiOkResponse({ type: DetailsResponseDto, description: 'OK', example: V2_DETAILS_EXAMPLE })
  VerifyTOTPRegistration(@Principal() caller: Caller, @Param('userId') userId: string, @Body() dto: VerifyTOTPRegistrationRequestDto) {
    return this.totp.verifyRegistration(caller, userId, dto.code);
  }

  @Delete()
  @RequirePermission('user.write', { self: true, target: userParam('userId') })
  @RequireStepUpForFactorRemoval(userParam('userId'))
  @ApiOperation({
    summary: 'Remove TOTP generator from a user',
    description:
      'Remove the configured TOTP generator of a user. As only one TOTP generator per user is allowed, the user will not have TOTP as a second factor afterward.',
  })
  @ApiParam(USER_ID)
  @ApiOkResponse({ type: DetailsResponseDto, description: 'OK' })
  RemoveTOTP(@Principal() caller: Caller, @Param('userId') userId: string) {
    return this.totp.remove(caller, userId);
  }

  @Post('_check')
  @HttpCode(200)
  @RequirePermission('user.credential.write', { self: true, target: userParam('userId') })
  @ApiOperation({
    summary: 'Check a TOTP code of a user',
    description:
      'Extension of this service: check a code of the ready TOTP generator of a user at sign-in or step-up time. Each time step is accepted once; failed codes count towards a lockout (429 with Retry-After).',
  })
  @ApiParam(USER_ID)
  @ApiBody({ type: CheckTOTPRequestDto, required: true })
  @ApiOkResponse({ type: DetailsResponseDto, description: 'OK' })
  CheckTOTP(@Principal() caller: Caller, @Param('userId') userId: string, @Body() dto: CheckTOTPRequestDto) {
    return this.totp.check(caller, userId, dto.code);
  }
}

/** ZITADEL Auth API v1: the OTP factor of the authenticated user. */
@ApiTags('User Authentication Factor')
@ZitadelMediaTypes()
@ZitadelDefaultResponse()
@Controller('auth/v1/users/me/auth_factors/otp')
export class MyOtpController {
  constructor(private readonly totp: TotpService) {}

  @Post()
  @HttpCode(200)
  @RequirePermission('authenticated')
  @ApiOperation({
    summary: 'Add One-Time-Password (OTP)',
    description:
      'Add a new One-Time-Password (OTP) factor to the authenticated user. OTP is an authenticator app like Google/Microsoft Authenticator, Authy, etc. Only one OTP per user is allowed. After adding a new OTP it has to be verified.',
  })
  @ApiOkResponse({ type: AddMyAuthFactorOTPResponseDto, description: 'A successful response.' })
  AddMyAuthFactorOTP(@Principal() caller: Caller) {
    return this.totp.registerMine(caller);
  }

  @Post('_verify')
  @HttpCode(200)
  @RequirePermission('authenticated')
  @ApiOperation({
    summary: 'Verify One-Time-Password (OTP)',
    description:
      'Verify the last added One-Time-Password (OTP) factor of the authenticated user. OTP is an authenticator app like Google/Microsoft Authenticator, Authy, etc. Only one OTP per user is allowed.',
  })
  @ApiBody({ type: VerifyMyAuthFactorOTPRequestDto, required: true })
  @ApiOkResponse({ type: MyDetailsResponseDto, description: 'A successful response.', example: V1_DETAILS_EXAMPLE })
  VerifyMyAuthFactorOTP(@Principal() caller: Caller, @Body() dto: VerifyMyAuthFactorOTPRequestDto) {
    return this.totp.verifyRegistration(caller, caller.userId, dto.code);
  }

  @Delete()
  @RequirePermission('authenticated')
  @RequireStepUpForFactorRemoval()
  @ApiOperation({
    summary: 'Remove One-Time-Password (OTP)',
    description:
      'Remove the configured One-Time-Password (OTP) factor of the authenticated user. OTP is an authenticator app like Google/Microsoft Authenticator, Authy, etc. As only one OTP per user is allowed, the user will not have OTP as a second-factor afterward.',
  })
  @ApiOkResponse({ type: MyDetailsResponseDto, description: 'A successful response.' })
  RemoveMyAuthFactorOTP(@Principal() caller: Caller) {
    return this.totp.remove(caller, caller.userId);
  }
}
