import { Body, Controller, Delete, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Caller, RequirePermission, userParam } from '../common/auth/decorators';
import { Principal } from '../common/auth/principal';
import { RequireStepUpForFactorRemoval } from '../common/auth/step-up';
import {
  ZitadelErrorResponses,
  zitadelError,
  ZitadelMediaTypes,
  ZitadelResponse,
} from '../common/openapi/responses';
import { BareCodeBodyPipe } from './code-body.pipe';
import {
  AddOTPSMSAuthenticatorResponseDto,
  CheckOTPSMSCodeResponseDto,
  RemoveOTPSMSAuthenticatorResponseDto,
  SendOTPSMSCodeRequestDto,
  SendOTPSMSCodeResponseDto,
  SetPhoneDto,
  VerifyOTPSMSRegistrationResponseDto,
} from './dto/otp-sms.dto';
import { OtpSmsService } from './otp-sms.service';
import { ApiV3alphaScopeQuery, V3alphaScope, V3alphaScopeParam } from './v3alpha-scope';
import { CountsOutcome } from '../common/observability/verify-outcome';

const USER_ID = { name: 'id', description: 'unique identifier of the user.', example: '69629026806489455' };
const OTP_SMS_ID = {
  name: 'otpSmsId',
  description: 'unique identifier of the OTP SMS registration, which was returned in the add OTP SMS.',
  example: '163840776835432705',
};
const OTP_SMS_ID_REMOVE = { ...OTP_SMS_ID, description: 'unique identifier of the OTP SMS authenticator.' };
const codeBody = (description: string) =>
  ApiBody({
    required: true,
    description,
    schema: { type: 'string', description, minLength: 1, maxLength: 200, example: '12345678' },
  });

const ALREADY_SET_UP = ZitadelResponse(
  409,
  'Returned when the object already exists.',
  zitadelError(6, 'Multifactor OTP (OneTimePassword) is already set up', 'COMMAND-Ad3g2'),
);
const RATE_LIMITED = ZitadelResponse(
  429,
  'A code was sent to this phone recently, or too many today (see Retry-After).',
  zitadelError(8, 'A code was sent recently, try again later', 'OTPSMS-C00ld9'),
);
const SMS_DOWN = ZitadelResponse(
  503,
  'The SMS provider did not accept the message; nothing was changed.',
  zitadelError(14, 'The SMS could not be sent, try again later', 'OTPSMS-Snd503'),
);

const CREDENTIAL_WRITE = { self: true, target: userParam('id') };

/** ZITADEL Resources v3alpha – OTP SMS authenticator (upstream declares it, we implement it). */
@ApiTags('User Service v3alpha – OTP SMS')
@ZitadelErrorResponses('invalid SetPhone.Number: value length must be between 1 and 20 runes, inclusive')
@ZitadelMediaTypes()
@ApiV3alphaScopeQuery()
@Controller('resources/v3alpha/users/:id/otp_sms')
export class OtpSmsController {
  constructor(private readonly otpSms: OtpSmsService) {}

  @Post()
  @HttpCode(200)
  @RequirePermission('user.credential.write', CREDENTIAL_WRITE)
  @ApiOperation({
    summary: 'Add a OTP SMS authenticator',
    description:
      'Add a new one-time password (OTP) SMS authenticator to a user.\nIf the phone is not passed as verified, a verification code will be generated,\nwhich can be either returned or will be sent to the user by SMS.',
  })
  @ApiParam(USER_ID)
  @ApiOkResponse({
    type: AddOTPSMSAuthenticatorResponseDto,
    description: 'OTP SMS authenticator successfully added',
  })
  @ALREADY_SET_UP
  @RATE_LIMITED
  @SMS_DOWN
  AddOTPSMSAuthenticator(
    @Caller() caller: Principal,
    @Param('id') id: string,
    @V3alphaScopeParam() scope: V3alphaScope,
    @Body() phone: SetPhoneDto,
  ) {
    return this.otpSms.add(caller, id, scope, phone);
  }

  @Post(':otpSmsId/_verify')
  @CountsOutcome('otp_sms')
  @HttpCode(200)
  @RequirePermission('user.credential.write', CREDENTIAL_WRITE)
  @ApiOperation({
    summary: 'Verify OTP SMS registration',
    description: 'Verify the OTP SMS registration with the provided code.',
  })
  @ApiParam(USER_ID)
  @ApiParam(OTP_SMS_ID)
  @codeBody('Set the verification code generated during the add OTP SMS request.')
  @ApiOkResponse({
    type: VerifyOTPSMSRegistrationResponseDto,
    description: 'OTP SMS authenticator successfully verified',
  })
  VerifyOTPSMSRegistration(
    @Caller() caller: Principal,
    @Param('id') id: string,
    @Param('otpSmsId') otpSmsId: string,
    @V3alphaScopeParam() scope: V3alphaScope,
    @Body(new BareCodeBodyPipe('VerifyOTPSMSRegistrationRequest')) code: string,
  ) {
    return this.otpSms.verify(caller, id, otpSmsId, scope, code);
  }

