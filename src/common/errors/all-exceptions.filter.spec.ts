import { Body, Controller, Get, INestApplication, Module, Post } from '@nestjs/common';
import { APP_FILTER, APP_PIPE, DiscoveryModule } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { Logger } from 'nestjs-pino';
import { Writable } from 'node:stream';
import request from 'supertest';
import { configureHttp } from '../../bootstrap';
import { AppConfig } from '../config/app-config';
import { ConfigModule } from '../config/config.module';
import { LoggingModule } from '../logging/logging.module';
import { StringField } from '../validation/fields';
import { AppValidationPipe, RejectUnknownFields } from '../validation/validation.pipe';
import { AllExceptionsFilter } from './all-exceptions.filter';
import { UseApiFamily } from './api-family';
import { EMAIL_API_CODE_PREFIX, EMAIL_API_CODES, Errors } from './domain-error';
import { RouteRegistry } from './route-registry';

/** A driver-like message that must never reach a client. */
const DRIVER_MESSAGE = 'SQLITE_CONSTRAINT: UNIQUE constraint failed: totp_secrets.secret = JBSWY3DPEHPK3PXP';

@RejectUnknownFields()
class SampleRequestDto {
  @StringField({ max: 8 })
  name: string;
}

class ZitadelSampleRequestDto {
  @StringField({ max: 8 })
  name: string;
}

@UseApiFamily('email-challenge')
@Controller('internal/v1/mfa/test')
class EmailFamilyController {
  @Post('echo')
  echo(@Body() body: SampleRequestDto): SampleRequestDto {
    return body;
  }

  @Get('boom')
  boom(): never {
    throw new Error(DRIVER_MESSAGE);
  }

  @Get('missing')
  missing(): never {
    throw Errors.notFound('CHAL-1x', 'challenge not found', { apiCode: 'CHALLENGE_NOT_FOUND' });
  }

  @Get('slow-down')
  slowDown(): never {
    throw Errors.resourceExhausted('CHAL-2x', 'too many attempts', { retryAfterSeconds: 29.2 });
  }
}

@Controller('v2/test')
class ZitadelFamilyController {
  @Post('echo')
  echo(@Body() body: ZitadelSampleRequestDto): ZitadelSampleRequestDto {
    return body;
  }

  @Get('boom')
  boom(): never {
    throw new Error(DRIVER_MESSAGE);
  }

  @Get('missing')
  missing(): never {
    throw Errors.notFound('USER-1x', 'User could not be found');
  }
}

const EMAIL_KEYS = ['code', 'fieldErrors', 'message', 'path', 'requestId', 'status', 'timestamp'];

