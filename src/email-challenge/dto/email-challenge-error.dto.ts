import { ApiProperty } from '@nestjs/swagger';
import { EMAIL_API_CODE_PREFIX, EMAIL_API_CODES } from '../../common/errors/domain-error';

/** The API's ten error codes (EMAIL_API_CODES), as URNs, in the order clients know them. */
export const EMAIL_API_URNS = EMAIL_API_CODES.map((c) => EMAIL_API_CODE_PREFIX + c);

export class EmailChallengeFieldErrorDto {
  @ApiProperty({ description: 'The offending field, e.g. `totp`.', example: 'totp' })
  field: string;

  @ApiProperty({ enum: EMAIL_API_URNS, example: EMAIL_API_CODE_PREFIX + 'BAD_REQUEST' })
  code: string;

  @ApiProperty({ example: 'value length must be between 1 and 20 runes, inclusive' })
  message: string;
}

/** The email-challenge API's error body (7 properties), as rendered by the shared exception filter. */
export class EmailChallengeErrorDto {
  @ApiProperty({ enum: EMAIL_API_URNS })
  code: string;

  @ApiProperty()
  message: string;

  @ApiProperty()
  requestId: string;

  @ApiProperty({ type: () => [EmailChallengeFieldErrorDto] })
  fieldErrors: EmailChallengeFieldErrorDto[];

  @ApiProperty({ type: 'integer', description: 'The HTTP status.', example: 400 })
  status: number;

  @ApiProperty({ format: 'date-time' })
  timestamp: string;

  @ApiProperty({
    description: 'The request path.',
    example: '/internal/v1/mfa/totp-email/312909075212468632:verify',
  })
  path: string;
}
