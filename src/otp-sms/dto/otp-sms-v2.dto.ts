import { ApiProperty } from '@nestjs/swagger';
import { ObjectDetailsDto } from '../../common/events/details';
import { StringField } from '../../common/validation/fields';

/** `zitadel.object.v2.Details` example of a change (sequence, change date, owning organisation). */
export const OTP_SMS_DETAILS_EXAMPLE = {
  details: { sequence: '7', changeDate: '2025-03-05T21:29:22.094Z', resourceOwner: '69629023906488334' },
};

/** `AddOTPSMSResponse`. */
export class AddOTPSMSResponseDto {
  @ApiProperty({ type: () => ObjectDetailsDto })
  details: ObjectDetailsDto;
}

/** `RemoveOTPSMSResponse`. */
export class RemoveOTPSMSResponseDto {
  @ApiProperty({ type: () => ObjectDetailsDto })
  details: ObjectDetailsDto;
}

/** Our extension: the answer to sending a sign-in code (the code itself goes only to the phone). */
export class SendOTPSMSSignInCodeResponseDto {
  @ApiProperty({ type: () => ObjectDetailsDto })
  details: ObjectDetailsDto;
}

/** Our extension: a sign-in code received by SMS. */
export class CheckOTPSMSRequestDto {
  @StringField({ max: 200, description: 'The code received by SMS', example: '12345678' })
  code: string;
}

export class CheckOTPSMSResponseDto {
  @ApiProperty({ type: () => ObjectDetailsDto })
  details: ObjectDetailsDto;
}
