import { Global, Module } from '@nestjs/common';
import { AuthDirectory } from '../common/auth/auth-directory';
import { BootstrapAdminService } from './bootstrap-admin.service';
import { IdentityDirectory } from './identity-directory';
import { InstanceMembersController, OrganizationsController, UsersController } from './identity.controller';
import { IdentityRepository } from './identity.repository';
import { IdentityService } from './identity.service';
import { UsersReader } from './users-reader';

/** Organisations, users, tokens and roles. Exports the auth port and a read model of users. */
@Global()
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
