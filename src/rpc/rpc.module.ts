import { Module } from '@nestjs/common';
import { RpcServer } from './rpc.server';

/** ZITADEL's RPC protocols (gRPC, gRPC-Web, Connect) in front of the REST routes of the other modules. */
@Module({ providers: [RpcServer], exports: [RpcServer] })
export class RpcModule {}
