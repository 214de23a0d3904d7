/**
 * Requests as the approver's terminal shows them. Everything in a reply is the server's text (and
 * the requester's: a reason is theirs), so every value goes through terminalSafe.
 */
import type { RequestReply } from './approver-requests.ts';
import { terminalSafe } from './terminal-text.ts';

/** One line per request, for `jitca requests list`. */
export function requestLine(request: RequestReply): string {
  const approvals = Array.isArray(request['approvals']) ? request['approvals'].length : 0;
  const needed = typeof request['required'] === 'number' ? `/${request['required']}` : '';
  return [
    text(request['requestId'], 64),
    text(request['state'], 16).padEnd(8),
    text(request['requester'], 64),
    text(request['role'] ?? '-', 64),
    `approvals ${approvals}${needed}`,
    text(request['createdAt'], 40),
    `"${text(request['reason'] ?? '', 80)}"`,
  ].join('  ');
}

/** Every field, for `jitca requests show` and after `jitca approve|deny`. */
export function requestDetails(request: RequestReply): string {
  const lines = [
    `request    ${text(request['requestId'], 64)}`,
    `state      ${text(request['state'], 16)}`,
    `requester  ${text(request['requester'])}`,
    `role       ${text(request['role'] ?? '-')}`,
    `principals ${list(request['principals'])}`,
    `scope      ${scopeText(request['scope'])}`,
    `commands   ${list(request['commands'])}`,
    `operations ${list(request['operations'])}`,
    `ttl        ${typeof request['ttlSeconds'] === 'number' ? `${request['ttlSeconds']}s` : '-'}`,
    `reason     ${text(request['reason'] ?? '-')}`,
    `created    ${text(request['createdAt'], 40)}`,
  ];
  if (request['expiresAt'] !== undefined) lines.push(`expires    ${text(request['expiresAt'], 40)}`);
  const approvals = Array.isArray(request['approvals']) ? request['approvals'] : [];
  const needed = typeof request['required'] === 'number' ? ` of ${request['required']} needed` : '';
  const groups = Array.isArray(request['approverGroups']) ? ` from ${list(request['approverGroups'])}` : '';
  lines.push(`approvals  ${approvals.length}${needed}${groups}`);
  for (const approval of approvals) lines.push(`  ${approvalText(approval)}`);
  const outcome = decisionText(request);
  if (outcome !== undefined) lines.push(`decision   ${outcome}`);
  if (request['serial'] !== undefined) lines.push(`serial     ${text(request['serial'], 40)}`);
  return lines.join('\n');
}

/**
 * How a request ended, in one line: "denied by carol at …: not this pod", "issued after
 * approval by bob (first look), carol (second look)", "expired at …". Undefined while pending.
 */
export function decisionText(request: RequestReply): string | undefined {
  const decision = request['decision'];
  if (typeof decision !== 'object' || decision === null) return undefined;
  const { outcome, at, by, reason, message } = decision as Record<string, unknown>;
  if (outcome === 'denied') {
    const who = by === undefined ? 'denied' : `denied by ${text(by)}`;
    const why = reason ?? message;
    return `${who} at ${text(at, 40)}${why === undefined ? '' : `: ${text(why)}`}`;
  }
  if (outcome === 'issued') {
    const approvals = Array.isArray(request['approvals']) ? request['approvals'] : [];
    const by = approvals.length === 0 ? '' : ` after approval by ${approvals.map((approval) => approvalText(approval, false)).join(', ')}`;
    return `issued at ${text(at, 40)}${by}`;
  }
  return `${text(outcome, 16)} at ${text(at, 40)}`;
}

function approvalText(approval: unknown, withTime = true): string {
  if (typeof approval !== 'object' || approval === null) return '?';
  const { approver, at, reason } = approval as Record<string, unknown>;
  return `${text(approver)}${withTime ? ` at ${text(at, 40)}` : ''}${reason === undefined ? '' : ` (${text(reason)})`}`;
}

function list(value: unknown): string {
  return Array.isArray(value) && value.length > 0 ? value.map((item) => text(item)).join(', ') : '-';
}

function scopeText(value: unknown): string {
  if (typeof value !== 'object' || value === null) return '-';
  return Object.entries(value).map(([key, item]) => `${text(key, 16)}=${text(item)}`).join(' ') || '-';
}

function text(value: unknown, maxLength = 200): string {
  return terminalSafe(typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value), maxLength);
}
