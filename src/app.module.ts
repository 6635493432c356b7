import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE, DiscoveryModule } from '@nestjs/core';
import { AuthGuard } from './common/auth/auth.guard';
import { AuthModule } from './common/auth/auth.module';
import { StepUpGuard } from './common/auth/step-up';
import { AppConfig } from './common/config/app-config';
import { ConfigModule } from './common/config/config.module';
import { CryptoModule } from './common/crypto/crypto.module';
import { DatabaseModule } from './common/database/database.module';
import { AllExceptionsFilter } from './common/errors/all-exceptions.filter';
import { RouteRegistry } from './common/errors/route-registry';
import { EventsModule } from './common/events/events.module';
import { HealthController } from './common/health/health.controller';
import { LoggingModule } from './common/logging/logging.module';
import { Metrics } from './common/observability/metrics';
import { MetricsServer } from './common/observability/metrics-server';
import { ObservabilityModule } from './common/observability/observability.module';
import { ClockModule } from './common/time/clock';
import { PathIdGuard } from './common/validation/path-id.guard';
import { AppValidationPipe } from './common/validation/validation.pipe';
import { ENTITIES } from './entities';
import { EmailChallengeModule } from './email-challenge/email-challenge.module';
import { IdentityModule } from './identity/identity.module';
import { NotificationsModule } from './notifications/notifications.module';
import { OtpSmsModule } from './otp-sms/otp-sms.module';
import { RpcModule } from './rpc/rpc.module';
import { TotpModule } from './totp/totp.module';
import { AuthMethodsModule } from './auth-methods/auth-methods.module';
import { OneTimeCodeModule } from './common/one-time-code/one-time-code.module';
import { OtpEmailModule } from './otp-email/otp-email.module';
import { RecoveryCodesModule } from './recovery-codes/recovery-codes.module';

/** The modular monolith. Global pipe, guard and filter are registered here so tests get them too. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule,
        ObservabilityModule,
        DiscoveryModule,
        ClockModule,
        CryptoModule,
        DatabaseModule.forRoot(ENTITIES),
        EventsModule,
        OneTimeCodeModule,
        AuthModule.forRoot(IdentityModule),
        IdentityModule,
        EmailChallengeModule,
        OtpSmsModule,
        TotpModule,
        OtpEmailModule,
        RecoveryCodesModule,
        AuthMethodsModule,
        NotificationsModule,
        RpcModule,
      ],
      controllers: [HealthController],
      providers: [
        RouteRegistry,
        // Prometheus metrics and their management server, unless METRICS_PORT=0.
        ...(config.metrics ? [Metrics, MetricsServer] : []),
        { provide: APP_PIPE, useClass: AppValidationPipe },
        // Over-long path ids are refused before the permission is judged (as ZITADEL's validation does).
        { provide: APP_GUARD, useClass: PathIdGuard },
        { provide: APP_GUARD, useClass: AuthGuard },
        // After AuthGuard: it needs the principal.
        { provide: APP_GUARD, useClass: StepUpGuard },
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
      ],
    };
  }
}
