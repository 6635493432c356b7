import { Body, Controller, Delete, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Caller, RequirePermission, userParam } from '../common/auth/decorators';
import { Principal } from '../common/auth/principal';
import { RequireStepUpForFactorRemoval } from '../common/auth/step-up';
import { CountsOutcome } from '../common/observability/verify-outcome';
import {
  ZitadelErrorResponses,
  zitadelError,
  ZitadelMediaTypes,
  ZitadelResponse,
} from '../common/openapi/responses';
import {
  AddOTPEmailResponseDto,
  CheckOTPEmailRequestDto,
  CheckOTPEmailResponseDto,
  OTP_EMAIL_DETAILS_EXAMPLE,
  RemoveOTPEmailResponseDto,
  SendOTPEmailSignInCodeResponseDto,
} from './dto/otp-email.dto';
import { OtpEmailService } from './otp-email.service';

const USER_ID = {
  name: 'userId',
  required: true,
  example: '163840776835432705',
  schema: { type: 'string' as const, minLength: 1, maxLength: 200 },
};
const ALREADY_ADDED = ZitadelResponse(
  409,
  'Returned when the user already has OTP Email.',
  zitadelError(6, 'Multifactor OTP (OneTimePassword) is already set up', 'COMMAND-MKL2s'),
);
const RATE_LIMITED = ZitadelResponse(
  429,
  'A code was sent recently (see Retry-After).',
  zitadelError(8, 'A code was sent recently, try again later', 'OTPCODE-C00ld9'),
);
const MAIL_DOWN = ZitadelResponse(
  503,
  'The mail transport did not accept the message; the code was discarded and may be requested again at once.',
  zitadelError(14, 'The code could not be sent, try again later', 'OTPCODE-Snd503'),
);

/** ZITADEL User Service v2: OTP Email on the user's verified address, plus sign-in `_send` / `_check`. */
@ApiTags('User Service')
@ZitadelMediaTypes()
@ZitadelErrorResponses(
  'invalid CheckOTPEmailRequest.Code: value length must be between 1 and 200 runes, inclusive',
)
@Controller('v2/users/:userId/otp_email')
export class OtpEmailController {
  constructor(private readonly otpEmail: OtpEmailService) {}

  @Post()
  @HttpCode(200)
  @RequirePermission('user.credential.write', { self: true, target: userParam('userId') })
  @ApiOperation({
    summary: 'Add OTP Email for a user',
    description:
      'Add a new One-Time Password (OTP) Email factor to the authenticated user. OTP Email will enable the user to verify a OTP with the latest verified email. The email has to be verified to add the second factor..',
  })
  @ApiParam(USER_ID)
  @ApiOkResponse({ type: AddOTPEmailResponseDto, description: 'OK', example: OTP_EMAIL_DETAILS_EXAMPLE })
  @ALREADY_ADDED
  AddOTPEmail(@Caller() caller: Principal, @Param('userId') userId: string) {
    return this.otpEmail.add(caller, userId);
  }

  @Delete()
  @RequirePermission('user.write', { self: true, target: userParam('userId') })
  @RequireStepUpForFactorRemoval(userParam('userId'))
  @ApiOperation({
    summary: 'Remove One-Time Password (OTP) Email from a user',
    description:
      'Remove the configured One-Time Password (OTP) Email factor of a user. As only one OTP Email per user is allowed, the user will not have OTP Email as a second factor afterward.',
  })
  @ApiParam(USER_ID)
  @ApiOkResponse({ type: RemoveOTPEmailResponseDto, description: 'OK', example: OTP_EMAIL_DETAILS_EXAMPLE })
  RemoveOTPEmail(@Caller() caller: Principal, @Param('userId') userId: string) {
    return this.otpEmail.remove(caller, userId);
  }

  @Post('_send')
  @HttpCode(200)
  @RequirePermission('user.credential.write', { self: true, target: userParam('userId') })
  @ApiOperation({
    summary: 'Send an OTP Email sign-in code to a user',
    description:
      'Extension of this service: send a new one-time code by email to the verified address of a user with OTP Email, at sign-in or step-up time. The new code replaces any pending one; codes are sent at most once per EMAIL_RESEND_COOLDOWN_SECONDS (429 with Retry-After).',
  })
  @ApiParam(USER_ID)
  @ApiOkResponse({
    type: SendOTPEmailSignInCodeResponseDto,
    description: 'OK: the code was handed to the mail transport.',
    example: OTP_EMAIL_DETAILS_EXAMPLE,
  })
  @RATE_LIMITED
  @MAIL_DOWN
  SendOTPEmailSignInCode(@Caller() caller: Principal, @Param('userId') userId: string) {
    return this.otpEmail.send(caller, userId);
  }

  @Post('_check')
  @CountsOutcome('otp_email')
  @HttpCode(200)
  @RequirePermission('user.credential.write', { self: true, target: userParam('userId') })
  @ApiOperation({
    summary: 'Check an OTP Email code of a user',
    description:
      'Extension of this service: check the code last sent by `_send`. A code works once, until OTP_EMAIL_CODE_TTL_SECONDS after it was sent, and for at most OTP_MAX_ATTEMPTS tries.',
  })
  @ApiParam(USER_ID)
  @ApiBody({ type: CheckOTPEmailRequestDto, required: true })
  @ApiOkResponse({ type: CheckOTPEmailResponseDto, description: 'OK', example: OTP_EMAIL_DETAILS_EXAMPLE })
  CheckOTPEmailSignInCode(
    @Caller() caller: Principal,
    @Param('userId') userId: string,
    @Body() dto: CheckOTPEmailRequestDto,
  ) {
    return this.otpEmail.check(caller, userId, dto.code);
  }
}
