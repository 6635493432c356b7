import { Body, Controller, Delete, HttpCode, Param, Post } from '@nestjs/common';
import {
  ApiBody,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { Caller, RequirePermission, userParam } from '../common/auth/decorators';
import { Principal } from '../common/auth/principal';
import { DetailsResponseDto } from '../common/openapi/details-response.dto';
import { RequireStepUpForFactorRemoval, STEP_UP_REQUIRED } from '../common/auth/step-up';
import {
  ZitadelDefaultResponse,
  ZitadelErrorResponses,
  zitadelError,
  ZitadelMediaTypes,
  ZitadelResponse,
} from '../common/openapi/responses';
import {
  AddMyAuthFactorOTPResponseDto,
  CheckTOTPRequestDto,
  MyDetailsResponseDto,
  RegisterTOTPResponseDto,
  V1_DETAILS_EXAMPLE,
  V2_DETAILS_EXAMPLE,
  VerifyMyAuthFactorOTPRequestDto,
  VerifyTOTPRegistrationRequestDto,
} from './dto/totp.dto';
import { CountsOutcome } from '../common/observability/verify-outcome';
import { TOTP_ERROR_TEXT } from './totp.errors';
import { TotpService } from './totp.service';

const ALREADY_SET_UP = ZitadelResponse(
  409,
  'Returned when the object already exists.',
  zitadelError(6, TOTP_ERROR_TEXT.alreadySetUp.message, TOTP_ERROR_TEXT.alreadySetUp.id),
);
const LOCKED = ZitadelResponse(
  429,
  'Too many failed codes: the factor is locked for a while (see Retry-After).',
  zitadelError(8, TOTP_ERROR_TEXT.locked.message, TOTP_ERROR_TEXT.locked.id),
);
/** The v1 routes acting on the caller's own factor: 404 when there is none, 403 when removal needs a step-up first. */
const NO_FACTOR = ApiNotFoundResponse({
  description: 'Returned when the resource does not exist.',
  ...zitadelError(5, TOTP_ERROR_TEXT.notExisting.message, TOTP_ERROR_TEXT.notExisting.id),
});
const stepUp = STEP_UP_REQUIRED('mfa.factor.remove');
const STEP_UP_MISSING = ApiForbiddenResponse({
  description: 'Returned when the user does not have permission to access the resource.',
  ...zitadelError(7, stepUp.message, stepUp.id),
});
const INVALID_CODE =
  'invalid VerifyTOTPRegistrationRequest.Code: value length must be between 1 and 200 runes, inclusive';

const USER_ID = {
  name: 'userId',
  required: true,
  example: '163840776835432705',
  schema: { type: 'string' as const, minLength: 1, maxLength: 200 },
};

/** ZITADEL User Service v2: the TOTP of any user (self, or with the permission on the user's organisation). */
@ApiTags('User Service')
@ZitadelMediaTypes()
@ZitadelErrorResponses(INVALID_CODE)
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
  @ALREADY_SET_UP
  RegisterTOTP(
    @Caller() caller: Principal,
    @Param('userId') userId: string,
  ): Promise<RegisterTOTPResponseDto> {
    return this.totp.register(caller, userId);
  }

  @Post('verify')
  @CountsOutcome('totp')
  @HttpCode(200)
  @RequirePermission('user.credential.write', { self: true, target: userParam('userId') })
  @ApiOperation({
    summary: 'Verify a TOTP generator for a user',
    description: 'Verify the TOTP registration with a generated code..',
  })
  @ApiParam(USER_ID)
  @ApiBody({ type: VerifyTOTPRegistrationRequestDto, required: true })
  @ApiOkResponse({ type: DetailsResponseDto, description: 'OK', example: V2_DETAILS_EXAMPLE })
  @LOCKED
  VerifyTOTPRegistration(
    @Caller() caller: Principal,
    @Param('userId') userId: string,
    @Body() dto: VerifyTOTPRegistrationRequestDto,
  ) {
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
  RemoveTOTP(@Caller() caller: Principal, @Param('userId') userId: string) {
    return this.totp.remove(caller, userId);
  }

  @Post('_check')
  @CountsOutcome('totp')
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
  @LOCKED
  CheckTOTP(@Caller() caller: Principal, @Param('userId') userId: string, @Body() dto: CheckTOTPRequestDto) {
    return this.totp.check(caller, userId, dto.code);
  }
}

/** ZITADEL Auth API v1: the OTP factor of the authenticated user. */
@ApiTags('User Authentication Factor')
@ZitadelMediaTypes()
@ZitadelDefaultResponse(
  'invalid VerifyMyAuthFactorOTPRequest.Code: value length must be between 1 and 200 runes, inclusive',
)
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
  @ALREADY_SET_UP
  AddMyAuthFactorOTP(@Caller() caller: Principal) {
    return this.totp.registerMine(caller);
  }

  @Post('_verify')
  @CountsOutcome('totp')
  @HttpCode(200)
  @RequirePermission('authenticated')
  @ApiOperation({
    summary: 'Verify One-Time-Password (OTP)',
    description:
      'Verify the last added One-Time-Password (OTP) factor of the authenticated user. OTP is an authenticator app like Google/Microsoft Authenticator, Authy, etc. Only one OTP per user is allowed.',
  })
  @ApiBody({ type: VerifyMyAuthFactorOTPRequestDto, required: true })
  @ApiOkResponse({
    type: MyDetailsResponseDto,
    description: 'A successful response.',
    example: V1_DETAILS_EXAMPLE,
  })
  @NO_FACTOR
  @LOCKED
  VerifyMyAuthFactorOTP(@Caller() caller: Principal, @Body() dto: VerifyMyAuthFactorOTPRequestDto) {
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
  @STEP_UP_MISSING
  @NO_FACTOR
  RemoveMyAuthFactorOTP(@Caller() caller: Principal) {
    return this.totp.remove(caller, caller.userId);
  }
}