  @Delete(':otpSmsId')
  @RequirePermission('user.write', CREDENTIAL_WRITE)
  @RequireStepUpForFactorRemoval(userParam('id'))
  @ApiOperation({
    summary: 'Remove a OTP SMS authenticator',
    description:
      'Remove an existing one-time password (OTP) SMS authenticator from a user, so it cannot be used for authentication anymore.',
  })
  @ApiParam(USER_ID)
  @ApiParam(OTP_SMS_ID_REMOVE)
  @ApiOkResponse({
    type: RemoveOTPSMSAuthenticatorResponseDto,
    description: 'OTP SMS authenticator successfully removed',
  })
  RemoveOTPSMSAuthenticator(
    @Caller() caller: Principal,
    @Param('id') id: string,
    @Param('otpSmsId') otpSmsId: string,
    @V3alphaScopeParam() scope: V3alphaScope,
  ) {
    return this.otpSms.remove(caller, id, otpSmsId, scope);
  }

  @Post(':otpSmsId/_resend')
  @HttpCode(200)
  @RequirePermission('user.credential.write', CREDENTIAL_WRITE)
  @ApiOperation({
    summary: 'Resend the OTP SMS registration code',
    description:
      'Extension (not in ZITADEL): issue a new verification code for an OTP SMS authenticator that is not verified yet. The previous code stops working. Sent by SMS unless returnCode is set. Subject to the resend cooldown and the daily limit per phone number (429 with Retry-After).',
  })
  @ApiParam(USER_ID)
  @ApiParam(OTP_SMS_ID)
  @ApiOkResponse({ type: SendOTPSMSCodeResponseDto, description: 'OTP SMS code successfully sent' })
  @RATE_LIMITED
  @SMS_DOWN
  ResendOTPSMSCode(
    @Caller() caller: Principal,
    @Param('id') id: string,
    @Param('otpSmsId') otpSmsId: string,
    @V3alphaScopeParam() scope: V3alphaScope,
    @Body() dto: SendOTPSMSCodeRequestDto,
  ) {
    return this.otpSms.resend(caller, id, otpSmsId, scope, dto);
  }

  @Post(':otpSmsId/_challenge')
  @HttpCode(200)
  @RequirePermission('user.credential.write', CREDENTIAL_WRITE)
  @ApiOperation({
    summary: 'Send an OTP SMS sign-in code',
    description:
      'Extension (not in ZITADEL): send a one-time sign-in code to the phone of a verified OTP SMS authenticator; check it with _check. returnCode is only allowed for callers acting for another user with user.credential.write. Subject to the resend cooldown and the daily limit per phone number (429 with Retry-After).',
  })
  @ApiParam(USER_ID)
  @ApiParam({ ...OTP_SMS_ID, description: 'unique identifier of the OTP SMS authenticator.' })
  @ApiOkResponse({ type: SendOTPSMSCodeResponseDto, description: 'OTP SMS code successfully sent' })
  @RATE_LIMITED
  @SMS_DOWN
  SendOTPSMSChallenge(
    @Caller() caller: Principal,
    @Param('id') id: string,
    @Param('otpSmsId') otpSmsId: string,
    @V3alphaScopeParam() scope: V3alphaScope,
    @Body() dto: SendOTPSMSCodeRequestDto,
  ) {
    return this.otpSms.challenge(caller, id, otpSmsId, scope, dto);
  }

  @Post(':otpSmsId/_check')
  @CountsOutcome('otp_sms')
  @HttpCode(200)
  @RequirePermission('user.credential.write', CREDENTIAL_WRITE)
  @ApiOperation({
    summary: 'Check an OTP SMS sign-in code',
    description:
      'Extension (not in ZITADEL): check the sign-in code sent by _challenge. The code is single use; at most OTP_MAX_ATTEMPTS wrong codes are accepted per code.',
  })
  @ApiParam(USER_ID)
  @ApiParam({ ...OTP_SMS_ID, description: 'unique identifier of the OTP SMS authenticator.' })
  @codeBody('The sign-in code sent by the OTP SMS challenge.')
  @ApiOkResponse({ type: CheckOTPSMSCodeResponseDto, description: 'OTP SMS code successfully checked' })
  CheckOTPSMSCode(
    @Caller() caller: Principal,
    @Param('id') id: string,
    @Param('otpSmsId') otpSmsId: string,
    @V3alphaScopeParam() scope: V3alphaScope,
    @Body(new BareCodeBodyPipe('CheckOTPSMSCodeRequest')) code: string,
  ) {
    return this.otpSms.check(caller, id, otpSmsId, scope, code);
  }
}
