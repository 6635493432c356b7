import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Caller, RequirePermission, userBody } from '../common/auth/decorators';
import { Principal } from '../common/auth/principal';
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
import {
  EmailChallengeErrorResponses,
  EmailErrorDocs as Doc,
  EmailErrorExamples as Example,
} from './email-challenge.openapi';
import { EmailChallengeService } from './email-challenge.service';
import { CountsOutcome } from '../common/observability/verify-outcome';

const BASE = '/internal/v1/mfa/totp-email';
const CHALLENGE_ID = {
  name: 'challengeId',
  required: true,
  description: 'The ID is challenge id received during operation initiation which required challenge.',
};

/**
 * Email step-up challenges. Every error on these routes, from validation to 500, is
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
    400: Doc.badRequest,
    401: Doc.unauthorized,
    403: Doc.forbidden,
    404: { description: Doc.userNotFound, ...Example.userNotFound },
    500: Doc.internal,
    503: Doc.unavailable,
  })
  createEmailChallenge(@Caller() caller: Principal, @Body() dto: CreateEmailChallengeRequestDto) {
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
    400: { description: 'Bad Request', ...Example.invalidCode },
    410: '',
    500: 'Internal Server Error',
    401: Doc.unauthorized,
    403: { description: Doc.notSubject, ...Example.notSubject },
    404: Doc.notFound,
  })
  verifyEmail(
    @Caller() caller: Principal,
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
    401: Doc.unauthorized,
    403: Doc.forbidden,
    404: Doc.notFound,
    500: Doc.internal,
  })
  getEmailChallenge(@Caller() caller: Principal, @Param('challengeId') challengeId: string) {
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
    401: Doc.unauthorized,
    403: Doc.forbidden,
    404: Doc.notFound,
    410: Doc.gone,
    429: Doc.cooldown,
    500: Doc.internal,
    503: Doc.unavailable,
  })
  resendEmail(@Caller() caller: Principal, @Param('challengeId') challengeId: string) {
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
    400: { description: Doc.badRequest, ...Example.notVerified },
    401: Doc.unauthorized,
    403: Doc.forbidden,
    404: Doc.consumeNotFound,
    410: Doc.gone,
    500: Doc.internal,
  })
  consumeEmailChallenge(@Caller() caller: Principal, @Param('challengeId') challengeId: string) {
    return this.challenges.consume(caller, challengeId);
  }
}
