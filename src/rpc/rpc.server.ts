import {
  Code,
  ConnectRouter,
  createContextKey,
  createContextValues,
  HandlerContext,
  ServiceImpl,
} from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { DescMessage, DescService, fromJson, JsonObject, Message, toJson } from '@bufbuild/protobuf';
import {
  INestApplication,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createServer,
  Http2ServerRequest,
  Http2ServerResponse,
  Http2Server,
  ServerHttp2Session,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { AppConfig } from '../common/config/app-config';
import { requestIdFromHeaders } from '../common/http/request-id';
import { RequestLimits } from '../common/http/request-limits';
import { runInScope } from '../common/http/request-scope';
import { RestTwins } from './rest-twin';
import { AUTH_SERVICE_V1, RpcBinding, USER_SERVICE_V2, ZITADEL_USERS_V3ALPHA } from './rpc-bindings';
import { toConnectError } from './rpc-errors';
import { authV1, usersV3alpha, userV2 } from './zitadel-proto';

type NodeHandler = (
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
) => void;

const REQUEST_ID = createContextKey<string>('', { description: 'request id' });

/** The services served, each with the methods that have a REST twin here; the rest answer Unimplemented. */
const SERVICES: [DescService, RpcBinding[]][] = [
  [userV2.UserService, USER_SERVICE_V2],
  [authV1.AuthService, AUTH_SERVICE_V1],
  [usersV3alpha.ZITADELUsers, ZITADEL_USERS_V3ALPHA],
];

/** `/zitadel.user.v2.UserService/`, …: the path prefixes of the RPCs on the main port. */
const RPC_PREFIXES = SERVICES.map(([service]) => `/${service.typeName}/`);

/** Is this request an RPC (gRPC-Web or Connect on the main port), not a REST call? */
export function isRpcPath(url: string | undefined): boolean {
  return url !== undefined && RPC_PREFIXES.some((prefix) => url.startsWith(prefix));
}

/**
 * ZITADEL's own clients at the same services: gRPC, gRPC-Web and Connect (`@connectrpc/connect`)
 * for `zitadel.user.v2.UserService`, `zitadel.auth.v1.AuthService` and
 * `zitadel.resources.user.v3alpha.ZITADELUsers`, with the descriptors and message schemas of
 * `@zitadel/proto`. Each RPC runs its REST twin (see RestTwins): the same authentication, guards,
 * validation, services, event log and details.
 *
 * gRPC-Web and Connect travel over HTTP/1.1 on the main port (the HTTP adapters route the RPC paths
 * here before their JSON body screen); gRPC needs HTTP/2, which Node serves without TLS only on a
 * server of its own: GRPC_PORT (all three protocols are served there).
 */
@Injectable()
export class RpcServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Rpc');
  private handler?: NodeHandler;
  private limits?: RequestLimits;
  private server?: Http2Server;
  private readonly sessions = new Set<ServerHttp2Session>();

  constructor(private readonly config: AppConfig) {}

  /**
   * Builds the RPC handlers from the app's REST routes; called once the app is created. `limits`:
   * the main port's request limits, which the gRPC port shares (the main port applies them itself).
   */
  attach(app: INestApplication, limits?: RequestLimits): void {
    this.limits = limits;
    const twins = RestTwins.of(app);
    const routes = (router: ConnectRouter) => {
      for (const [service, bindings] of SERVICES)
        router.service(service, implement(service, bindings, twins));
    };
    this.handler = connectNodeAdapter({
      routes,
      readMaxBytes: this.config.bodyLimitBytes,
      contextValues: (req) =>
        createContextValues().set(
          REQUEST_ID,
          typeof (req as { id?: unknown }).id === 'string'
            ? ((req as { id?: unknown }).id as string)
            : requestIdFromHeaders(req as IncomingMessage),
        ),
    }) as NodeHandler;
  }

  /** Serves a request on the main port when it is an RPC; false when it is not (REST goes on). */
  serve(req: IncomingMessage, res: ServerResponse): boolean {
    if (!this.handler || !isRpcPath(req.url)) return false;
    this.handler(req, res);
    return true;
  }

  async onApplicationBootstrap(): Promise<void> {
    const handler = this.handler;
    if (!handler) return;
    const limits = this.limits;
    // The same bounds as on the main port: in-flight requests and the deadline (answered 503, which
    // gRPC clients read as Unavailable).
    const server = createServer((req, res) => {
      const raw = req as unknown as IncomingMessage;
      const scope = limits?.admit(raw, res as unknown as ServerResponse);
      if (scope === false) return;
      if (scope) runInScope(scope, () => handler(req, res));
      else handler(req, res);
    });
    server.on('session', (session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.grpc.port, this.config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.logger.log(`gRPC (HTTP/2 cleartext) on ${this.config.host}:${this.grpcPort()}`);
  }

  /** The bound gRPC port (the real one when started on port 0). */
  grpcPort(): number {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) throw new Error('the gRPC server is not listening');
    return address.port;
  }

  /** Stops accepting, lets the calls in flight finish (each HTTP/2 session is closed gracefully). */
  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const session of this.sessions) session.close();
    await closed;
  }
}

const logger = new Logger('Rpc');

/** The implementation of `service`: each bound RPC runs its REST twin; unbound ones stay Unimplemented. */
function implement(
  service: DescService,
  bindings: RpcBinding[],
  twins: RestTwins,
): Partial<ServiceImpl<DescService>> {
  const impl: Record<string, (req: Message, ctx: HandlerContext) => Promise<Message>> = {};
  for (const binding of bindings) {
    const method = service.methods.find((m) => m.name === binding.rpc);
    if (!method || method.methodKind !== 'unary')
      throw new Error(`${service.typeName} has no unary method ${binding.rpc}`);
    const twin = twins.handler(binding.controller, binding.handler, binding.method);
    const input: DescMessage = method.input;
    const output: DescMessage = method.output;
    impl[method.localName] = async (req, ctx) => {
      const requestId = ctx.values.get(REQUEST_ID);
      const headers: Record<string, string> = {};
      ctx.requestHeader.forEach((value, name) => (headers[name] = value));
      const started = performance.now();
      // The access log line of the call (the HTTP access log does not see RPCs): never the message.
      const log = (code: Code | 0) =>
        logger.log(
          {
            requestId,
            rpc: `${service.typeName}/${method.name}`,
            protocol: ctx.protocolName,
            code,
            responseTime: Math.round(performance.now() - started),
          },
          'rpc completed',
        );
      try {
        // alwaysEmitImplicit: an empty string field reaches the route as "" (a length error), not as missing.
        const message = toJson(input, req, { alwaysEmitImplicit: true }) as JsonObject;
        const body = await twin(binding.request(message), { headers, requestId });
        const answer = fromJson(output, (body ?? {}) as JsonObject, { ignoreUnknownFields: true });
        log(0);
        return answer;
      } catch (err) {
        const e = toConnectError(err, requestId);
        log(e.code);
        throw e;
      }
    };
  }
  // A descriptor loaded at run time has no method names in its type: the keys are its methods' localName.
  return impl as unknown as Partial<ServiceImpl<DescService>>;
}
