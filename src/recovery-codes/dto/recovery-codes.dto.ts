import { ApiProperty } from '@nestjs/swagger';
import { ObjectDetailsDto } from '../../common/events/details';
import { IntField, StringField } from '../../common/validation/fields';

export const RECOVERY_DETAILS = {
  sequence: '9',
  changeDate: '2025-03-05T21:29:22.094Z',
  resourceOwner: '69629023906488334',
};

/** `GenerateRecoveryCodesRequest` (`userId` comes from the path). */
export class GenerateRecoveryCodesRequestDto {
  @IntField({
    optional: true,
    min: 1,
    max: 50,
    description: 'How many codes to generate; default RECOVERY_CODE_COUNT (10).',
    example: 10,
  })
  count?: number;
}

/** `GenerateRecoveryCodesResponse`: the codes, shown this once. */
export class GenerateRecoveryCodesResponseDto {
  @ApiProperty({ type: () => ObjectDetailsDto })
  details: ObjectDetailsDto;

  @ApiProperty({
    type: [String],
    description: 'The new single-use codes. They are not stored in clear and cannot be shown again.',
    example: ['7KQ2M-XH4PZ', 'R9C3T-WJ6NE'],
  })
  recoveryCodes: string[];
}

/** `RemoveRecoveryCodesResponse`. */
export class RemoveRecoveryCodesResponseDto {
  @ApiProperty({ type: () => ObjectDetailsDto })
  details: ObjectDetailsDto;
}

/** Our extension: one recovery code, as shown at generation (case, dashes and spaces do not matter). */
export class CheckRecoveryCodeRequestDto {
  @StringField({ max: 200, description: 'A recovery code of the user', example: '7KQ2M-XH4PZ' })
  code: string;
}

export class CheckRecoveryCodeResponseDto {
  @ApiProperty({ type: () => ObjectDetailsDto })
  details: ObjectDetailsDto;

  @ApiProperty({ type: Number, description: 'How many unused codes the user has left.', example: 9 })
  remaining: number;
}