describe('AllExceptionsFilter with the error renderers', () => {
  let app: INestApplication;
  const logs: string[] = [];

  beforeAll(async () => {
    const config = {
      logLevel: 'debug',
      bodyLimitBytes: 64 * 1024,
      logStream: new Writable({
        write(chunk: Buffer, _enc, cb) {
          for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(line);
          cb();
        },
      }),
    } as Partial<AppConfig> as AppConfig;
    @Module({
      imports: [ConfigModule.forRoot(config), LoggingModule, DiscoveryModule],
      controllers: [EmailFamilyController, ZitadelFamilyController],
      providers: [
        RouteRegistry,
        { provide: APP_PIPE, useClass: AppValidationPipe },
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
      ],
    })
    class TestModule {}
    const moduleRef = await Test.createTestingModule({ imports: [TestModule] }).compile();
    app = moduleRef.createNestApplication({ bodyParser: false, bufferLogs: true });
    app.useLogger(app.get(Logger));
    configureHttp(app, config);
    await app.init();
  });
  afterAll(async () => app.close());

  const http = () => request(app.getHttpServer());

  /** The email-challenge body: exactly the 7 properties, request id from the header, a known code. */
  function expectEmailBody(res: request.Response, status: number, code: string, path: string): void {
    expect(res.status).toBe(status);
    expect(Object.keys(res.body as object).sort()).toEqual(EMAIL_KEYS);
    expect(res.body.code).toBe(EMAIL_API_CODE_PREFIX + code);
    expect(EMAIL_API_CODES).toContain(code);
    expect(res.body.status).toBe(status);
    expect(res.body.path).toBe(path);
    expect(typeof res.body.message).toBe('string');
    expect(res.body.message.length).toBeGreaterThan(0);
    expect(Array.isArray(res.body.fieldErrors)).toBe(true);
    expect(res.headers['x-request-id']).toMatch(/\S{8,}/);
    expect(res.body.requestId).toBe(res.headers['x-request-id']);
    expect(new Date(res.body.timestamp).toISOString()).toBe(res.body.timestamp);
  }

  describe('email-challenge family (chosen by @UseApiFamily, or by the route table before routing)', () => {
    it('renders malformed JSON as BAD_REQUEST', async () => {
      logs.length = 0;
      const res = await http()
        .post('/internal/v1/mfa/test/echo')
        .set('Content-Type', 'application/json')
        .set('X-Request-Id', 'req-malformed-1')
        .send('{"name":');
      expectEmailBody(res, 400, 'BAD_REQUEST', '/internal/v1/mfa/test/echo');
      expect(res.body.requestId).toBe('req-malformed-1');
      expect(res.body.message).toBe('request body is not valid JSON');
      expect(res.body.fieldErrors).toEqual([]);
      // The body parser rejected it before the access log middleware: the filter logs it instead.
      const lines = logs.map((l) => JSON.parse(l));
      expect(lines).toEqual([
        expect.objectContaining({
          msg: 'request rejected',
          requestId: 'req-malformed-1',
          method: 'POST',
          path: '/internal/v1/mfa/test/echo',
          statusCode: 400,
        }),
      ]);
      expect(logs.join('\n')).not.toContain('{\\"name\\":');
    });

    it('renders an oversize body as 413', async () => {
      const res = await http()
        .post('/internal/v1/mfa/test/echo')
        .send({ name: 'x'.repeat(65 * 1024) });
      expectEmailBody(res, 413, 'BAD_REQUEST', '/internal/v1/mfa/test/echo');
      expect(res.body.message).toBe('request body too large');
    });

    it('renders an unknown path under the family prefix as RESOURCE_UNKNOWN (404)', async () => {
      const res = await http().get('/internal/v1/mfa/nothing/here?x=1');
      expectEmailBody(res, 404, 'RESOURCE_UNKNOWN', '/internal/v1/mfa/nothing/here');
    });

    it('renders a wrong method as 405 with Allow', async () => {
      const res = await http().delete('/internal/v1/mfa/test/echo');
      expectEmailBody(res, 405, 'RESOURCE_UNKNOWN', '/internal/v1/mfa/test/echo');
      expect(res.headers['allow']).toBe('POST');
    });

    it('renders an unexpected exception as a generic 500; the stack goes to the log only', async () => {
      logs.length = 0;
      const res = await http().get('/internal/v1/mfa/test/boom').set('X-Request-Id', 'req-boom-email-1');
      expectEmailBody(res, 500, 'INTERNAL_SERVER_ERROR', '/internal/v1/mfa/test/boom');
      expect(res.body.message).toBe('An internal error occurred');
      expect(res.text).not.toContain('SQLITE');
      expect(res.text).not.toContain('JBSWY3DP');
      const errorLine = logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'unexpected error');
      expect(errorLine).toBeDefined();
      expect(errorLine.requestId).toBe('req-boom-email-1');
      expect(errorLine.err.stack).toContain('EmailFamilyController.boom');
    });

    it('lists every violation and rejects unknown fields', async () => {
      const res = await http().post('/internal/v1/mfa/test/echo').send({ name: 'much too long', extra: 1 });
      expectEmailBody(res, 400, 'BAD_REQUEST', '/internal/v1/mfa/test/echo');
      expect(res.body.fieldErrors).toEqual([
        { field: 'extra', code: EMAIL_API_CODE_PREFIX + 'BAD_REQUEST', message: 'unknown field' },
        {
          field: 'name',
          code: EMAIL_API_CODE_PREFIX + 'BAD_REQUEST',
          message: 'value length must be between 1 and 8 runes, inclusive',
        },
      ]);
    });

    it('uses the thrower’s API code and sets Retry-After', async () => {
      const nf = await http().get('/internal/v1/mfa/test/missing');
      expectEmailBody(nf, 404, 'CHALLENGE_NOT_FOUND', '/internal/v1/mfa/test/missing');
      expect(nf.body.message).toBe('challenge not found');
      const slow = await http().get('/internal/v1/mfa/test/slow-down');
      expectEmailBody(slow, 429, 'FORBIDDEN', '/internal/v1/mfa/test/slow-down');
      expect(slow.headers['retry-after']).toBe('30');
    });
  });

  describe('ZITADEL family (the default)', () => {
    it('renders malformed JSON as InvalidArgument', async () => {
      const res = await http().post('/v2/test/echo').set('Content-Type', 'application/json').send('{"name":');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ code: 3, message: 'request body is not valid JSON' });
    });

    it('renders an oversize body as 413', async () => {
      const res = await http()
        .post('/v2/test/echo')
        .send({ name: 'x'.repeat(65 * 1024) });
      expect(res.status).toBe(413);
      expect(res.body).toEqual({ code: 8, message: 'request body too large' });
    });

    it('renders unknown routes (404) and wrong methods (405)', async () => {
      const nf = await http().get('/v2/test/nothing');
      expect(nf.status).toBe(404);
      expect(nf.body).toEqual({ code: 5, message: 'Not Found' });
      const na = await http().put('/v2/test/echo');
      expect(na.status).toBe(405);
      expect(na.body).toEqual({ code: 12, message: 'Method Not Allowed' });
      expect(na.headers['allow']).toBe('POST');
    });

    it('renders an unexpected exception as a generic 500; the stack goes to the log only', async () => {
      logs.length = 0;
      const res = await http().get('/v2/test/boom').set('X-Request-Id', 'req-boom-zitadel-1');
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ code: 13, message: 'An internal error occurred' });
      expect(res.headers['x-request-id']).toBe('req-boom-zitadel-1');
      const parsed = logs.map((l) => JSON.parse(l));
      const errorLine = parsed.find((l) => l.msg === 'unexpected error');
      expect(errorLine.err.stack).toContain('ZitadelFamilyController.boom');
      // Every line written while serving the request carries its id.
      expect(parsed.length).toBeGreaterThanOrEqual(2);
      for (const line of parsed) expect(line.requestId).toBe('req-boom-zitadel-1');
    });

    it('renders domain errors as "<text> (<id>)" with an ErrorDetail', async () => {
      const res = await http().get('/v2/test/missing');
      expect(res.status).toBe(404);
      expect(res.body).toEqual({
        code: 5,
        message: 'User could not be found (USER-1x)',
        details: [
          {
            '@type': 'type.googleapis.com/zitadel.v1.ErrorDetail',
            id: 'USER-1x',
            message: 'User could not be found',
          },
        ],
      });
    });

    it('shows the first violation as invalid <Message>.<Field> and ignores unknown fields', async () => {
      const res = await http().post('/v2/test/echo').send({ name: 'much too long', extra: 1 });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        code: 3,
        message: 'invalid ZitadelSampleRequest.Name: value length must be between 1 and 8 runes, inclusive',
      });
      const ok = await http().post('/v2/test/echo').send({ name: 'ok', extra: 1 });
      expect(ok.status).toBe(201);
      expect(ok.body).toEqual({ name: 'ok' });
    });
  });
});
