import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { AuthMethodsController } from './auth-methods.controller';
import { AuthMethodsService } from './auth-methods.service';

/** The factor list over every module's AuthMethodSource. */
@Module({
  imports: [DiscoveryModule],
  controllers: [AuthMethodsController],
  providers: [AuthMethodsService],
})
export class AuthMethodsModule {}
