/**
 * The cost floor of an HTTP stack, for reading the `_check` figures: a server whose only route is
 * `POST /v2/users/:userId/totp/_check` that parses the JSON body and answers a constant – no auth, no
 * validation, no database, no logging. Started as a child process by bench/totp-check.bench.ts.
 * Env: PORT, FLOOR_STACK (node-http | fastify | nest-fastify | nest-express).
 */
import 'reflect-metadata';
import { Body, Controller, HttpCode, Module, Param, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import fastify from 'fastify';
import * as http from 'node:http';

const ANSWER = { details: { sequence: '1', changeDate: '2026-01-01T00:00:00.000Z', resourceOwner: '1' } };

@Controller('v2/users/:userId/totp')
class FloorController {
  @Post('_check')
  @HttpCode(200)
  check(@Param('userId') _userId: string, @Body() _body: unknown) {
    return ANSWER;
  }
}

@Module({ controllers: [FloorController] })
class FloorModule {}

async function main(): Promise<void> {
  const port = Number(process.env.PORT);
  const stack = process.env.FLOOR_STACK ?? 'node-http';
  if (stack === 'node-http') {
    const route = /^\/v2\/users\/(\d{1,20})\/totp\/_check$/;
    const server = http.createServer((req, res) => {
      if (req.method !== 'POST' || !route.test(req.url ?? '')) return void res.writeHead(404).end();
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        JSON.parse(Buffer.concat(chunks).toString('utf8'));
        const text = JSON.stringify(ANSWER);
        res
          .writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) })
          .end(text);
      });
    });
    server.listen(port, '127.0.0.1', () => process.send?.('ready'));
    return;
  }
  if (stack === 'fastify') {
    const app = fastify();
    app.post('/v2/users/:userId/totp/_check', async () => ANSWER);
    await app.listen({ port, host: '127.0.0.1' });
  } else {
    const adapter = stack === 'nest-express' ? new ExpressAdapter() : new FastifyAdapter();
    const app = await NestFactory.create(FloorModule, adapter, { logger: false });
    await app.listen(port, '127.0.0.1');
  }
  process.send?.('ready');
}

void main();
