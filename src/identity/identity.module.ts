import { Module } from '@nestjs/common';
import { AuthDirectory } from '../common/auth/auth-directory';
import { BootstrapAdminService } from './bootstrap-admin.service';
import { IdentityDirectory } from './identity-directory';
import { InstanceMembersController, OrganizationsController, UsersController } from './identity.controller';
import { IdentityRepository } from './identity.repository';
import { IdentityService } from './identity.service';
import { UsersReader } from './users-reader';

/**
 * Organisations, users, tokens and roles. Its public surface (src/identity/index.ts): the auth port
 * (for common/auth's token verifier and guard) and UsersReader, a read model of users for the
 * feature modules, which import this module.
 */
@Module({
  controllers: [OrganizationsController, InstanceMembersController, UsersController],
  providers: [
    IdentityService,
    IdentityRepository,
    IdentityDirectory,
    UsersReader,
    BootstrapAdminService,
    { provide: AuthDirectory, useExisting: IdentityDirectory },
  ],
  exports: [AuthDirectory, UsersReader],
})
export class IdentityModule {}
