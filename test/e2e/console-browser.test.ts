import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.ts';
import { API_AUDIENCE, createApiFixture, type ApiFixture } from '../support/api-fixture.ts';
import { CONSOLE_CLIENT_ID, consolePolicy, WEDNESDAY_MORNING } from '../support/approval-console.ts';
import { createTempSshKey, type TempSshKey } from '../support/ssh-key.ts';

/**
 * The approval console in a real browser: Debian's chromium driven by playwright-core (whose own
 * browser download cannot work here). Each person signs in through the test OpenID provider's
 * login and consent pages in their own browser context (one browser for the file), and the page
 * calls the real API with the token it got. Playwright starts chromium without its sandbox
 * (chromiumSandbox defaults to false), which running as root here needs; nothing else does.
 */
const CHROMIUM = '/usr/bin/chromium';
/** Set to a directory (docs/) to save the README's screenshots of the main screens while the tests run. */
const SCREENSHOTS = process.env['JITCA_CONSOLE_SCREENSHOTS'];
const HOSTILE_REASON = '<img src=x onerror="window.__pwned=1">INC-7 checkout 500s';
const HOSTILE_REVOCATION = '<img src=x onerror="window.__pwned=2">laptop left on a train';

describe('the approval console in chromium', () => {
  let api: ApiFixture;
  let key: TempSshKey;
  let browser: Browser;
  let base: string;
  const contexts: BrowserContext[] = [];
  /** The request bob approves in the first test: alice revokes its certificate in the second. */
  let approved = '';

  beforeAll(async () => {
    [api, browser] = await Promise.all([
      createApiFixture({
        issuanceClock: fixedClock(WEDNESDAY_MORNING),
        policy: consolePolicy,
        console: { clientId: CONSOLE_CLIENT_ID, scope: 'openid groups api', resource: API_AUDIENCE },
      }),
      chromium.launch({ executablePath: CHROMIUM }),
    ]);
    key = createTempSshKey('jitca-console-browser-');
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    const address = api.app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    base = `http://127.0.0.1:${address.port}`;
    await api.oidc.registerBrowserClient(CONSOLE_CLIENT_ID, [`${base}/console/callback`]);
  });
  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await api?.close();
    key?.cleanup();
  });

  async function ask(operations: string[], reason: string): Promise<string> {
    const response = await api.app.inject({
      method: 'POST',
      url: '/v1/ssh/certificates',
      headers: { authorization: `Bearer ${api.tokens.alice}` },
      payload: { publicKey: key.publicKey, scope: { cluster: 'prod', namespace: 'payments' }, reason, operations },
    });
    expect(response.statusCode, response.body).toBe(202);
    return response.json().requestId as string;
  }

  const requestView = async (id: string) =>
    (await api.app.inject({ method: 'GET', url: `/v1/requests/${id}`, headers: { authorization: `Bearer ${api.tokens.alice}` } })).json();

  /** Errors the page logged (CSP violations and script errors land here); the favicon's 404 is not one. */
  const problems = new Map<Page, string[]>();

  /** A person's own browser (context) signed in through the provider's login and consent pages. */
  async function signedIn(login: string, before?: (page: Page) => Promise<void>): Promise<{ page: Page; headers: Record<string, string> }> {
    const context = await browser.newContext();
    // Fail with Playwright's message (what it waited for) before vitest's own timeout.
    context.setDefaultTimeout(10_000);
    contexts.push(context);
    const page = await context.newPage();
    const logged: string[] = [];
    problems.set(page, logged);
    page.on('pageerror', (error) => logged.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.location().url.endsWith('/favicon.ico')) logged.push(message.text());
    });
    await before?.(page);
    const response = await page.goto(`${base}/console`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.pathname.startsWith('/interaction/'));
    await page.getByLabel('Account').fill(login);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(`${base}/console`);
    await page.locator('#who', { hasText: `Signed in as ${login}` }).waitFor();
    return { page, headers: response?.headers() ?? {} };
  }

  async function screenshot(page: Page, name: string): Promise<void> {
    if (SCREENSHOTS !== undefined) await page.screenshot({ path: path.join(SCREENSHOTS, `console-${name}.png`), fullPage: true });
  }

  const card = (page: Page, id: string) => page.locator(`#requests article[data-request-id="${id}"]`);
  const fieldOf = (page: Page, id: string, name: string) => card(page, id).locator(`dd[data-field="${name}"]`);
  const myCard = (page: Page, id: string) => page.locator(`#my-requests article[data-request-id="${id}"]`);
  const myField = (page: Page, id: string, name: string) => myCard(page, id).locator(`dd[data-field="${name}"]`);

  async function decide(page: Page, id: string, action: 'Approve' | 'Deny', reason: string): Promise<void> {
    await card(page, id).getByLabel('Reason').fill(reason);
    await card(page, id).getByRole('button', { name: action }).click();
  }

  it('shows an approver the pending requests, the reason as text, and approving takes a request off the list', async () => {
    const exec = await ask(['exec'], HOSTILE_REASON);
    approved = exec;
    const debug = await ask(['debug'], 'INC-8: heap dump of checkout-7f9c');
    const { page: bob, headers } = await signedIn('bob');
    expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(headers['content-security-policy']).toContain(`connect-src 'self' ${new URL(api.oidc.issuer).origin}`);

    await card(bob, exec).waitFor();
    expect(await fieldOf(bob, exec, 'requester').textContent()).toBe('alice');
    expect(await fieldOf(bob, exec, 'role').textContent()).toBe('payments-debug');
    expect(await fieldOf(bob, exec, 'operations').textContent()).toBe('exec');
    expect(await fieldOf(bob, exec, 'scope').textContent()).toBe('cluster=prod, namespace=payments');
    expect(await fieldOf(bob, exec, 'lifetime').textContent()).toBe('30 min from issuance');
    expect(await fieldOf(bob, exec, 'working-hours').textContent()).toBe('asked inside working hours');
    expect(await fieldOf(bob, exec, 'approvals').textContent()).toBe('0 of 1');
    // The hostile reason is text: shown as written, no element made of it, no handler run.
    expect(await fieldOf(bob, exec, 'reason').textContent()).toBe(HOSTILE_REASON);
    expect(await bob.locator('#requests img').count()).toBe(0);
    expect(await bob.evaluate('window.__pwned')).toBeUndefined();
    await screenshot(bob, 'pending');

    await decide(bob, exec, 'Approve', 'INC-7 confirmed, go');
    await card(bob, exec).waitFor({ state: 'detached' });
    expect(await bob.locator('#status').textContent()).toContain(`Approved request ${exec}: the certificate is issued.`);
    expect(await requestView(exec)).toMatchObject({ state: 'issued', approvals: [{ approver: 'bob', reason: 'INC-7 confirmed, go' }] });

    // The two-person request waits for a second approver, and bob cannot be it.
    await decide(bob, debug, 'Approve', 'first look');
    await fieldOf(bob, debug, 'approvals').filter({ hasText: '1 of 2' }).waitFor();
    expect(await bob.locator('#status').textContent()).toBe(`Approved request ${debug}: 1 of 2 approvals, waiting for 1 more.`);
    expect(await fieldOf(bob, debug, 'approvals').locator('li').textContent()).toMatch(/^bob, .*: first look$/);
    expect(await card(bob, debug).getByRole('button', { name: 'Approve' }).count()).toBe(0);
    expect(await card(bob, debug).locator('.note').textContent()).toBe('You approved this; it needs 1 more approval from someone else.');
    expect(await card(bob, debug).getByRole('button', { name: 'Deny' }).count()).toBe(1);
    await screenshot(bob, 'two-person');
    expect(problems.get(bob)).toEqual([]);
    // Trusted Types (the CSP) refuses any HTML string written into the page (the browser logs the refusal).
    expect(await bob.evaluate(`(() => { try { document.body.innerHTML = '<b>x</b>'; return 'written'; } catch (error) { return error.name; } })()`)).toBe('TypeError');

    // A second lead denies it with a reason: it leaves the list, and the requester sees who and why.
    const { page: carol } = await signedIn('carol');
    await fieldOf(carol, debug, 'approvals').filter({ hasText: '1 of 2' }).waitFor();
    await decide(carol, debug, 'Deny', 'not during the freeze');
    await card(carol, debug).waitFor({ state: 'detached' });
    expect(await requestView(debug)).toMatchObject({ state: 'denied', decision: { by: 'carol', reason: 'not during the freeze' } });
    expect(problems.get(carol)).toEqual([]);
  });

  it('offers no approve button to an approver whose group cannot approve, nor to the requester, the API refuses anyway, and an expired token is forgotten', async () => {
    const exec = await ask(['exec'], 'INC-9');
    const { page: dave } = await signedIn('dave');
    await card(dave, exec).waitFor();
    expect(await card(dave, exec).getByRole('button', { name: 'Approve' }).count()).toBe(0);
    expect(await card(dave, exec).textContent()).toContain('Your groups cannot approve this request');
    expect(problems.get(dave)).toEqual([]);
    await screenshot(dave, 'not-your-group');
    const approvedSerial = (await requestView(approved)).certificate.serial as string;
    const refused = await dave.evaluate(async ([id, serial, token]) => {
      const post = async (path: string) => {
        const response = await fetch(path, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ reason: 'trying anyway' }),
        });
        return { status: response.status, code: ((await response.json()) as { code: string }).code };
      };
      return [await post(`/v1/requests/${id}/approve`), await post(`/v1/ssh/certificates/${serial}/revoke`)];
    }, [exec, approvedSerial, api.tokens.dave] as const);
    // Nor may he revoke alice's certificate: only its holder (or the policy's revokerGroups, none here).
    expect(refused).toEqual([
      { status: 403, code: 'ERR_APPROVAL_REFUSED' },
      { status: 403, code: 'ERR_POLICY_DENIED' },
    ]);
    expect((await requestView(exec)).state).toBe('pending');
    expect((await requestView(approved)).certificate.state).toBe('valid');
    // A sign-in answer this page did not ask for (login CSRF: someone else's code) is refused before any exchange.
    await dave.goto(`${base}/console/callback?code=someone-elses&state=forged`);
    await dave.locator('#signed-out-message', { hasText: 'this sign-in answer was not asked for by this page' }).waitFor();
    expect(new URL(dave.url()).search).toBe('');
    expect(await dave.locator('#pending').isHidden()).toBe(true);

    // The requester sees their own request, may withdraw it, and cannot approve it from the page.
    // Her page's clock is Playwright's, so the token's lifetime (600 s from the provider) can pass at once.
    const { page: alice } = await signedIn('alice', (page) => page.clock.install());
    await card(alice, exec).waitFor();
    expect(await card(alice, exec).getByRole('button', { name: 'Approve' }).count()).toBe(0);
    expect(await card(alice, exec).getByRole('button', { name: 'Withdraw' }).count()).toBe(1);

    // Her own requests: the pending one (which she may withdraw there too), and the one bob
    // approved, with its certificate's serial, validity and state, its reason still text.
    await alice.getByRole('button', { name: 'My requests and certificates' }).click();
    await myCard(alice, approved).waitFor();
    expect(await alice.locator('#pending').isHidden()).toBe(true);
    expect(await myField(alice, approved, 'state').textContent()).toBe('issued');
    expect(await myField(alice, approved, 'serial').textContent()).toBe(approvedSerial);
    expect(await myField(alice, approved, 'valid-until').textContent()).not.toBe('');
    expect(await myField(alice, approved, 'certificate').textContent()).toBe('valid');
    expect(await myField(alice, approved, 'reason').textContent()).toBe(HOSTILE_REASON);
    expect(await myField(alice, exec, 'state').textContent()).toBe('waiting for approval');
    expect(await myCard(alice, exec).getByRole('button', { name: 'Withdraw' }).count()).toBe(1);
    expect(await myCard(alice, exec).getByRole('button', { name: 'Revoke' }).count()).toBe(0);
    await screenshot(alice, 'mine');

    // She revokes it with a reason (none is refused on the page); after the refresh it shows revoked, with no Revoke button.
    const issued = myCard(alice, approved);
    await issued.getByRole('button', { name: 'Revoke' }).click();
    await issued.locator('.outcome.error', { hasText: 'Give a reason' }).waitFor();
    await issued.getByLabel('Reason to revoke').fill(HOSTILE_REVOCATION);
    await issued.getByRole('button', { name: 'Revoke' }).click();
    await myField(alice, approved, 'certificate').filter({ hasText: /^revoked / }).waitFor();
    const revokedText = (await myField(alice, approved, 'certificate').textContent()) ?? '';
    expect(revokedText.startsWith('revoked ') && revokedText.endsWith(` by alice: ${HOSTILE_REVOCATION}`), revokedText).toBe(true);
    expect(await issued.getByRole('button', { name: 'Revoke' }).count()).toBe(0);
    expect(await alice.locator('#mine-status').textContent()).toBe(`Revoked certificate ${approvedSerial}.`);
    expect(await alice.locator('#my-requests img').count()).toBe(0);
    expect(await alice.evaluate('window.__pwned')).toBeUndefined();
    expect((await requestView(approved)).certificate).toMatchObject({ state: 'revoked', revoked: { by: 'alice', reason: HOSTILE_REVOCATION } });
    await screenshot(alice, 'revoked');
    expect(problems.get(alice)).toEqual([]);

    // When the token expires the page forgets it and what it showed, and asks to sign in again.
    await alice.clock.fastForward(601_000);
    await alice.locator('#signed-out[data-reason="expired"]').waitFor();
    expect(await alice.locator('#signed-out-message').textContent()).toMatch(/^Your sign-in expired at .*Sign in again/);
    expect(await alice.locator('#pending').isHidden()).toBe(true);
    expect(await alice.locator('#requests').textContent()).toBe('');
    expect(await alice.locator('#mine').isHidden()).toBe(true);
    expect(await alice.locator('#my-requests').textContent()).toBe('');
    await screenshot(alice, 'expired');
    // Nothing of the token was kept where a script or a reload could find it.
    expect(await alice.evaluate('[localStorage.length, sessionStorage.length, document.cookie]')).toEqual([0, 0, '']);
  });
});
