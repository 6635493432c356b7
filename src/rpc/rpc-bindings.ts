import { RequestMethod, Type } from '@nestjs/common';
import type { JsonObject, JsonValue } from '@bufbuild/protobuf';
import { AuthMethodsController } from '../auth-methods/auth-methods.controller';
import { UsersController } from '../identity/identity.controller';
import { OtpEmailController } from '../otp-email/otp-email.controller';
import { OtpSmsV2Controller } from '../otp-sms/otp-sms-v2.controller';
import { OtpSmsController } from '../otp-sms/otp-sms.controller';
import { MyOtpController, TotpController } from '../totp/totp.controller';
import { RestRequest } from './rest-twin';

/**
 * An RPC served by the REST route that does the same thing (its twin). The RPC's request message,
 * in its canonical JSON form (proto3 JSON, the form grpc-gateway maps to REST), becomes the route's
 * path parameters, query and body, as the route's `google.api.http` rule of ZITADEL's proto does;
 * the route's JSON answer is read back as the RPC's response message.
 */
export interface RpcBinding {
  /** The RPC's name in its service descriptor, e.g. `VerifyTOTPRegistration`. */
  rpc: string;
  controller: Type;
  /** The controller method (the REST handler). */
  handler: string;
  method: RequestMethod;
  request: (message: JsonObject) => RestRequest;
}

const str = (v: JsonValue | undefined): string => (typeof v === 'string' ? v : '');

/** The JSON form of the message without the fields the REST route takes from its path. */
function without(message: JsonObject, ...keys: string[]): JsonObject {
  const rest = { ...message };
  for (const key of keys) delete rest[key];
  return rest;
}

const userPath = (m: JsonObject) => ({ params: { userId: str(m.userId) } });
const noRequest = (): RestRequest => ({});

/** The v3alpha request header fields, which grpc-gateway reads from the query string. */
function v3alphaScope(m: JsonObject): Record<string, string> {
  const query: Record<string, string> = {};
  const instance = (m.instance ?? {}) as JsonObject;
  const org = (m.organization ?? {}) as JsonObject;
  if (instance.id) query['instance.id'] = str(instance.id);
  if (instance.domain) query['instance.domain'] = str(instance.domain);
  if (org.orgId) query['organization.orgId'] = str(org.orgId);
  if (org.orgDomain) query['organization.orgDomain'] = str(org.orgDomain);
  return query;
}

/** `zitadel.user.v2.UserService`: every method with a REST route here. */
export const USER_SERVICE_V2: RpcBinding[] = [
  {
    rpc: 'AddHumanUser',
    controller: UsersController,
    handler: 'AddHumanUser',
    method: RequestMethod.POST,
    request: (m) => ({ body: m }),
  },
  {
    rpc: 'GetUserByID',
    controller: UsersController,
    handler: 'GetUserByID',
    method: RequestMethod.GET,
    request: userPath,
  },
  ...(['DeactivateUser', 'ReactivateUser', 'LockUser', 'UnlockUser'] as const).map((rpc) => ({
    rpc,
    controller: UsersController,
    handler: rpc,
    method: RequestMethod.POST,
    request: userPath,
  })),
  {
    rpc: 'DeleteUser',
    controller: UsersController,
    handler: 'DeleteUser',
    method: RequestMethod.DELETE,
    request: userPath,
  },
  {
    rpc: 'AddPersonalAccessToken',
    controller: UsersController,
    handler: 'AddPersonalAccessToken',
    method: RequestMethod.POST,
    request: (m) => ({ ...userPath(m), body: without(m, 'userId') }),
  },
  {
    rpc: 'RemovePersonalAccessToken',
    controller: UsersController,
    handler: 'RemovePersonalAccessToken',
    method: RequestMethod.DELETE,
    request: (m) => ({ params: { userId: str(m.userId), tokenId: str(m.tokenId) } }),
  },
  {
    rpc: 'RegisterTOTP',
    controller: TotpController,
    handler: 'RegisterTOTP',
    method: RequestMethod.POST,
    request: userPath,
  },
  {
    rpc: 'VerifyTOTPRegistration',
    controller: TotpController,
    handler: 'VerifyTOTPRegistration',
    method: RequestMethod.POST,
    request: (m) => ({ ...userPath(m), body: without(m, 'userId') }),
  },
  {
    rpc: 'RemoveTOTP',
    controller: TotpController,
    handler: 'RemoveTOTP',
    method: RequestMethod.DELETE,
    request: userPath,
  },
  ...(
    [
      ['AddOTPSMS', OtpSmsV2Controller, RequestMethod.POST],
      ['RemoveOTPSMS', OtpSmsV2Controller, RequestMethod.DELETE],
      ['AddOTPEmail', OtpEmailController, RequestMethod.POST],
      ['RemoveOTPEmail', OtpEmailController, RequestMethod.DELETE],
    ] as const
  ).map(([rpc, controller, method]) => ({ rpc, controller, handler: rpc, method, request: userPath })),
  {
    // Method types the proto does not know (recovery codes) are left out of the RPC answer.
    rpc: 'ListAuthenticationMethodTypes',
    controller: AuthMethodsController,
    handler: 'ListAuthenticationMethodTypes',
    method: RequestMethod.GET,
    request: userPath,
  },
];

/** `zitadel.auth.v1.AuthService`: the OTP factor of the caller. */
export const AUTH_SERVICE_V1: RpcBinding[] = [
  {
    rpc: 'AddMyAuthFactorOTP',
    controller: MyOtpController,
    handler: 'AddMyAuthFactorOTP',
    method: RequestMethod.POST,
    request: noRequest,
  },
  {
    rpc: 'VerifyMyAuthFactorOTP',
    controller: MyOtpController,
    handler: 'VerifyMyAuthFactorOTP',
    method: RequestMethod.POST,
    request: (m) => ({ body: m }),
  },
  {
    rpc: 'RemoveMyAuthFactorOTP',
    controller: MyOtpController,
    handler: 'RemoveMyAuthFactorOTP',
    method: RequestMethod.DELETE,
    request: noRequest,
  },
];

/** `zitadel.resources.user.v3alpha.ZITADELUsers`: the OTP SMS authenticator. */
export const ZITADEL_USERS_V3ALPHA: RpcBinding[] = [
  {
    rpc: 'AddOTPSMSAuthenticator',
    controller: OtpSmsController,
    handler: 'AddOTPSMSAuthenticator',
    method: RequestMethod.POST,
    request: (m) => ({ params: { id: str(m.id) }, query: v3alphaScope(m), body: m.phone ?? {} }),
  },
  {
    rpc: 'VerifyOTPSMSRegistration',
    controller: OtpSmsController,
    handler: 'VerifyOTPSMSRegistration',
    method: RequestMethod.POST,
    request: (m) => ({
      params: { id: str(m.id), otpSmsId: str(m.otpSmsId) },
      query: v3alphaScope(m),
      body: m.code,
    }),
  },
  {
    rpc: 'RemoveOTPSMSAuthenticator',
    controller: OtpSmsController,
    handler: 'RemoveOTPSMSAuthenticator',
    method: RequestMethod.DELETE,
    request: (m) => ({ params: { id: str(m.id), otpSmsId: str(m.otpSmsId) }, query: v3alphaScope(m) }),
  },
];
