import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { launchChromium } from './helpers/browser';
import { createHuman, createOrg, grantOrgRoles, HumanFixture } from './helpers/factories';
import { codeIn, startSmtpSink, SmtpSink } from './helpers/smtp-sink';
import { bearer, createTestApp, TestApp } from './helpers/test-app';
import { codeAt } from './helpers/totp';

/** The four core operations, in the order their tags head the page. */
const CORE = {
  v2Verify: { tag: 'User Service', path: '/v2/users/{userId}/totp/verify' },
  v1Verify: { tag: 'User Authentication Factor', path: '/auth/v1/users/me/auth_factors/otp/_verify' },
  smsVerify: {
    tag: 'User Service v3alpha – OTP SMS',
    path: '/resources/v3alpha/users/{id}/otp_sms/{otpSmsId}/_verify',
  },
  emailVerify: { tag: 'Email challenges', path: '/internal/v1/mfa/totp-email/{challengeId}:verify' },
};

/** What Swagger UI rendered for an executed request. */
interface Rendered {
  status: string;
  body: unknown;
}

/**
 * Swagger UI at /docs in headless Chromium, as a reader would use it: authorize with a PAT in the
 * Authorize dialog, then "Try it out" on each core operation with valid input. The page must render
 * the 200, load nothing from outside the service, and keep the authorization across a reload.
 */
