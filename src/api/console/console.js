// The approval console's script (src/api/console-routes.ts serves it; no build step, no framework).
//
// Sign-in: OAuth 2.0 authorization code with PKCE (RFC 7636) as a public client. The verifier and
// state wait in sessionStorage for the one redirect to the issuer and back (a page navigation
// loses memory) and are removed when the browser returns. The access token is kept in this
// module's memory only: never in localStorage, sessionStorage or a cookie, so it leaves with the
// tab, and a reload means signing in again (the issuer's own session usually makes that one click).
//
// Token expiry: no refresh token is asked for and none is kept. When the token's lifetime
// (expires_in) runs out, or the API answers 401, the page forgets the token and the requests it
// showed and asks to sign in again; an approval or denial being typed is not sent with a token
// that has run out.
//
// Two views: the pending requests the person may see (to approve or deny), and their own requests
// with each issued certificate's validity and state as the API reports it (the CA's clock decides
// what has expired, not the browser's), where they withdraw a pending request or revoke a
// certificate through the API's own routes; the server decides again whether they may.
//
// Every value from the API or the issuer reaches the page through textContent or an attribute,
// never as HTML: requesters write the reasons. The CSP's Trusted Types rule makes the browser
// refuse an HTML string anyway.

const PKCE_KEY = 'jitca-console-sign-in';
const PAGE_SIZE = 100;
const MAX_PAGES = 10;

/** @type {{ accessToken: string, expiresAt: number, subject: string } | null} */
let session = null;
let expiryTimer = 0;
/** Which view is shown: 'pending' or 'mine'. */
let view = 'pending';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** An element with text content (never HTML), attributes and children. */
function el(tag, { text, className, attrs } = {}, ...children) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  if (className !== undefined) node.className = className;
  for (const [name, value] of Object.entries(attrs ?? {})) node.setAttribute(name, String(value));
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function base64url(bytes) {
  let binary = '';
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const randomString = (bytes) => base64url(crypto.getRandomValues(new Uint8Array(bytes)));

async function loadSettings() {
  const response = await fetch('/console/settings.json', { headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`the console's settings could not be loaded (HTTP ${response.status})`);
  return response.json();
}

/** The issuer's endpoints (OIDC Discovery), refused when the document names another issuer. */
async function discover(settings) {
  const response = await fetch(`${settings.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, { headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`the identity provider's discovery document answered HTTP ${response.status}`);
  const document_ = await response.json();
  if (document_.issuer !== settings.issuer) throw new Error('the discovery document names another issuer');
  if (typeof document_.authorization_endpoint !== 'string' || typeof document_.token_endpoint !== 'string') {
    throw new Error('the discovery document has no authorization or token endpoint');
  }
  return document_;
}

const redirectUri = (settings) => new URL(settings.redirectPath, location.origin).href;

async function signIn(settings) {
  const provider = await discover(settings);
  const verifier = randomString(32);
  const state = randomString(16);
  const challenge = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state }));
  const url = new URL(provider.authorization_endpoint);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', settings.clientId);
  url.searchParams.set('redirect_uri', redirectUri(settings));
  url.searchParams.set('scope', settings.scope);
  url.searchParams.set('state', state);
  url.searchParams.set('code_challenge', challenge);
  url.searchParams.set('code_challenge_method', 'S256');
  if (settings.resource !== undefined) url.searchParams.set('resource', settings.resource);
  location.assign(url.href);
}

