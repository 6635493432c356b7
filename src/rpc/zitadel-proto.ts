import type * as AuthV1 from '@zitadel/proto/zitadel/auth_pb';
import type * as Message from '@zitadel/proto/zitadel/message_pb';
import type * as UsersV3alpha from '@zitadel/proto/zitadel/resources/user/v3alpha/user_service_pb';
import type * as UserV2 from '@zitadel/proto/zitadel/user/v2/user_service_pb';

/**
 * The service descriptors and message schemas published in `@zitadel/proto` (generated from
 * ZITADEL's own .proto files), loaded once. Everything else imports them from here.
 *
 * The package ships a CommonJS build in a folder its package.json declares `"type": "module"`, so
 * Node refuses to `require` it (Jest, which ignores that field, loads it as it is). Where the
 * CommonJS build does not load, its ES build (same descriptors) is loaded through Node's
 * `require(esm)`.
 */
function load<T>(subpath: string): T {
  const cjs = require.resolve(`@zitadel/proto/${subpath}`);
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
    return require(cjs) as T;
  } catch {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
    return require(cjs.replace(/([\\/])cjs([\\/])/, '$1es$2')) as T;
  }
}

export const userV2 = load<typeof UserV2>('zitadel/user/v2/user_service_pb');
export const authV1 = load<typeof AuthV1>('zitadel/auth_pb');
export const usersV3alpha = load<typeof UsersV3alpha>('zitadel/resources/user/v3alpha/user_service_pb');
export const message = load<typeof Message>('zitadel/message_pb');
