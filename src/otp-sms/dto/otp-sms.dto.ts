import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Equals, IsObject, IsOptional } from 'class-validator';
import { ResourceDetailsDto } from '../../common/events/details';
import { BoolField, StringField } from '../../common/validation/fields';

/** `zitadel.object.v3alpha.SendPhoneVerificationCode` (empty). */
export class SendPhoneVerificationCodeDto {}

/** `zitadel.object.v3alpha.ReturnPhoneVerificationCode` (empty). */
export class ReturnPhoneVerificationCodeDto {}

/**
 * An empty proto message: a JSON object, its content ignored. The class itself is passed (not a
 * `() => Class` thunk): Nest's swagger reads only thunks named `type` as lazy, so an inline arrow
 * would be documented as a schema without a name (`$ref: '#/components/schemas/'`).
 */
function EmptyMessageField(type: new () => object, description: string) {
  return (target: object, key: string) => {
    ApiPropertyOptional({ type, description })(target, key);
    IsOptional()(target, key);
    IsObject({ message: 'value must be an object' })(target, key);
  };
}

/** `zitadel.resources.user.v3alpha.SetPhone` – the body of AddOTPSMSAuthenticator (`body: "phone"`). */
export class SetPhoneDto {
  @StringField({
    max: 20,
    description: 'Phone number in E.164 format, e.g. +41791234567.',
    example: '+41791234567',
  })
  number: string;

  @EmptyMessageField(SendPhoneVerificationCodeDto, 'Let ZITADEL send the link to the user via SMS.')
  sendCode?: SendPhoneVerificationCodeDto;

  @EmptyMessageField(
    ReturnPhoneVerificationCodeDto,
    'Get the code back to provide it to the user in your preferred mechanism.',
  )
  returnCode?: ReturnPhoneVerificationCodeDto;

  @BoolField({ optional: true, description: 'Set the user phone as verified.', example: true })
  @Equals(true, { message: 'value must equal true' })
  isVerified?: boolean;
}

/** Body of `_resend` and `_challenge` (our extensions): how the new code travels. */
export class SendOTPSMSCodeRequestDto {
  @EmptyMessageField(SendPhoneVerificationCodeDto, 'Send the code to the phone by SMS (default).')
  sendCode?: SendPhoneVerificationCodeDto;

  @EmptyMessageField(ReturnPhoneVerificationCodeDto, 'Return the code in the response and send nothing.')
  returnCode?: ReturnPhoneVerificationCodeDto;
}

export class AddOTPSMSAuthenticatorResponseDto {
  @ApiProperty({ type: () => ResourceDetailsDto })
  details: ResourceDetailsDto;

  @ApiProperty({
    type: String,
    description: 'unique identifier of the OTP SMS registration.',
    example: '163840776835432705',
  })
  otpSmsId: string;

  @ApiPropertyOptional({
    type: String,
    description:
      'The OTP verification code will be set if a phone was set with a return_code verification option.',
    example: 'SKJd342k',
  })
  verificationCode?: string;
}

export class VerifyOTPSMSRegistrationResponseDto {
  @ApiProperty({ type: () => ResourceDetailsDto })
  details: ResourceDetailsDto;
}

export class RemoveOTPSMSAuthenticatorResponseDto {
  @ApiProperty({ type: () => ResourceDetailsDto })
  details: ResourceDetailsDto;
}

export class SendOTPSMSCodeResponseDto {
  @ApiProperty({ type: () => ResourceDetailsDto })
  details: ResourceDetailsDto;

  @ApiPropertyOptional({
    type: String,
    description: 'in case the verification was set to return_code, the code will be returned.',
    example: '12345678',
  })
  verificationCode?: string;
}

export class CheckOTPSMSCodeResponseDto {
  @ApiProperty({ type: () => ResourceDetailsDto })
  details: ResourceDetailsDto;
}
