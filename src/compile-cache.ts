import * as nodeModule from 'node:module';

/**
 * Imported first by main.ts: on Node.js 22.1 and later, V8 keeps the compiled code of every module it
 * loads after this line on disk (Node's default folder under the system temp dir, keyed by file content
 * and Node version), so a restart skips most of the compilation of Nest, TypeORM and the service.
 * Node 20 has no such cache; there this does nothing.
 */
(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();
