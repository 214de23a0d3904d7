import type { Store } from './types.ts';

/**
 * How each Store method is answered when the store runs on its own thread (worker-store.ts):
 * `thread` methods are sent to the thread and answered there, `stats` from the counters the last
 * reply carried, `threadHeap` from the thread's isolate, `close` ends the thread. Typed by the Store interface, so a new method does not
 * compile until it has its line here (CONTRIBUTING.md, "How to add a store method"); the worker
 * proxy and the protocol are derived from this list.
 */
export const storeMethodKinds = {
  recordDecision: 'thread',
  appendAudit: 'thread',
  recordRevocation: 'thread',
  recordCaGenerations: 'thread',
  recordKeyEnrollment: 'thread',
  recordKeyRemoval: 'thread',
  listEnrolledKeys: 'thread',
  findEnrolledKey: 'thread',
  recordLocalUser: 'thread',
  recordLocalUserRemoval: 'thread',
  listLocalUsers: 'thread',
  findLocalUser: 'thread',
  issueAuthChallenge: 'thread',
  consumeAuthChallenge: 'thread',
  listCaGenerations: 'thread',
  acquireRotationLock: 'thread',
  releaseRotationLock: 'thread',
  lastValidBefore: 'thread',
  listRevocations: 'thread',
  findRevocation: 'thread',
  recordHostReport: 'thread',
  listHostReports: 'thread',
  revocationsRevision: 'thread',
  getRequest: 'thread',
  listRetired: 'thread',
  recordRetention: 'thread',
  findCertificateBySerial: 'thread',
  countActiveCertificates: 'thread',
  listApprovals: 'thread',
  listRequests: 'thread',
  countRequests: 'thread',
  claimNotifications: 'thread',
  settleNotification: 'thread',
  recordNotificationDead: 'thread',
  notificationBacklog: 'thread',
  listOverduePending: 'thread',
  listAudit: 'thread',
  verifyAudit: 'thread',
  auditHead: 'thread',
  auditCheckpoint: 'thread',
  recordAuditTruncation: 'thread',
  probeWrite: 'thread',
  stats: 'local',
  threadHeap: 'local',
  close: 'close',
} as const satisfies { readonly [method in keyof Store]: 'thread' | 'local' | 'close' };

type MethodsOfKind<Kind> = { [M in keyof Store]: (typeof storeMethodKinds)[M] extends Kind ? M : never }[keyof Store];

/** Methods the worker proxy forwards to the store thread as they are. */
export type ThreadMethod = MethodsOfKind<'thread'>;
/** Everything a call message may name: the forwarded methods and close. */
export type StoreWorkerMethod = MethodsOfKind<'thread' | 'close'>;

export const threadMethods = (Object.keys(storeMethodKinds) as Array<keyof Store>).filter(
  (method): method is ThreadMethod => storeMethodKinds[method] === 'thread',
);