describe('Swagger UI in a real browser', () => {
  // A page driven step by step on a shared 2-core machine: generous, so that only a real failure fails.
  jest.setTimeout(180_000);
  let t: TestApp;
  let sink: SmtpSink;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** Acts in the browser: ORG_OWNER of its organisation, so it may verify another member's TOTP. */
  let owner: HumanFixture;
  let member: HumanFixture;
  const requested: string[] = [];
  const started = Date.now();

  beforeAll(async () => {
    sink = await startSmtpSink();
    t = await createTestApp({ env: { MAIL_TRANSPORT: 'smtp', SMTP_URL: sink.url } });
    const org = await createOrg(t);
    owner = await createHuman(t, org);
    member = await createHuman(t, org);
    await grantOrgRoles(t, org, owner.userId, ['ORG_OWNER']);
    browser = await launchChromium();
    context = await browser.newContext();
    context.on('request', (r) => requested.push(r.url()));
    page = await context.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await sink?.close();
    // The figure the README quotes: how long the whole browser test takes here.
    process.stdout.write(`swagger-ui browser test: ${Date.now() - started} ms\n`);
  });

  /** The operation block of `method path`, expanded, in "Try it out" mode. */
  async function openForTrying(method: string, path: string): Promise<Locator> {
    const op = page
      .locator(`.opblock.opblock-${method}`)
      .filter({ has: page.locator(`.opblock-summary-path[data-path="${path}"]`) });
    await op.locator('.opblock-summary').first().click();
    await op.locator('button.try-out__btn').click();
    await op.locator('button.execute').waitFor();
    return op;
  }

  /** Fills path parameters and the body, presses Execute and returns what the page shows. */
  async function execute(op: Locator, params: Record<string, string>, body: string): Promise<Rendered> {
    for (const [name, value] of Object.entries(params)) {
      await op.locator(`tr[data-param-name="${name}"] input`).fill(value);
    }
    await op.locator('textarea.body-param__text').fill(body);
    await op.locator('button.execute').click();
    const status = op.locator('.live-responses-table .response .response-col_status');
    await status.waitFor();
    const text = await op
      .locator('.live-responses-table .response .response-col_description pre')
      .first()
      .textContent();
    return {
      status: ((await status.textContent()) ?? '').trim(),
      body: JSON.parse(text ?? 'null') as unknown,
    };
  }

  async function authorize(token: string): Promise<void> {
    await page.locator('button.authorize').first().click();
    const dialog = page.locator('.dialog-ux .modal-ux');
    await dialog.locator('input').first().fill(token);
    await dialog.locator('button.authorize').click();
    await dialog.locator('button.btn-done').click();
    await dialog.waitFor({ state: 'detached' });
  }

  it('shows the four MFA APIs first, each tag described, with a filter box', async () => {
    await page.goto(`${t.baseUrl}/docs`);
    const tags = page.locator('h3.opblock-tag');
    await tags.first().waitFor();
    const names = await tags.evaluateAll((els) => els.map((e) => e.getAttribute('data-tag')));
    expect(names.slice(0, 4)).toEqual(Object.values(CORE).map((c) => c.tag));
    // Every tag carries a description; each MFA tag's names its core operation's path.
    const descriptions = await tags.evaluateAll((els) => els.map((e) => e.textContent ?? ''));
    for (const [i, name] of names.entries())
      expect(descriptions[i].length).toBeGreaterThan((name ?? '').length + 10);
    for (const [i, core] of Object.values(CORE).entries()) expect(descriptions[i]).toContain(core.path);

    const filter = page.locator('input.operation-filter-input');
    await filter.fill('OTP SMS');
    await page.locator('h3.opblock-tag[data-tag="User Service"]').waitFor({ state: 'detached' });
    expect(await tags.evaluateAll((els) => els.map((e) => e.getAttribute('data-tag')))).toEqual([
      CORE.smsVerify.tag,
    ]);
    await filter.fill('');
    await page.locator('h3.opblock-tag[data-tag="User Service"]').waitFor();
  });

  it('authorizes with a PAT and runs Try it out on the four core operations, keeping the token across a reload', async () => {
    // Data: a TOTP of the member waiting for verification; the owner's own v1 OTP factor; an OTP SMS
    // authenticator of the owner whose code was returned; an email challenge for the owner.
    const reg = await t.http.post(`/v2/users/${member.userId}/totp`).set(bearer(t.adminToken)).send({});
    expect(reg.status).toBe(200);
    const v1 = await t.http.post('/auth/v1/users/me/auth_factors/otp').set(bearer(owner.token)).send({});
    expect(v1.status).toBe(200);
    const sms = await t.http
      .post(`/resources/v3alpha/users/${owner.userId}/otp_sms`)
      .set(bearer(owner.token))
      .send({ number: '+41791234567', returnCode: {} });
    expect(sms.status).toBe(200);
    const challenge = await t.http
      .post('/internal/v1/mfa/totp-email')
      .set(bearer(t.adminToken))
      .send({ userId: owner.userId, operation: 'docs.try-it-out' });
    expect(challenge.status).toBe(201);
    const mailedCode = codeIn(sink.lastTo(owner.email));

    await page.goto(`${t.baseUrl}/docs`);
    await page.locator('button.authorize.unlocked').waitFor();
    await authorize(owner.token);
    await page.locator('button.authorize.locked').first().waitFor();

    const v2 = await execute(
      await openForTrying('post', CORE.v2Verify.path),
      { userId: member.userId },
      JSON.stringify({ code: codeAt(t, reg.body.secret as string) }),
    );
    expect(v2).toEqual({
      status: '200',
      body: { details: expect.objectContaining({ resourceOwner: member.orgId }) },
    });

    const v1Verified = await execute(
      await openForTrying('post', CORE.v1Verify.path),
      {},
      JSON.stringify({ code: codeAt(t, v1.body.secret as string) }),
    );
    expect(v1Verified).toEqual({
      status: '200',
      body: { details: expect.objectContaining({ resourceOwner: owner.orgId }) },
    });

    // The token is in the browser's storage, not in the page: after a reload the UI is still authorized
    // and the next calls carry it.
    await page.reload();
    await page.locator('button.authorize.locked').first().waitFor();

    const smsVerified = await execute(
      await openForTrying('post', CORE.smsVerify.path),
      { id: owner.userId, otpSmsId: sms.body.otpSmsId as string },
      JSON.stringify(sms.body.verificationCode as string),
    );
    expect(smsVerified).toEqual({
      status: '200',
      body: { details: expect.objectContaining({ id: owner.userId }) },
    });

    const emailVerified = await execute(
      await openForTrying('post', CORE.emailVerify.path),
      { challengeId: challenge.body.challengeId as string },
      JSON.stringify({ totp: mailedCode }),
    );
    expect(emailVerified).toEqual({
      status: '200',
      body: expect.objectContaining({ challengeId: challenge.body.challengeId, status: 'VERIFIED' }),
    });
  });

  it('made no request outside the service', () => {
    const origin = new URL(t.baseUrl).origin;
    expect(requested.length).toBeGreaterThan(0);
    const outside = requested.filter((u) => /^(https?|wss?):/.test(u) && new URL(u).origin !== origin);
    expect(outside).toEqual([]);
  });
});
