/**
 * What the API shows of a request (GET /v1/requests and /v1/requests/{id}): who asked, for what,
 * why, until when, who approved (when, why), and how it ended. The stored body and decision are
 * plain JSON written by jitca, but a denial keeps a bounded copy of what the caller sent
 * (denial-record.ts), so every field is taken only when it has the type the reply declares.
 */
import { actionsOn, workingHoursState, type RequestActions } from '../policy/request-actions.ts';
import type { Identity, Policy } from '../policy/types.ts';
import type { StoredApproval, StoredRequest } from '../store/types.ts';
import type { IssuedCertificate } from './issued-certificate.ts';

export interface RequestViewReply {
  requestId: string;
  kind: string;
  state: StoredRequest['state'];
  requester: string;
  role?: string;
  /** What the certificate carries (or would): the grant once policy decided one, else what was asked. */
  principals?: string[];
  scope?: Record<string, string>;
  commands?: string[];
  operations?: string[];
  ttlSeconds?: number;
  reason?: string;
  createdAt: string;
  expiresAt?: string;
  approvals: Array<{ approver: string; at: string; reason?: string }>;
  /** Pending only: how many distinct approvals the role needs, and from which groups. */
  required?: number;
  approverGroups?: string[];
  /** Pending only: what the caller may do with it now (policy/request-actions.ts); the routes decide again. */
  callerMay?: RequestActions;
  /** A role with working hours: whether the request was made inside them. */
  workingHours?: 'inside' | 'outside';
  /** Final states only: how it ended, when, and (a denial) by whom and why. */
  decision?: { outcome: 'issued' | 'denied' | 'expired'; at: string; by?: string; reason?: string; rule?: string; message?: string };
  serial?: string;
  /** Issued only: the certificate's validity and whether it still holds (revoked, expired) at the CA's clock. */
  certificate?: CertificateView;
}

export interface CertificateView {
  serial: string;
  validAfter: string;
  validBefore: string;
  state: 'valid' | 'expired' | 'revoked';
  revoked?: { at: string; by: string; reason: string };
}

/** Who is looking, under which policy: what they may do and the working-hours state are theirs to see. */
export interface RequestViewer {
  policy: Policy;
  identity: Identity;
  /** The CA's clock now: whether the certificate has expired. */
  now: Date;
  /** The certificate of an issued request (issued-certificate.ts), read by the route. */
  issued?: IssuedCertificate;
}

export function requestView(stored: StoredRequest, approvals: readonly StoredApproval[], viewer: RequestViewer): RequestViewReply {
  const grant = objectOf(stored.decision['grant']);
  const asked = grant ?? stored.body;
  const view: RequestViewReply = {
    requestId: stored.id,
    kind: stored.kind,
    state: stored.state,
    requester: stored.requester,
    createdAt: stored.createdAt,
    approvals: approvals.map((approval) => ({ approver: approval.approver, at: approval.at, ...(approval.reason === undefined ? {} : { reason: approval.reason }) })),
  };
  assign(view, 'role', stored.role);
  assign(view, 'principals', stringsOf(asked['principals']));
  assign(view, 'scope', scopeOf(asked['scope']));
  assign(view, 'commands', stringsOf(asked['commands']));
  assign(view, 'operations', stringsOf(asked['operations']));
  assign(view, 'ttlSeconds', integerOf(asked['ttlSeconds']));
  assign(view, 'reason', stringOf(stored.body['reason']));
  assign(view, 'expiresAt', stored.expiresAt);
  if (stored.state === 'pending') {
    const approval = objectOf(stored.decision['approval']);
    const required = integerOf(approval?.['approvals']);
    const approverGroups = stringsOf(approval?.['approverGroups']);
    assign(view, 'required', required);
    assign(view, 'approverGroups', approverGroups);
    view.callerMay = actionsOn(viewer.policy, viewer.identity, {
      ...(stored.role === undefined ? {} : { role: stored.role }),
      requester: stored.requester,
      ...((required === 1 || required === 2) && approverGroups !== undefined ? { needed: { approverGroups, approvals: required } } : {}),
      priorApprovers: approvals.map((approval) => approval.approver),
    });
  }
  assign(view, 'workingHours', workingHoursState(viewer.policy, stored.role, new Date(stored.createdAt)));
  const serial = stringOf(stored.decision['serial']);
  assign(view, 'serial', serial);
  if (viewer.issued !== undefined) view.certificate = certificateView(viewer.issued, viewer.now);
  if (stored.state === 'issued' || stored.state === 'denied' || stored.state === 'expired') {
    const decision: NonNullable<RequestViewReply['decision']> = { outcome: stored.state, at: stored.updatedAt };
    if (stored.state === 'denied') {
      assign(decision, 'by', stringOf(stored.decision['by']));
      assign(decision, 'reason', stringOf(stored.decision['reason']));
      assign(decision, 'rule', stringOf(stored.decision['rule']));
      assign(decision, 'message', stringOf(stored.decision['message']));
    }
    view.decision = decision;
  }
  return view;
}

function certificateView({ certificate, revocation }: IssuedCertificate, now: Date): CertificateView {
  const view: CertificateView = {
    serial: certificate.serial,
    validAfter: certificate.validAfter,
    validBefore: certificate.validBefore,
    // Revoked wins over expired: the holder asked for it to stop, and it did before it ran out.
    state: revocation !== undefined ? 'revoked' : Date.parse(certificate.validBefore) <= now.getTime() ? 'expired' : 'valid',
  };
  if (revocation !== undefined) view.revoked = { at: revocation.revokedAt, by: revocation.revokedBy, reason: revocation.reason };
  return view;
}

function assign<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}

function objectOf(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function integerOf(value: unknown): number | undefined {
  return Number.isSafeInteger(value) ? (value as number) : undefined;
}

function stringsOf(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((item) => typeof item === 'string') ? value : undefined;
}

function scopeOf(value: unknown): Record<string, string> | undefined {
  const scope = objectOf(value);
  if (scope === undefined) return undefined;
  const kept = Object.fromEntries(
    ['cluster', 'namespace', 'pod', 'node'].flatMap((key) => (typeof scope[key] === 'string' ? [[key, scope[key]]] : [])),
  );
  return Object.keys(kept).length === 0 ? undefined : kept;
}
