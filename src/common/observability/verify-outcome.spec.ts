import { Body, Controller, HttpCode, INestApplication, Module, Post } from '@nestjs/common';
import { HTTP_CODE_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { Test } from '@nestjs/testing';
import { ApiOperation } from '@nestjs/swagger';
import request from 'supertest';
import { Errors } from '../errors/domain-error';
import { ObservabilityModule } from './observability.module';
import { CountsOutcome, tagOutcome, VerifyOutcome, VerifyOutcomes } from './verify-outcome';

@Controller('probe')
class ProbeController {
  readonly seen: unknown[] = [];

  @Post('_check')
  @CountsOutcome('totp')
  @HttpCode(200)
  @ApiOperation({ summary: 'Check a probe code' })
  async check(@Body() body: { code: string }) {
    this.seen.push(this);
    await Promise.resolve();
    if (body.code === 'wrong') throw Errors.invalidArgument('EVENT-8isk2', 'Code is invalid');
    if (body.code === 'replayed')
      throw tagOutcome(Errors.invalidArgument('EVENT-8isk2', 'Code is invalid'), { result: 'replayed' });
    if (body.code === 'broken') throw new Error('database unavailable');
    return { ok: body.code };
  }
}

@Module({ imports: [ObservabilityModule], controllers: [ProbeController] })
class ProbeModule {}

describe('CountsOutcome', () => {
  let app: INestApplication;
  const reported: VerifyOutcome[] = [];

  beforeAll(async () => {
    const ref = await Test.createTestingModule({ imports: [ProbeModule] }).compile();
    app = ref.createNestApplication({ logger: false });
    ref.get(VerifyOutcomes).observe((o) => reported.push(o));
    await app.init();
  });
  afterAll(() => app.close());
  beforeEach(() => (reported.length = 0));

  it('keeps what the decorators beneath it recorded on the route', () => {
    const route = ProbeController.prototype.check;
    expect(Reflect.getMetadata(PATH_METADATA, route)).toBe('_check');
    expect(Reflect.getMetadata(METHOD_METADATA, route)).toBe(1 /* POST */);
    expect(Reflect.getMetadata(HTTP_CODE_METADATA, route)).toBe(200);
    expect(Reflect.getMetadata('swagger/apiOperation', route)).toMatchObject({
      summary: 'Check a probe code',
    });
    expect(route.name).toBe('check');
  });

  it('reports the outcome of each call to the app that serves the route, with the route’s own answer', async () => {
    const ok = await request(app.getHttpServer()).post('/probe/_check').send({ code: '123456' });
    expect([ok.status, ok.body]).toEqual([200, { ok: '123456' }]);
    expect(reported).toEqual([{ factor: 'totp', result: 'success', lockoutStarted: false }]);

    const wrong = await request(app.getHttpServer()).post('/probe/_check').send({ code: 'wrong' });
    const replayed = await request(app.getHttpServer()).post('/probe/_check').send({ code: 'replayed' });
    // (no exception filter in this app: the errors reach the client as the framework's 500)
    expect([wrong.status, replayed.status]).toEqual([500, 500]);
    expect(reported.slice(1).map((o) => o.result)).toEqual(['invalid', 'replayed']);
    // the route ran on the controller instance itself
    expect(app.get(ProbeController).seen.every((c) => c === app.get(ProbeController))).toBe(true);
  });

  it('reports nothing for an error that is no verdict on a code, and still answers it', async () => {
    const broken = await request(app.getHttpServer()).post('/probe/_check').send({ code: 'broken' });
    expect(broken.status).toBe(500);
    expect(reported).toEqual([]);
  });

  it('reports nothing, and still runs the route, on an instance no app has bound', async () => {
    const bare = new ProbeController();
    await expect(bare.check({ code: '1' })).resolves.toEqual({ ok: '1' });
    await expect(bare.check({ code: 'wrong' })).rejects.toThrow('Code is invalid');
    expect(reported).toEqual([]);
  });
});
