import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Principal, RequirePermission, userBody } from '../common/auth/decorators';
import { Principal as Caller } from '../common/auth/principal';
import { UseApiFamily } from '../common/errors/api-family';
import {
  ConsumeEmailChallengeResponseDto,
  CreateEmailChallengeRequestDto,
  CreateEmailChallengeResponseDto,
  EmailChallengeDto,
  ResendEmailChallengeResponseDto,
  VerifyEmailRequestDto,
  VerifyEmailResponseDto,
} from './dto/email-challenge.dto';
import { E, EmailChallengeErrorResponses } from './email-challenge.openapi';
import { EmailChallengeService } from './email-challenge.service';
import { CountsOutcome } from '../common/observability/verify-outcome';

const BASE = '/internal/v1/mfa/totp-email';
const CHALLENGE_ID = {
  name: 'challengeId',
  required: true,
  description: 'The ID is challenge id received during operation initiation which required challenge.',
};

/**
 * Email step-up challenges (seed 003). Every error on these routes, from validation to 500, is
 * rendered in this API's own format (`urn:plmr:mfa-totp:api:*`). Routes with the AIP-136 `:verb`
 * suffix escape the colon (`\\:`) for Express 5 / path-to-regexp v8.
 */
@ApiTags('Email challenges')
@UseApiFamily('email-challenge')
@Controller('internal/v1/mfa/totp-email')
export class EmailChallengeController {
  constructor(private readonly challenges: EmailChallengeService) {}

  @Post()
  @RequirePermission('mfa.challenge.write', { self: true, target: userBody('userId') })
  @ApiOperation({
    summary: 'Create time-based one-time password email challenge',
    description:
      'Starts a step-up challenge for a user and an operation and sends a 6-digit code to the user’s verified mail address.\n\n' +
      'Allowed for holders of mfa.challenge.write and for the subject user itself.',
  })
  @ApiCreatedResponse({ type: CreateEmailChallengeResponseDto, description: 'Created: the code was sent.' })
  @EmailChallengeErrorResponses(BASE, {
    400: E.badRequest,
    401: E.unauthorized,
    403: E.forbidden,
    404: {
      description: E.userNotFound,
      code: 'USER_NOT_FOUND',
      message: 'User not found or without a verified email address',
    },
    500: E.internal,
    503: E.unavailable,
  })
  createEmailChallenge(@Principal() caller: Caller, @Body() dto: CreateEmailChallengeRequestDto) {
    return this.challenges.create(caller, dto);
  }

  @Post(':challengeId\\:verify')
  @CountsOutcome('email_challenge')
  @HttpCode(200)
  @RequirePermission('authenticated')
  @ApiOperation({
    summary: 'Verify time-based one-time password email challenge',
    description:
      'Verifies the time-based one-time password sent to the user’s mail address.\n\n' +
      'The unauthorised operations will be allowed to proceed once the TOTP verified successfully.',
  })
  @ApiParam(CHALLENGE_ID)
  @ApiOkResponse({ type: VerifyEmailResponseDto, description: 'OK' })
  // The reference page's three responses and texts, then the rest this route answers.
  @EmailChallengeErrorResponses(`${BASE}/312909075212468632:verify`, {
    400: {
      description: 'Bad Request',
      code: 'INVALID_OTP',
      message: 'The code is invalid; 4 attempts remaining',
    },
    410: '',
    500: 'Internal Server Error',
    401: E.unauthorized,
    403: {
      description: E.notSubject,
      code: 'USER_ID_DOES_NOT_MATCH_WITH_CHALLENGE_SUBJECT_USER_ID',
      message: 'Only the subject user of the challenge may verify it',
    },
    404: E.notFound,
  })
  verifyEmail(
    @Principal() caller: Caller,
    @Param('challengeId') challengeId: string,
    @Body() dto: VerifyEmailRequestDto,
  ) {
    return this.challenges.verify(caller, challengeId, dto.totp);
  }

  @Get(':challengeId')
  @RequirePermission('authenticated')
  @ApiOperation({
    summary: 'Get time-based one-time password email challenge',
    description:
      'Reads the status of a challenge. Allowed for the subject user and holders of mfa.challenge.write.',
  })
  @ApiParam(CHALLENGE_ID)
  @ApiOkResponse({ type: EmailChallengeDto, description: 'OK' })
  @EmailChallengeErrorResponses(`${BASE}/312909075212468632`, {
    401: E.unauthorized,
    403: E.forbidden,
    404: E.notFound,
    500: E.internal,
  })
  getEmailChallenge(@Principal() caller: Caller, @Param('challengeId') challengeId: string) {
    return this.challenges.get(caller, challengeId);
  }

  @Post(':challengeId\\:resend')
  @HttpCode(200)
  @RequirePermission('authenticated')
  @ApiOperation({
    summary: 'Resend time-based one-time password email challenge',
    description:
      'Sends a new code for a pending challenge; the previous code stops working and the lifetime restarts. ' +
      'Wrong attempts are not reset. Allowed for the subject user and holders of mfa.challenge.write, once per EMAIL_RESEND_COOLDOWN_SECONDS.',
  })
  @ApiParam(CHALLENGE_ID)
  @ApiOkResponse({ type: ResendEmailChallengeResponseDto, description: 'OK: a new code was sent.' })
  @EmailChallengeErrorResponses(`${BASE}/312909075212468632:resend`, {
    401: E.unauthorized,
    403: E.forbidden,
    404: E.notFound,
    410: E.gone,
    429: E.cooldown,
    500: E.internal,
    503: E.unavailable,
  })
  resendEmail(@Principal() caller: Caller, @Param('challengeId') challengeId: string) {
    return this.challenges.resend(caller, challengeId);
  }

  @Post(':challengeId\\:consume')
  @HttpCode(200)
  @RequirePermission('mfa.challenge.write')
  @ApiOperation({
    summary: 'Consume verified email challenge',
    description:
      'Claims a verified challenge exactly once and returns its subject, operation and request context, ' +
      'so the backend can proceed with the operation. Requires mfa.challenge.write.',
  })
  @ApiParam(CHALLENGE_ID)
  @ApiOkResponse({ type: ConsumeEmailChallengeResponseDto, description: 'OK' })
  @EmailChallengeErrorResponses(`${BASE}/312909075212468632:consume`, {
    400: { description: E.badRequest, code: 'BAD_REQUEST', message: 'The challenge is not verified yet' },
    401: E.unauthorized,
    403: E.forbidden,
    404: E.consumeNotFound,
    410: E.gone,
    500: E.internal,
  })
  consumeEmailChallenge(@Principal() caller: Caller, @Param('challengeId') challengeId: string) {
    return this.challenges.consume(caller, challengeId);
  }
}
