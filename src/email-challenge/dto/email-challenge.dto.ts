import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IntField, JsonObjectField, StringField } from '../../common/validation/fields';
import { RejectUnknownFields } from '../../common/validation/validation.pipe';

export const CHALLENGE_STATUSES = ['PENDING', 'VERIFIED', 'CONSUMED', 'EXPIRED', 'LOCKED'] as const;
export type ChallengeStatus = (typeof CHALLENGE_STATUSES)[number];

export const CONTEXT_MAX_BYTES = 8 * 1024;
const ID_EXAMPLE = 'q3Zr0VbXh1Jm-8cT2pLw';

@RejectUnknownFields()
export class CreateEmailChallengeRequestDto {
  @StringField({
    max: 200,
    description: 'The subject user: the code is sent to this user’s verified email address.',
    example: ID_EXAMPLE,
  })
  userId: string;

  @StringField({
    max: 100,
    pattern: /^[^\p{Cc}]+$/u,
    patternMessage: 'value must not contain control characters',
    description: 'Name of the operation the challenge authorises; shown in the email.',
    example: 'payment.approve',
  })
  operation: string;

  @JsonObjectField({
    optional: true,
    maxBytes: CONTEXT_MAX_BYTES,
    description: 'The step-up request context (at most 8 KiB as JSON), returned once by `:consume`.',
    example: { paymentId: 'p-123', amount: '100.00 EUR' },
  })
  context?: Record<string, unknown>;

  @IntField({
    optional: true,
    min: 60,
    max: 600,
    description: 'Lifetime of the code in seconds (default 300).',
    example: 300,
  })
  ttlSeconds?: number;
}

export class CreateEmailChallengeResponseDto {
  @ApiProperty({ example: ID_EXAMPLE })
  challengeId: string;

  @ApiProperty({ enum: ['PENDING'], example: 'PENDING' })
  status: 'PENDING';

  @ApiProperty({ format: 'date-time', example: '2025-03-05T21:34:22.094Z' })
  expiresAt: string;

  @ApiProperty({ description: 'The address the code was sent to, masked.', example: 'j***e@example.com' })
  maskedEmail: string;
}

@RejectUnknownFields()
export class VerifyEmailRequestDto {
  @StringField({
    max: 20,
    description: 'The Time-Based One-Time Password (TOTP) sent to the mail for verification',
  })
  totp: string;
}

export class VerifyEmailResponseDto {
  @ApiProperty({ example: ID_EXAMPLE })
  challengeId: string;

  @ApiProperty({ enum: ['VERIFIED'], example: 'VERIFIED' })
  status: 'VERIFIED';

  @ApiProperty({ format: 'date-time', example: '2025-03-05T21:30:02.511Z' })
  verifiedAt: string;
}

export class EmailChallengeDto {
  @ApiProperty({ example: ID_EXAMPLE })
  challengeId: string;

  @ApiProperty({ example: '312909075212468600' })
  userId: string;

  @ApiProperty({ example: 'payment.approve' })
  operation: string;

  @ApiProperty({
    enum: CHALLENGE_STATUSES,
    enumName: 'EmailChallengeStatus',
    description: 'Where the challenge stands.',
  })
  status: ChallengeStatus;

  @ApiProperty({ format: 'date-time', example: '2025-03-05T21:34:22.094Z' })
  expiresAt: string;

  @ApiPropertyOptional({ format: 'date-time', example: '2025-03-05T21:30:02.511Z' })
  verifiedAt?: string;

  @ApiProperty({ type: 'integer', description: 'Wrong codes that may still be entered.', example: 5 })
  attemptsRemaining: number;
}

export class ResendEmailChallengeResponseDto {
  @ApiProperty({ example: ID_EXAMPLE })
  challengeId: string;

  @ApiProperty({
    format: 'date-time',
    description: 'The new expiry: the resent code is valid for the challenge’s full lifetime.',
    example: '2025-03-05T21:36:22.094Z',
  })
  expiresAt: string;
}

export class ConsumeEmailChallengeResponseDto {
  @ApiProperty({ example: ID_EXAMPLE })
  challengeId: string;

  @ApiProperty({ example: '312909075212468600' })
  userId: string;

  @ApiProperty({ example: 'payment.approve' })
  operation: string;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'The request context given at creation ({} when none was given).',
  })
  context: Record<string, unknown>;
}
