import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ValidateBy } from 'class-validator';
import { INSTANCE_ROLES, ORG_ROLES } from '../../common/auth/permissions';
import { ObjectDetailsDto } from '../../common/events/details';
import { BoolField, NestedField, StringField } from '../../common/validation/fields';

export class CreateOrganizationRequestDto {
  @StringField({ max: 200, description: 'Name of the organization.', example: 'ACME' })
  name: string;
}

export class CreateOrganizationResponseDto {
  @ApiProperty({ type: () => ObjectDetailsDto })
  details: ObjectDetailsDto;
  @ApiProperty({ example: '69629023906488334' })
  organizationId: string;
}

export class OrganizationRefDto {
  @StringField({
    max: 200,
    description: 'ID of the organization the user belongs to.',
    example: '69629023906488334',
  })
  orgId: string;
}

export class SetHumanProfileDto {
  @StringField({ max: 200, example: 'Minnie' })
  givenName: string;
  @StringField({ max: 200, example: 'Mouse' })
  familyName: string;
  @StringField({
    max: 10,
    optional: true,
    example: 'en',
    pattern: /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/,
    patternMessage: 'value must be a BCP 47 language tag',
  })
  preferredLanguage?: string;
}

export class SetHumanEmailDto {
  @StringField({
    max: 200,
    example: 'mini@mouse.com',
    pattern: /^[^\s@]+@[^\s@]+\.[^\s@]+$/,
    patternMessage: 'value must be a valid email address',
  })
  email: string;
  @BoolField({ optional: true, description: 'Mark the email as verified.' })
  isVerified?: boolean;
}

export class SetHumanPhoneDto {
  @StringField({
    max: 20,
    example: '+41791234567',
    pattern: /^\+[1-9]\d{6,14}$/,
    patternMessage: 'value must be a phone number in E.164 format',
  })
  phone: string;
  @BoolField({ optional: true, description: 'Mark the phone as verified.' })
  isVerified?: boolean;
}

const USERNAME = {
  max: 200,
  pattern: /^[^\s]+$/,
  patternMessage: 'value must not contain white space',
} as const;

export class AddHumanUserRequestDto {
  @NestedField({ type: () => OrganizationRefDto })
  organization: OrganizationRefDto;
  @StringField({ ...USERNAME, example: 'minnie-mouse' })
  username: string;
  @NestedField({ type: () => SetHumanProfileDto })
  profile: SetHumanProfileDto;
  @NestedField({ type: () => SetHumanEmailDto })
  email: SetHumanEmailDto;
  @NestedField({ type: () => SetHumanPhoneDto, optional: true })
  phone?: SetHumanPhoneDto;
}

export class AddMachineUserRequestDto {
  @NestedField({ type: () => OrganizationRefDto })
  organization: OrganizationRefDto;
  @StringField({ ...USERNAME, example: 'billing-service' })
  username: string;
  @StringField({ max: 200, example: 'Billing service' })
  name: string;
}

export class AddUserResponseDto {
  @ApiProperty({ type: () => ObjectDetailsDto })
  details: ObjectDetailsDto;
  @ApiProperty({ example: '163840776835432705' })
  userId: string;
}

export class HumanProfileViewDto {
  @ApiProperty() givenName: string;
  @ApiProperty() familyName: string;
  @ApiPropertyOptional() preferredLanguage?: string;
}
export class HumanEmailViewDto {
  @ApiProperty({ example: 'mini@mouse.com' }) email: string;
  @ApiPropertyOptional({ description: 'Omitted when false.', example: true }) isVerified?: boolean;
}
export class HumanPhoneViewDto {
  @ApiProperty({ example: '+41791234567' }) phone: string;
  @ApiPropertyOptional({ description: 'Omitted when false.', example: true }) isVerified?: boolean;
}
export class HumanUserViewDto {
  @ApiProperty({ type: () => HumanProfileViewDto }) profile: HumanProfileViewDto;
  @ApiProperty({ type: () => HumanEmailViewDto }) email: HumanEmailViewDto;
  @ApiPropertyOptional({ type: () => HumanPhoneViewDto }) phone?: HumanPhoneViewDto;
}
export class MachineUserViewDto {
  @ApiProperty() name: string;
}
export const USER_STATES = ['USER_STATE_ACTIVE', 'USER_STATE_INACTIVE', 'USER_STATE_LOCKED'] as const;
export class UserViewDto {
  @ApiProperty({ example: '163840776835432705' }) userId: string;
  @ApiProperty({ enum: USER_STATES }) state: (typeof USER_STATES)[number];
  @ApiProperty({ example: 'minnie-mouse' }) username: string;
  @ApiProperty({ type: [String], example: ['minnie-mouse@acme.localhost'] }) loginNames: string[];
  @ApiPropertyOptional({ type: () => HumanUserViewDto }) human?: HumanUserViewDto;
  @ApiPropertyOptional({ type: () => MachineUserViewDto }) machine?: MachineUserViewDto;
}
export class GetUserByIDResponseDto {
  @ApiProperty({ type: () => ObjectDetailsDto }) details: ObjectDetailsDto;
  @ApiProperty({ type: () => UserViewDto }) user: UserViewDto;
}

export class AddPersonalAccessTokenRequestDto {
  @StringField({
    max: 40,
    optional: true,
    description: 'Expiration of the token (RFC 3339). Without it the token does not expire.',
    example: '2519-04-01T08:45:00.000000Z',
    pattern: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/,
    patternMessage: 'value must be an RFC 3339 timestamp',
  })
  expirationDate?: string;
}

export class AddPersonalAccessTokenResponseDto {
  @ApiProperty({ type: () => ObjectDetailsDto }) details: ObjectDetailsDto;
  @ApiProperty({ example: '163840776835432705' }) tokenId: string;
  @ApiProperty({ description: 'The token. It is shown only once.', example: 'mfa_6Xr…' }) token: string;
}

/** A list of role names: one validator, so the first message is the relevant one (not a list → "value must be a list"). */
function RoleListField(roles: readonly string[], example: string) {
  return applyDecorators(
    ApiProperty({
      enum: [...roles],
      isArray: true,
      example: [example],
      description: 'The roles to hold (replaces the current ones), at least one.',
    }),
    ValidateBy({
      name: 'roleList',
      validator: {
        validate: (v: unknown) =>
          Array.isArray(v) &&
          v.length >= 1 &&
          v.length <= 10 &&
          v.every((r) => typeof r === 'string' && roles.includes(r)),
        defaultMessage: (args) =>
          !Array.isArray(args?.value)
            ? 'value must be a list'
            : args.value.length < 1 || args.value.length > 10
              ? 'value must contain between 1 and 10 item(s)'
              : `value must be in list [${roles.join(', ')}]`,
      },
    }),
  );
}

export class SetOrgMemberRequestDto {
  @RoleListField(ORG_ROLES, 'ORG_OWNER')
  roles: string[];
}

export class SetInstanceMemberRequestDto {
  @RoleListField(INSTANCE_ROLES, 'IAM_OWNER')
  roles: string[];
}
