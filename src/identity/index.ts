/**
 * What the identity module offers the feature modules: import the module, read users through
 * UsersReader. Features import only this file from src/identity (an ESLint rule says so).
 */
export { IdentityModule } from './identity.module';
export { UsersReader } from './users-reader';
export type { UserView } from './users-reader';
