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
  CheckRecoveryCodeRequestDto,
  CheckRecoveryCodeResponseDto,
  GenerateRecoveryCodesRequestDto,
  GenerateRecoveryCodesResponseDto,
  RECOVERY_DETAILS,
  RemoveRecoveryCodesResponseDto,
} from './dto/recovery-codes.dto';
import { RecoveryCodesService } from './recovery-codes.service';

const USER_ID = {
  name: 'userId',
  required: true,
  example: '163840776835432705',
  schema: { type: 'string' as const, minLength: 1, maxLength: 200 },
};
const LOCKED = ZitadelResponse(
  429,
  'Too many failed codes: checks are refused until the attempt window ends (see Retry-After).',
  zitadelError(8, 'Too many failed attempts, try again later', 'RECOVERY-l0ck3d'),
);

/** ZITADEL User Service v2: recovery codes of a user, plus our `_check`. */
@ApiTags('User Service')
@ZitadelMediaTypes()
@ZitadelErrorResponses('invalid GenerateRecoveryCodesRequest.Count: value must be inside range [1, 50]')
@Controller('v2/users/:userId/recovery_codes')
export class RecoveryCodesController {
  constructor(private readonly recovery: RecoveryCodesService) {}

  @Post()
  @HttpCode(200)
  @RequirePermission('user.credential.write', { self: true, target: userParam('userId') })
  @ApiOperation({
    summary: 'Generate single-use recovery codes for a user',
    description:
      'Generate new single-use recovery codes for the authenticated user. Recovery codes can be used to recover access to the account if other second factors are not available. The codes are returned only in this response; generating again replaces all previous codes.',
  })
  @ApiParam(USER_ID)
  @ApiBody({ type: GenerateRecoveryCodesRequestDto, required: false })
  @ApiOkResponse({
    type: GenerateRecoveryCodesResponseDto,
    description: 'OK',
    example: { details: RECOVERY_DETAILS, recoveryCodes: ['7KQ2M-XH4PZ', 'R9C3T-WJ6NE'] },
  })
  GenerateRecoveryCodes(
    @Caller() caller: Principal,
    @Param('userId') userId: string,
    @Body() dto: GenerateRecoveryCodesRequestDto,
  ) {
    return this.recovery.generate(caller, userId, dto.count);
  }

  @Delete()
  @RequirePermission('user.write', { self: true, target: userParam('userId') })
  @RequireStepUpForFactorRemoval(userParam('userId'))
  @ApiOperation({
    summary: 'Remove recovery codes from a user',
    description:
      'Remove all recovery codes from the authenticated user. This will disable the recovery code second factor.',
  })
  @ApiParam(USER_ID)
  @ApiOkResponse({
    type: RemoveRecoveryCodesResponseDto,
    description: 'OK',
    example: { details: RECOVERY_DETAILS },
  })
  RemoveRecoveryCodes(@Caller() caller: Principal, @Param('userId') userId: string) {
    return this.recovery.remove(caller, userId);
  }

  @Post('_check')
  @CountsOutcome('recovery_code')
  @HttpCode(200)
  @RequirePermission('user.credential.write', { self: true, target: userParam('userId') })
  @ApiOperation({
    summary: 'Check a recovery code of a user',
    description:
      'Extension of this service: use one recovery code at sign-in. Each code works once; the answer says how many remain. Failed codes count towards a limit of OTP_MAX_ATTEMPTS per OTP_LOCKOUT_SECONDS (429 with Retry-After).',
  })
  @ApiParam(USER_ID)
  @ApiBody({ type: CheckRecoveryCodeRequestDto, required: true })
  @ApiOkResponse({
    type: CheckRecoveryCodeResponseDto,
    description: 'OK',
    example: { details: RECOVERY_DETAILS, remaining: 9 },
  })
  @LOCKED
  CheckRecoveryCode(
    @Caller() caller: Principal,
    @Param('userId') userId: string,
    @Body() dto: CheckRecoveryCodeRequestDto,
  ) {
    return this.recovery.check(caller, userId, dto.code);
  }
}
