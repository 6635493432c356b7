import { INestApplication, RequestMethod, Type } from '@nestjs/common';
import { NestContainer } from '@nestjs/core';
import { GuardsConsumer, GuardsContextCreator } from '@nestjs/core/guards';
import { InterceptorsConsumer, InterceptorsContextCreator } from '@nestjs/core/interceptors';
import { PipesConsumer, PipesContextCreator } from '@nestjs/core/pipes';
import { RouterExecutionContext } from '@nestjs/core/router/router-execution-context';
import { RouteParamsFactory } from '@nestjs/core/router/route-params-factory';

/** The REST request an RPC stands for: path parameters, query and body as the REST route reads them. */
export interface RestRequest {
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
}

/** What the RPC front door knows about the call besides the message. */
export interface RpcCallMeta {
  /** The request headers (gRPC metadata), lower-case names. */
  headers: Record<string, string>;
  requestId: string;
}

/** Runs one REST route's handler for a call arriving by RPC; resolves to the REST answer's body. */
export type RestTwinHandler = (request: RestRequest, meta: RpcCallMeta) => Promise<unknown>;

interface CapturedResponse {
  body?: unknown;
  statusCode?: number;
  headers: Record<string, string>;
}

/**
 * Where an answer goes when the route ran for an RPC: into the object, not onto a socket. Only what
 * Nest's router calls on a plain JSON route is implemented.
 */
const capture = {
  reply: (res: CapturedResponse, body: unknown, statusCode?: number) => {
    res.body = body;
    if (statusCode !== undefined) res.statusCode = statusCode;
  },
  status: (res: CapturedResponse, statusCode: number) => {
    res.statusCode = statusCode;
  },
  setHeader: (res: CapturedResponse, name: string, value: string) => {
    res.headers[name.toLowerCase()] = value;
  },
};

/**
 * Builds handlers that run a REST route of this app – its global and route guards (authentication,
 * permission, step-up), its pipes (validation with the same limits and messages), its interceptors
 * (verify outcomes, spans) and the controller method itself – for a call that arrived by gRPC,
 * gRPC-Web or Connect. It is the execution context Nest's router builds for the HTTP routes, so
 * both front doors share every decision; only the request and response objects differ.
 */
export class RestTwins {
  private readonly context: RouterExecutionContext;

  constructor(private readonly container: NestContainer) {
    const config = container.applicationConfig;
    this.context = new RouterExecutionContext(
      new RouteParamsFactory(),
      new PipesContextCreator(container, config),
      new PipesConsumer(),
      new GuardsContextCreator(container, config),
      new GuardsConsumer(),
      new InterceptorsContextCreator(container, config),
      new InterceptorsConsumer(),
      capture as never,
    );
  }

  /** The Nest container of an app (Nest exposes it to its own routers only). */
  static of(app: INestApplication): RestTwins {
    return new RestTwins((app as unknown as { container: NestContainer }).container);
  }

  /** The handler of `controller.method` (a route method of a controller registered in the app). */
  handler(controller: Type, method: string, requestMethod: RequestMethod): RestTwinHandler {
    for (const [moduleKey, module] of this.container.getModules()) {
      const wrapper = module.controllers.get(controller);
      const instance = wrapper?.instance as Record<string, unknown> | undefined;
      if (!instance) continue;
      const callback = instance[method];
      if (typeof callback !== 'function') break;
      const run = this.context.create(
        instance,
        callback as (...args: unknown[]) => unknown,
        method,
        moduleKey,
        requestMethod,
      );
      return async (request, meta) => {
        const req = {
          method: RequestMethod[requestMethod],
          url: `/${controller.name}/${method}`,
          headers: meta.headers,
          params: request.params ?? {},
          query: request.query ?? {},
          body: request.body,
          id: meta.requestId,
        };
        const res: CapturedResponse = { headers: {} };
        await run(req, res, () => undefined);
        return res.body;
      };
    }
    throw new Error(`${controller.name}.${method} is not a route of this app`);
  }
}
