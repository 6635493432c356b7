import { applyDecorators, Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { DetailsResponseDto } from '../common/openapi/details-response.dto';
import { Caller, orgBody, orgParam, RequirePermission, userParam } from '../common/auth/decorators';
import { Principal } from '../common/auth/principal';
import { INSTANCE_SCOPE } from './entities/membership.entity';
import { zitadelError, ZitadelErrorResponses } from '../common/openapi/responses';
import {
  AddHumanUserRequestDto,
  AddMachineUserRequestDto,
  AddPersonalAccessTokenRequestDto,
  AddPersonalAccessTokenResponseDto,
  AddUserResponseDto,
  CreateOrganizationRequestDto,
  CreateOrganizationResponseDto,
  GetUserByIDResponseDto,
  SetInstanceMemberRequestDto,
  SetOrgMemberRequestDto,
} from './dto/identity.dto';
import { IdentityService } from './identity.service';

const errorBody = (code: number, id: string, text: string) => zitadelError(code, text, id);

/** The ZITADEL v4 global 400/401 responses, on top of 403/404/default. */
const IdentityErrorResponses = () =>
  applyDecorators(
    ZitadelErrorResponses(),
    ApiBadRequestResponse({
      description: 'The request is malformed.',
      ...errorBody(3, 'COMMAND-dv3t5', 'Expiration date must be in the future'),
    }),
    ApiUnauthorizedResponse({
      description: 'Returned when the user is not authenticated.',
      ...errorBody(16, 'AUTH-7fs1e', 'Token is invalid'),
    }),
  );
const AlreadyExists = (id: string, text: string) =>
  ApiConflictResponse({ description: 'Returned when the object already exists.', ...errorBody(6, id, text) });

const USER_ID = {
  name: 'userId',
  description: 'unique identifier of the user.',
  example: '163840776835432705',
};

@ApiTags('Organizations')
@IdentityErrorResponses()
@Controller('v2/organizations')
export class OrganizationsController {
  constructor(private readonly identity: IdentityService) {}

  @Post()
  @HttpCode(200)
  @RequirePermission('org.create')
  @ApiOperation({ summary: 'Create an Organization', description: 'Create a new organization.' })
  @ApiOkResponse({ type: CreateOrganizationResponseDto, description: 'OK' })
  @AlreadyExists('COMMAND-8ugTs', 'Organisation already exists')
  AddOrganization(@Caller() caller: Principal, @Body() dto: CreateOrganizationRequestDto) {
    return this.identity.createOrganization(caller, dto.name);
  }

  @Put(':orgId/members/:userId')
  @HttpCode(200)
  @RequirePermission('org.member.write', { target: orgParam('orgId') })
  @ApiOperation({
    summary: 'Set organization member',
    description: 'Grant a user roles on an organization (replaces its roles there).',
  })
  @ApiParam({ name: 'orgId', description: 'unique identifier of the organization.' })
  @ApiParam(USER_ID)
  @ApiOkResponse({ type: DetailsResponseDto, description: 'OK' })
  SetOrgMember(
    @Caller() caller: Principal,
    @Param('orgId') orgId: string,
    @Param('userId') userId: string,
    @Body() dto: SetOrgMemberRequestDto,
  ) {
    return this.identity.setMember(caller, orgId, userId, dto.roles);
  }

  @Delete(':orgId/members/:userId')
  @RequirePermission('org.member.write', { target: orgParam('orgId') })
  @ApiOperation({
    summary: 'Remove organization member',
    description: 'Remove all roles of a user on an organization.',
  })
  @ApiParam({ name: 'orgId', description: 'unique identifier of the organization.' })
  @ApiParam(USER_ID)
  @ApiOkResponse({ type: DetailsResponseDto, description: 'OK' })
  RemoveOrgMember(
    @Caller() caller: Principal,
    @Param('orgId') orgId: string,
    @Param('userId') userId: string,
  ) {
    return this.identity.removeMember(caller, orgId, userId);
  }
}

@ApiTags('Instance')
@IdentityErrorResponses()
@Controller('v2/instance/members')
export class InstanceMembersController {
  constructor(private readonly identity: IdentityService) {}

  @Put(':userId')
  @HttpCode(200)
  @RequirePermission('iam.member.write')
  @ApiOperation({
    summary: 'Set instance member',
    description: 'Grant a user roles on the whole instance (replaces its instance roles).',
  })
  @ApiParam(USER_ID)
  @ApiOkResponse({ type: DetailsResponseDto, description: 'OK' })
  SetInstanceMember(
    @Caller() caller: Principal,
    @Param('userId') userId: string,
    @Body() dto: SetInstanceMemberRequestDto,
  ) {
    return this.identity.setMember(caller, INSTANCE_SCOPE, userId, dto.roles);
  }

  @Delete(':userId')
  @RequirePermission('iam.member.write')
  @ApiOperation({ summary: 'Remove instance member', description: 'Remove all instance roles of a user.' })
  @ApiParam(USER_ID)
  @ApiOkResponse({ type: DetailsResponseDto, description: 'OK' })
  RemoveInstanceMember(@Caller() caller: Principal, @Param('userId') userId: string) {
    return this.identity.removeMember(caller, INSTANCE_SCOPE, userId);
  }
}

@ApiTags('Users')
@IdentityErrorResponses()
@Controller('v2/users')
export class UsersController {
  constructor(private readonly identity: IdentityService) {}

  @Post('human')
  @HttpCode(200)
  @RequirePermission('user.write', { target: orgBody('organization.orgId') })
  @ApiOperation({
    summary: 'Create a new human user',
    description: 'Create/import a new user with the type human.',
  })
  @ApiOkResponse({ type: AddUserResponseDto, description: 'OK' })
  @AlreadyExists('COMMAND-k2unb', 'User already exists')
  AddHumanUser(@Caller() caller: Principal, @Body() dto: AddHumanUserRequestDto) {
    return this.identity.addHumanUser(caller, dto);
  }

  @Post('machine')
  @HttpCode(200)
  @RequirePermission('user.write', { target: orgBody('organization.orgId') })
  @ApiOperation({
    summary: 'Create a new machine user',
    description: 'Create a new user with the type machine, for services that call the API.',
  })
  @ApiOkResponse({ type: AddUserResponseDto, description: 'OK' })
  @AlreadyExists('COMMAND-k2unb', 'User already exists')
  AddMachineUser(@Caller() caller: Principal, @Body() dto: AddMachineUserRequestDto) {
    return this.identity.addMachineUser(caller, dto);
  }

  @Get(':userId')
  @RequirePermission('user.read', { self: true, target: userParam('userId') })
  @ApiOperation({
    summary: 'User by ID',
    description: 'Returns the full user object (human or machine) including the profile, email, etc..',
  })
  @ApiParam(USER_ID)
  @ApiOkResponse({ type: GetUserByIDResponseDto, description: 'OK' })
  GetUserByID(@Param('userId') userId: string) {
    return this.identity.getUser(userId);
  }

  @Delete(':userId')
  @RequirePermission('user.write', { target: userParam('userId') })
  @ApiOperation({
    summary: 'Delete user',
    description:
      "The state of the user will be changed to 'deleted'. The user will not be able to log in anymore. Its factors, tokens and memberships are removed with it.",
  })
  @ApiParam(USER_ID)
  @ApiOkResponse({ type: DetailsResponseDto, description: 'OK' })
  DeleteUser(@Caller() caller: Principal, @Param('userId') userId: string) {
    return this.identity.deleteUser(caller, userId);
  }

  @Post(':userId/deactivate')
  @HttpCode(200)
  @RequirePermission('user.write', { target: userParam('userId') })
  @ApiOperation({
    summary: 'Deactivate user',
    description:
      "The state of the user will be changed to 'deactivated'. The user will not be able to log in anymore: its tokens are refused until it is reactivated.",
  })
  @ApiParam(USER_ID)
  @ApiOkResponse({ type: DetailsResponseDto, description: 'OK' })
  DeactivateUser(@Caller() caller: Principal, @Param('userId') userId: string) {
    return this.identity.changeUserState(caller, userId, 'deactivate');
  }

  @Post(':userId/reactivate')
  @HttpCode(200)
  @RequirePermission('user.write', { target: userParam('userId') })
  @ApiOperation({
    summary: 'Reactivate user',
    description:
      "Reactivate a user with the state 'deactivated'. The user will be able to log in again afterward.",
  })
  @ApiParam(USER_ID)
  @ApiOkResponse({ type: DetailsResponseDto, description: 'OK' })
  ReactivateUser(@Caller() caller: Principal, @Param('userId') userId: string) {
    return this.identity.changeUserState(caller, userId, 'reactivate');
  }

  @Post(':userId/lock')
  @HttpCode(200)
  @RequirePermission('user.write', { target: userParam('userId') })
  @ApiOperation({
    summary: 'Lock user',
    description:
      "The state of the user will be changed to 'locked'. The user will not be able to log in anymore: its tokens are refused until it is unlocked.",
  })
  @ApiParam(USER_ID)
  @ApiOkResponse({ type: DetailsResponseDto, description: 'OK' })
  LockUser(@Caller() caller: Principal, @Param('userId') userId: string) {
    return this.identity.changeUserState(caller, userId, 'lock');
  }

  @Post(':userId/unlock')
  @HttpCode(200)
  @RequirePermission('user.write', { target: userParam('userId') })
  @ApiOperation({
    summary: 'Unlock user',
    description:
      "The state of the user will be changed to 'active'. The user will be able to log in again afterward.",
  })
  @ApiParam(USER_ID)
  @ApiOkResponse({ type: DetailsResponseDto, description: 'OK' })
  UnlockUser(@Caller() caller: Principal, @Param('userId') userId: string) {
    return this.identity.changeUserState(caller, userId, 'unlock');
  }

  @Post(':userId/pats')
  @HttpCode(200)
  @RequirePermission('user.write', { self: true, target: userParam('userId') })
  @ApiOperation({
    summary: 'Add a Personal Access Token',
    description:
      'Personal access tokens (PAT) are the way for users to call the API. The token is shown only in this response.',
  })
  @ApiParam(USER_ID)
  @ApiOkResponse({ type: AddPersonalAccessTokenResponseDto, description: 'OK' })
  AddPersonalAccessToken(
    @Caller() caller: Principal,
    @Param('userId') userId: string,
    @Body() dto: AddPersonalAccessTokenRequestDto,
  ) {
    return this.identity.addPersonalAccessToken(caller, userId, dto.expirationDate);
  }

  @Delete(':userId/pats/:tokenId')
  @RequirePermission('user.write', { self: true, target: userParam('userId') })
  @ApiOperation({
    summary: 'Remove a Personal Access Token',
    description: 'Revoke a personal access token; it stops working at once.',
  })
  @ApiParam(USER_ID)
  @ApiParam({ name: 'tokenId', description: 'unique identifier of the token.' })
  @ApiOkResponse({ type: DetailsResponseDto, description: 'OK' })
  RemovePersonalAccessToken(
    @Caller() caller: Principal,
    @Param('userId') userId: string,
    @Param('tokenId') tokenId: string,
  ) {
    return this.identity.removePersonalAccessToken(caller, userId, tokenId);
  }
}
