/**
 * What a notification says, built from the committed audit record it announces and the request
 * as the store has it when it is sent (the request may have moved on: the message names the event,
 * and shows the request's details, which never change, and its approvals so far). Pure: no I/O.
 *
 * No button approves from the chat: an approval must carry the approver's own authentication
 * (Teleport removed in-chat approval for that reason), so the message gives the command and the
 * console link instead.
 */
import type { RequestViewReply } from '../api/request-view.ts';
import type { AuditRecord, NotificationKind } from '../store/types.ts';

export interface NotificationFacts {
  /** The outbox row id: also the idempotency key a receiver deduplicates on. */
  id: string;
  kind: NotificationKind;
  record: AuditRecord;
  /** Absent when the request's rows are gone (retention) or the record names none. */
  request?: RequestViewReply;
  /** The approval console's address (serve's /console), linked when set. */
  consoleUrl?: string;
}

const TITLES: Record<NotificationKind, string> = {
  pending: 'Approval needed',
  approved: 'Approved (more approvals needed)',
  denied: 'Request denied',
  expired: 'Request expired unapproved',
  expiring: 'Approval needed soon: the request expires',
  issued: 'Certificate issued on approval',
};

/** The generic webhook's body: the event and the request, as data. */
export function jsonNotification(facts: NotificationFacts): Record<string, unknown> {
  const requestId = facts.record.requestId;
  return {
    id: facts.id,
    event: facts.kind,
    at: facts.record.at,
    auditSeq: facts.record.seq,
    actor: facts.record.actor,
    ...(requestId === undefined ? {} : { requestId, approveWith: approveCommand(requestId) }),
    ...(facts.request === undefined ? {} : { request: facts.request }),
    ...(consoleLink(facts) === undefined ? {} : { consoleUrl: consoleLink(facts) }),
  };
}

/** A Slack incoming webhook's body: Block Kit, with a plain-text fallback for notifications. */
export function slackNotification(facts: NotificationFacts): Record<string, unknown> {
  const request = facts.request;
  const requestId = facts.record.requestId;
  const who = request?.requester ?? facts.record.subject ?? facts.record.actor;
  const title = `${TITLES[facts.kind]}: ${who}${request?.role === undefined ? '' : ` for ${request.role}`}`;
  const fields: string[] = [];
  const field = (label: string, value: string | undefined): void => {
    if (value !== undefined && value !== '') fields.push(`*${label}*\n${escape(value)}`);
  };
  field('Requester', who);
  field('Role', request?.role);
  field('Operations', request?.operations?.join(', '));
  field('Principals', request?.principals?.join(', '));
  field('Scope', request?.scope === undefined ? undefined : Object.entries(request.scope).map(([key, value]) => `${key}=${value}`).join(', '));
  field('Lifetime', request?.ttlSeconds === undefined ? undefined : `${Math.round(request.ttlSeconds / 60)} min`);
  field('Approvals', approvalsText(request));
  // Who approved, denied or expired it; an issuance's record names the requester (its approvers are above).
  field('By', facts.kind === 'approved' || facts.kind === 'denied' || facts.kind === 'expired' ? facts.record.actor : undefined);
  field('Expires', request?.expiresAt);
  field('Working hours', request?.workingHours === 'outside' ? 'asked outside the role\'s working hours' : undefined);
  const blocks: Array<Record<string, unknown>> = [
    { type: 'header', text: { type: 'plain_text', text: clip(title, 150) } },
    { type: 'section', fields: fields.slice(0, 10).map((text) => ({ type: 'mrkdwn', text: clip(text, 2000) })) },
  ];
  const reason = request?.reason;
  if (reason !== undefined) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(`*Reason*\n${escape(reason)}`, 3000) } });
  const decisionReason = request?.decision?.reason;
  if (facts.kind === 'denied' && decisionReason !== undefined) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(`*Denied because*\n${escape(decisionReason)}`, 3000) } });
  }
  if (requestId !== undefined) {
    const link = consoleLink(facts);
    const how = facts.kind === 'pending' || facts.kind === 'approved' || facts.kind === 'expiring' ? `Approve with \`${approveCommand(requestId)}\`` : `Request \`${escape(requestId)}\``;
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: clip(link === undefined ? how : `${how} or <${link}|open it in the console>`, 3000) }] });
  }
  return { text: clip(title, 3000), blocks };
}

export function approveCommand(requestId: string): string {
  return `jitca approve ${requestId} --reason "…"`;
}

function approvalsText(request: RequestViewReply | undefined): string | undefined {
  if (request === undefined) return undefined;
  const names = request.approvals.map((approval) => approval.approver);
  if (request.required !== undefined) return `${names.length} of ${request.required}${names.length > 0 ? `: ${names.join(', ')}` : ''}`;
  return names.length > 0 ? names.join(', ') : undefined;
}

/**
 * The console itself: it lists the requests the signed-in person may approve (it has no page per
 * request to link to), and the message names the request's id.
 */
function consoleLink(facts: NotificationFacts): string | undefined {
  if (facts.consoleUrl === undefined || facts.record.requestId === undefined) return undefined;
  return facts.consoleUrl.replace(/\/+$/, '');
}

/**
 * Slack's mrkdwn control characters: a requester's reason must not become a link, a mention
 * (`<!channel>`) or formatting in the approvers' channel.
 */
function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