/** Back from the issuer: check state (and iss, RFC 9207), exchange the code, keep the token in memory. */
async function completeSignIn(settings, params) {
  const saved = sessionStorage.getItem(PKCE_KEY);
  sessionStorage.removeItem(PKCE_KEY);
  // The code leaves the address bar (and the history) before anything else happens.
  history.replaceState(null, '', '/console');
  if (params.has('error')) throw new Error(`the identity provider refused the sign-in: ${params.get('error')}`);
  const pending = saved === null ? null : JSON.parse(saved);
  if (pending === null || params.get('state') !== pending.state) throw new Error('this sign-in answer was not asked for by this page; sign in again');
  if (params.has('iss') && params.get('iss') !== settings.issuer) throw new Error('the sign-in answer comes from another issuer');
  const provider = await discover(settings);
  const body = new URLSearchParams({
    grant_type: 'authorization_code',
    code: params.get('code') ?? '',
    redirect_uri: redirectUri(settings),
    client_id: settings.clientId,
    code_verifier: pending.verifier,
  });
  if (settings.resource !== undefined) body.set('resource', settings.resource);
  const response = await fetch(provider.token_endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  const tokens = await response.json();
  if (!response.ok || typeof tokens.access_token !== 'string') throw new Error(`the identity provider did not issue a token (${tokens.error ?? response.status})`);
  const lifetime = Number.isFinite(tokens.expires_in) && tokens.expires_in > 0 ? tokens.expires_in : 300;
  session = { accessToken: tokens.access_token, expiresAt: Date.now() + lifetime * 1000, subject: subjectOf(tokens.access_token) };
  // setTimeout holds at most 2^31 - 1 ms; a token living longer is also checked before each call.
  expiryTimer = setTimeout(() => endSession('expired'), Math.min(lifetime * 1000, 2 ** 31 - 1));
}

/** The token's sub, for the header only: the API verifies the token, the page does not need to. */
function subjectOf(token) {
  try {
    const payload = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    return typeof payload.sub === 'string' ? payload.sub : 'signed in';
  } catch {
    return 'signed in';
  }
}

function endSession(why) {
  clearTimeout(expiryTimer);
  const expiredAt = session === null ? null : new Date(Math.min(session.expiresAt, Date.now()));
  session = null;
  $('requests').replaceChildren();
  $('my-requests').replaceChildren();
  $('status').textContent = '';
  $('mine-status').textContent = '';
  $('pending').hidden = true;
  $('mine').hidden = true;
  $('views').hidden = true;
  $('who').hidden = true;
  $('sign-out').hidden = true;
  $('signed-out').hidden = false;
  $('signed-out').dataset.reason = why;
  $('signed-out-message').textContent =
    why === 'expired'
      ? `Your sign-in expired${expiredAt === null ? '' : ` at ${expiredAt.toLocaleTimeString()}`}. Sign in again to go on; nothing was sent with the expired token.`
      : why === 'signed-out'
        ? 'You signed out. The token is gone from this page.'
        : "Sign in with your organisation's account to see the requests waiting for you.";
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The API with the bearer token; a 401 ends the session (the token expired or was refused). */
async function api(method, path, body) {
  if (session === null || Date.now() >= session.expiresAt) {
    endSession('expired');
    throw new ApiError(401, 'ERR_AUTHN_EXPIRED', 'your sign-in expired');
  }
  const headers = { authorization: `Bearer ${session.accessToken}`, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const reply = response.status === 204 ? {} : await response.json().catch(() => ({}));
  if (response.status === 401) {
    endSession('expired');
    throw new ApiError(401, reply.code, reply.message ?? 'your sign-in is no longer accepted');
  }
  if (!response.ok) throw new ApiError(response.status, reply.code, reply.message ?? `HTTP ${response.status}`);
  return { status: response.status, reply };
}

/** Every page of GET /v1/requests with these parameters, up to MAX_PAGES. */
async function listRequests(parameters) {
  const requests = [];
  let cursor;
  for (let page = 0; page < MAX_PAGES; page++) {
    const query = new URLSearchParams({ ...parameters, limit: String(PAGE_SIZE) });
    if (cursor !== undefined) query.set('cursor', cursor);
    const { reply } = await api('GET', `/v1/requests?${query}`);
    requests.push(...reply.requests);
    cursor = reply.nextCursor;
    if (cursor === undefined) break;
  }
  return requests;
}

function duration(seconds) {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

const when = (iso) => new Date(iso).toLocaleString();

function field(list, label, value, className) {
  if (value === undefined || value === null || value === '') return;
  list.append(el('dt', { text: label }), el('dd', { text: value, className }));
}

function approvalsOf(request) {
  const needed = request.required ?? '?';
  const item = el('dd', { attrs: { 'data-field': 'approvals' } }, el('span', { text: `${request.approvals.length} of ${needed}` }));
  if (request.approvals.length > 0) {
    const list = el('ul');
    for (const approval of request.approvals) {
      list.append(el('li', { text: `${approval.approver}, ${when(approval.at)}${approval.reason === undefined ? '' : `: ${approval.reason}`}` }));
    }
    item.append(list);
  }
  return item;
}

function requestCard(request) {
  const card = el('article', { className: 'request', attrs: { 'data-request-id': request.requestId, 'aria-label': `request ${request.requestId}` } });
  const mine = session !== null && request.requester === session.subject;
  card.append(el('h3', { text: `${request.requester} asks for ${request.role ?? 'a role'}${mine ? ' (your request)' : ''}` }));
  const facts = el('dl');
  field(facts, 'Requester', request.requester);
  field(facts, 'Role', request.role);
  field(facts, 'Operations', request.operations?.join(', '));
  field(facts, 'Principals', request.principals?.join(', '));
  field(facts, 'Scope', request.scope === undefined ? undefined : Object.entries(request.scope).map(([key, value]) => `${key}=${value}`).join(', '));
  field(facts, 'Commands', request.commands?.join(', '));
  field(facts, 'Reason', request.reason);
  field(facts, 'Lifetime', request.ttlSeconds === undefined ? undefined : `${duration(request.ttlSeconds)} from issuance`);
  if (request.workingHours !== undefined) {
    field(facts, 'Working hours', request.workingHours === 'inside' ? 'asked inside working hours' : 'asked outside working hours', request.workingHours === 'outside' ? 'outside' : undefined);
  }
  facts.append(el('dt', { text: 'Approvals' }), approvalsOf(request));
  field(facts, 'Approver groups', request.approverGroups?.join(', '));
  field(facts, 'Requested', when(request.createdAt));
  field(facts, 'Expires unless approved', request.expiresAt === undefined ? undefined : when(request.expiresAt));
  for (const dd of facts.querySelectorAll('dd')) {
    const label = dd.previousElementSibling?.textContent ?? '';
    if (!dd.hasAttribute('data-field')) dd.setAttribute('data-field', label.toLowerCase().replace(/[^a-z]+/g, '-'));
  }
  card.append(facts);
  card.append(decisionForm(request, mine));
  return card;
}

function decisionForm(request, mine) {
  const may = request.callerMay ?? { approve: false, deny: false };
  if (!may.approve && !may.deny) return el('p', { className: 'note', text: 'You may not approve or deny this request.' });
  const id = `reason-${request.requestId}`;
  const reason = el('textarea', { attrs: { id, name: 'reason', required: '', maxlength: 512 } });
  const outcome = el('p', { className: 'outcome', attrs: { role: 'status' } });
  const buttons = el('div', { className: 'buttons' });
  if (may.approve) buttons.append(el('button', { text: 'Approve', attrs: { type: 'submit', value: 'approve' } }));
  if (may.deny) buttons.append(el('button', { text: mine ? 'Withdraw' : 'Deny', attrs: { type: 'submit', value: 'deny' } }));
  const form = el('form', { className: 'decide', attrs: { novalidate: '' } }, el('label', { text: 'Reason (recorded in the audit log)', attrs: { for: id } }), reason, buttons, outcome);
  if (!may.approve) form.prepend(el('p', { className: 'note', text: whyNoApproval(request, mine) }));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const action = event.submitter?.value;
    if (action !== 'approve' && action !== 'deny') return;
    void decide(request, action, reason.value, outcome, form);
  });
  return form;
}

function whyNoApproval(request, mine) {
  if (mine) return 'You asked for this: someone else must approve it.';
  if (session !== null && request.approvals.some((approval) => approval.approver === session.subject)) {
    const more = (request.required ?? 0) - request.approvals.length;
    return `You approved this; it needs ${more > 0 ? more : 'no'} more approval${more === 1 ? '' : 's'} from someone else.`;
  }
  return 'Your groups cannot approve this request; you may deny it.';
}

async function decide(request, action, reason, outcome, form) {
  outcome.className = 'outcome';
  if (reason.trim() === '') {
    outcome.className = 'outcome error';
    outcome.textContent = 'Give a reason: it is recorded with your decision.';
    return;
  }
  for (const button of form.querySelectorAll('button')) button.disabled = true;
  try {
    const { status, reply } = await api('POST', `/v1/requests/${encodeURIComponent(request.requestId)}/${action}`, { reason });
    statusLine().textContent =
      action === 'deny'
        ? `${view === 'mine' ? 'Withdrew' : 'Denied'} request ${request.requestId}.`
        : status === 201
          ? `Approved request ${request.requestId}: the certificate is issued.`
          : `Approved request ${request.requestId}: ${reply.approvals.length} of ${reply.required} approvals, waiting for ${reply.required - reply.approvals.length} more.`;
    await refresh();
  } catch (error) {
    if (session === null) return;
    for (const button of form.querySelectorAll('button')) button.disabled = false;
    outcome.className = 'outcome error';
    outcome.textContent = error instanceof ApiError && error.code !== undefined ? `${error.message} (${error.code})` : String(error.message ?? error);
  }
}

/** The shown view's status line. */
const statusLine = () => $(view === 'mine' ? 'mine-status' : 'status');

/** Reloads the shown view. */
const refresh = () => (view === 'mine' ? refreshMine() : refreshPending());

async function refreshPending() {
  try {
    const requests = await listRequests({ state: 'pending' });
    const cards = requests.map(requestCard);
    $('requests').replaceChildren(...(cards.length === 0 ? [el('p', { className: 'note', text: 'No pending requests you can see.' })] : cards));
  } catch (error) {
    if (session === null) return;
    $('status').textContent = `The requests could not be loaded: ${error.message}`;
  }
}

const STATE_TEXT = { pending: 'waiting for approval', approved: 'approved', issued: 'issued', denied: 'denied', expired: 'expired unapproved' };

/** One of the person's own requests: what they asked, how it stands, and its certificate once issued. */
function myRequestCard(request) {
  const card = el('article', { className: 'request', attrs: { 'data-request-id': request.requestId, 'aria-label': `request ${request.requestId}` } });
  card.append(el('h3', { text: `${request.role ?? 'a role'}: ${STATE_TEXT[request.state] ?? request.state}` }));
  const facts = el('dl');
  field(facts, 'State', STATE_TEXT[request.state] ?? request.state);
  field(facts, 'Role', request.role);
  field(facts, 'Operations', request.operations?.join(', '));
  field(facts, 'Principals', request.principals?.join(', '));
  field(facts, 'Reason', request.reason);
  field(facts, 'Requested', when(request.createdAt));
  if (request.state === 'pending') {
    facts.append(el('dt', { text: 'Approvals' }), approvalsOf(request));
    field(facts, 'Expires unless approved', request.expiresAt === undefined ? undefined : when(request.expiresAt));
  }
  if (request.decision?.outcome === 'denied') {
    field(facts, 'Denied by', request.decision.by);
    field(facts, 'Denial reason', request.decision.reason ?? request.decision.message);
  }
  const certificate = request.certificate;
  if (certificate !== undefined) {
    field(facts, 'Serial', certificate.serial);
    field(facts, 'Valid from', when(certificate.validAfter));
    field(facts, 'Valid until', when(certificate.validBefore));
    field(facts, 'Certificate', certificateText(certificate), certificate.state === 'valid' ? undefined : certificate.state);
  }
  for (const dd of facts.querySelectorAll('dd')) {
    const label = dd.previousElementSibling?.textContent ?? '';
    if (!dd.hasAttribute('data-field')) dd.setAttribute('data-field', label.toLowerCase().replace(/[^a-z]+/g, '-'));
  }
  card.append(facts);
  if (request.state === 'pending') card.append(decisionForm(request, true));
  // Only SSH certificates are revoked (the KRL); an X.509 one is kept short instead.
  if (certificate?.state === 'valid' && request.kind === 'ssh-user') card.append(revokeForm(request, certificate));
  return card;
}

function certificateText(certificate) {
  if (certificate.state === 'valid') return 'valid';
  if (certificate.state === 'expired') return 'expired';
  const revoked = certificate.revoked;
  return revoked === undefined ? 'revoked' : `revoked ${when(revoked.at)} by ${revoked.by}: ${revoked.reason}`;
}

function revokeForm(request, certificate) {
  const id = `revoke-reason-${request.requestId}`;
  const reason = el('textarea', { attrs: { id, name: 'reason', required: '', maxlength: 512 } });
  const outcome = el('p', { className: 'outcome', attrs: { role: 'status' } });
  const button = el('button', { text: 'Revoke', attrs: { type: 'submit' } });
  const form = el(
    'form',
    { className: 'decide', attrs: { novalidate: '' } },
    el('label', { text: 'Reason to revoke (recorded in the audit log; hosts refuse the certificate once they fetch the revocation list)', attrs: { for: id } }),
    reason,
    el('div', { className: 'buttons' }, button),
    outcome,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void revoke(certificate, reason.value, outcome, button);
  });
  return form;
}

async function revoke(certificate, reason, outcome, button) {
  outcome.className = 'outcome';
  if (reason.trim() === '') {
    outcome.className = 'outcome error';
    outcome.textContent = 'Give a reason: it is recorded with the revocation.';
    return;
  }
  button.disabled = true;
  try {
    await api('POST', `/v1/ssh/certificates/${encodeURIComponent(certificate.serial)}/revoke`, { reason });
    $('mine-status').textContent = `Revoked certificate ${certificate.serial}.`;
    await refreshMine();
  } catch (error) {
    if (session === null) return;
    button.disabled = false;
    outcome.className = 'outcome error';
    outcome.textContent = error instanceof ApiError && error.code !== undefined ? `${error.message} (${error.code})` : String(error.message ?? error);
  }
}

async function refreshMine() {
  try {
    const requests = await listRequests({ mine: 'true' });
    const cards = requests.map(myRequestCard);
    $('my-requests').replaceChildren(...(cards.length === 0 ? [el('p', { className: 'note', text: 'You have made no requests.' })] : cards));
  } catch (error) {
    if (session === null) return;
    $('mine-status').textContent = `Your requests could not be loaded: ${error.message}`;
  }
}

function show(which) {
  view = which;
  // The hidden view's cards go: stale, and their forms' ids would repeat in the shown one's.
  $(which === 'mine' ? 'requests' : 'my-requests').replaceChildren();
  $('pending').hidden = which !== 'pending';
  $('mine').hidden = which !== 'mine';
  $('show-pending').setAttribute('aria-pressed', String(which === 'pending'));
  $('show-mine').setAttribute('aria-pressed', String(which === 'mine'));
  return refresh();
}

function showSignedIn() {
  $('signed-out').hidden = true;
  $('views').hidden = false;
  view = 'pending';
  $('pending').hidden = false;
  $('who').textContent = `Signed in as ${session.subject}`;
  $('who').hidden = false;
  $('sign-out').hidden = false;
}

async function start() {
  const settings = await loadSettings();
  $('sign-in').addEventListener('click', () => {
    signIn(settings).catch((error) => {
      $('signed-out-message').textContent = `Sign-in could not start: ${error.message}`;
    });
  });
  $('sign-out').addEventListener('click', () => endSession('signed-out'));
  $('refresh').addEventListener('click', () => void refreshPending());
  $('refresh-mine').addEventListener('click', () => void refreshMine());
  $('show-pending').addEventListener('click', () => void show('pending'));
  $('show-mine').addEventListener('click', () => void show('mine'));
  const params = new URLSearchParams(location.search);
  if (location.pathname === settings.redirectPath && (params.has('code') || params.has('error'))) {
    try {
      await completeSignIn(settings, params);
    } catch (error) {
      $('signed-out-message').textContent = error.message;
      return;
    }
    showSignedIn();
    await refresh();
  }
}

start().catch((error) => {
  $('signed-out-message').textContent = `The console could not start: ${error.message}`;
});
