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
  AddOTPSMSResponseDto,
  CheckOTPSMSRequestDto,
  CheckOTPSMSResponseDto,
  OTP_SMS_DETAILS_EXAMPLE,
  RemoveOTPSMSResponseDto,
  SendOTPSMSSignInCodeResponseDto,
} from './dto/otp-sms-v2.dto';
import { OtpSmsV2Service } from './otp-sms-v2.service';

const USER_ID = {
  name: 'userId',
  required: true,
  example: '163840776835432705',
  schema: { type: 'string' as const, minLength: 1, maxLength: 200 },
};
const ALREADY_ADDED = ZitadelResponse(
  409,
  'Returned when the user already has OTP SMS.',
  zitadelError(6, 'Multifactor OTP (OneTimePassword) is already set up', 'COMMAND-Ad3g2'),
);
const RATE_LIMITED = ZitadelResponse(
  429,
  'A code was sent recently, or too many to this phone today (see Retry-After).',
  zitadelError(8, 'A code was sent recently, try again later', 'OTPCODE-C00ld9'),
);
const SMS_DOWN = ZitadelResponse(
  503,
  'The SMS provider did not accept the message; the code was discarded and may be requested again at once.',
  zitadelError(14, 'The code could not be sent, try again later', 'OTPCODE-Snd503'),
);

/** ZITADEL User Service v2: OTP SMS on the user's verified phone, plus sign-in `_send` / `_check`. */
@ApiTags('User Service')
@ZitadelMediaTypes()
@ZitadelErrorResponses(
  'invalid CheckOTPSMSRequest.Code: value length must be between 1 and 200 runes, inclusive',
)
@Controller('v2/users/:userId/otp_sms')
export class OtpSmsV2Controller {
  constructor(private readonly otpSms: OtpSmsV2Service) {}

  @Post()
  @HttpCode(200)
  @RequirePermission('user.credential.write', { self: true, target: userParam('userId') })
  @ApiOperation({
    summary: 'Add OTP SMS for a user',
    description:
      'Add a new One-Time Password (OTP) SMS factor to the authenticated user. OTP SMS will enable the user to verify a OTP with the latest verified phone number. The phone number has to be verified to add the second factor..',
  })
  @ApiParam(USER_ID)
  @ApiOkResponse({ type: AddOTPSMSResponseDto, description: 'OK', example: OTP_SMS_DETAILS_EXAMPLE })
  @ALREADY_ADDED
  AddOTPSMS(@Caller() caller: Principal, @Param('userId') userId: string) {
    return this.otpSms.add(caller, userId);
  }

  @Delete()
  @RequirePermission('user.write', { self: true, target: userParam('userId') })
  @RequireStepUpForFactorRemoval(userParam('userId'))
  @ApiOperation({
    summary: 'Remove One-Time Password (OTP) SMS from a user',
    description:
      'Remove the configured One-Time Password (OTP) SMS factor of a user. As only one OTP SMS per user is allowed, the user will not have OTP SMS as a second factor afterward.',
  })
  @ApiParam(USER_ID)
  @ApiOkResponse({ type: RemoveOTPSMSResponseDto, description: 'OK', example: OTP_SMS_DETAILS_EXAMPLE })
  RemoveOTPSMS(@Caller() caller: Principal, @Param('userId') userId: string) {
    return this.otpSms.remove(caller, userId);
  }

  @Post('_send')
  @HttpCode(200)
  @RequirePermission('user.credential.write', { self: true, target: userParam('userId') })
  @ApiOperation({
    summary: 'Send an OTP SMS sign-in code to a user',
    description:
      'Extension of this service: send a new one-time code by SMS to the verified phone of a user with OTP SMS, at sign-in or step-up time. The new code replaces any pending one; codes are sent at most once per SMS_RESEND_COOLDOWN_SECONDS and SMS_DAILY_LIMIT_PER_NUMBER times a day per number (429 with Retry-After).',
  })
  @ApiParam(USER_ID)
  @ApiOkResponse({
    type: SendOTPSMSSignInCodeResponseDto,
    description: 'OK: the code was handed to the SMS provider.',
    example: OTP_SMS_DETAILS_EXAMPLE,
  })
  @RATE_LIMITED
  @SMS_DOWN
  SendOTPSMSSignInCode(@Caller() caller: Principal, @Param('userId') userId: string) {
    return this.otpSms.send(caller, userId);
  }

  @Post('_check')
  @CountsOutcome('otp_sms')
  @HttpCode(200)
  @RequirePermission('user.credential.write', { self: true, target: userParam('userId') })
  @ApiOperation({
    summary: 'Check an OTP SMS code of a user',
    description:
      'Extension of this service: check the code last sent by `_send`. A code works once, until SMS_CODE_TTL_SECONDS after it was sent, and for at most OTP_MAX_ATTEMPTS tries.',
  })
  @ApiParam(USER_ID)
  @ApiBody({ type: CheckOTPSMSRequestDto, required: true })
  @ApiOkResponse({ type: CheckOTPSMSResponseDto, description: 'OK', example: OTP_SMS_DETAILS_EXAMPLE })
  CheckOTPSMSSignInCode(
    @Caller() caller: Principal,
    @Param('userId') userId: string,
    @Body() dto: CheckOTPSMSRequestDto,
  ) {
    return this.otpSms.check(caller, userId, dto.code);
  }
}
