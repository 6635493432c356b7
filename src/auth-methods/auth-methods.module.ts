import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { IdentityModule } from '../identity';
import { AuthMethodsController } from './auth-methods.controller';
import { AuthMethodsService } from './auth-methods.service';

/** The factor list over every module's AuthMethodSource. */
@Module({
  imports: [DiscoveryModule, IdentityModule],
  controllers: [AuthMethodsController],
  providers: [AuthMethodsService],
})
export class AuthMethodsModule {}
