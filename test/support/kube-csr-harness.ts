/**
 * Everything a CSR controller test runs against, all real except the apiserver: a SoftHSM2 token
 * holding an Ed25519 CA key (one per test file: SoftHSM2 reads its configuration once per process),
 * a CA certificate made with src/x509, a SQLite store, the API double with the RBAC permissions of
 * deploy/kubernetes, and the policy loaded through the policy loader.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureSoftHsmToken, readPinFile } from '../../hsm/softhsm-bootstrap.ts';
import { openPkcs11Token, type Pkcs11Token } from '../../hsm/pkcs11-token.ts';
import type { Signer } from '../../src/keys/signer.ts';
import { systemClock, type Clock } from '../../src/clock.ts';
import { randomSerial } from '../../src/issuance/serial.ts';
import { createCsrController, type CsrController, type CsrControllerOptions } from '../../src/k8s/csr-controller.ts';
import { createCsrApi, createKubeConfig } from '../../src/k8s/kube-client.ts';
import type { ControllerLogger } from '../../src/k8s/logger.ts';
import { DEFAULT_JITCA_SIGNER } from '../../src/policy/csr-evaluate.ts';
import { parsePolicy } from '../../src/policy/load.ts';
import type { Policy } from '../../src/policy/types.ts';
import { openStore } from '../../src/store/store.ts';
import type { Store } from '../../src/store/types.ts';
import { createCaCertificate } from '../../src/x509/ca-certificate.ts';
import { startKubeApiDouble, type AuthorizationQuestion, type CsrCondition, type CsrObject, type KubeApiDouble, type KubeUser } from './kube-api-double.ts';
import type { LeasesDouble } from './kube-leases.ts';
import { clusterRoleRules, rbacAllows, roleAllows, roleRules } from './kube-rbac.ts';

export const TOKENS = {
  alice: 'token-alice',
  bob: 'token-bob',
  sam: 'token-sam',
  admin: 'token-admin',
  controller: 'token-jitca-controller',
} as const;

export const CONTROLLER_USER = 'system:serviceaccount:jitca:jitca-csr-controller';

const USERS: Record<string, KubeUser> = {
  [TOKENS.alice]: { username: 'alice', uid: 'uid-alice', groups: ['oncall-payments'] },
  [TOKENS.bob]: { username: 'bob', uid: 'uid-bob', groups: ['marketing'] },
  [TOKENS.sam]: { username: 'sam', uid: 'uid-sam', groups: ['sre'] },
  // A cluster admin who approves by hand (kubectl certificate approve).
  [TOKENS.admin]: { username: 'kubernetes-admin', groups: ['system:masters'] },
  [TOKENS.controller]: { username: CONTROLLER_USER, groups: ['system:serviceaccounts', 'system:serviceaccounts:jitca'] },
};

/** The policy document the tests load: seed 001's on-call group and a manual-approval role. */
export function testPolicyDocument(): Record<string, unknown> {
  return {
    version: 1,
    extensionDomain: 'jitca.dev',
    roles: [
      {
        name: 'oncall-payments',
        groups: ['oncall-payments'],
        principals: ['oncall-payments'],
        maxTtlSeconds: 1800,
        scope: { clusters: ['prod'], namespaces: ['payments'] },
        approval: { mode: 'auto' },
        kubernetes: { groups: ['oncall-payments', 'jit:oncall:payments'], allowKeyEncipherment: true },
      },
      {
        name: 'cluster-read',
        groups: ['sre'],
        principals: ['jit-cluster-read'],
        maxTtlSeconds: 1800,
        scope: { clusters: ['prod'], namespaces: ['*'] },
        approval: { mode: 'manual', approverGroups: ['sre-leads'], approvals: 1 },
        kubernetes: { groups: ['jit:oncall:cluster'] },
      },
    ],
  };
}

export interface CaFixture {
  dir: string;
  token: Pkcs11Token;
  signer: Signer;
  caPem: string;
  caCertificate: X509Certificate;
  close(): void;
}

/** One per test file. */
export async function createCaFixture(): Promise<CaFixture> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'jitca-k8s-ca-'));
  const softhsm = ensureSoftHsmToken({ dataDir: dir, tokenLabel: 'jitca-k8s-test' });
  const token = openPkcs11Token({ modulePath: softhsm.modulePath, tokenLabel: 'jitca-k8s-test', pin: readPinFile(softhsm.pinFile) });
  const signer = await token.generateKey('k8s-client-ca', 1, { kind: 'ed25519' });
  const now = Date.now();
  const ca = await createCaCertificate({
    signer,
    commonName: 'jitca kubernetes client CA 1',
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 30 * 86_400_000),
    serial: randomSerial(),
  });
  return {
    dir,
    token,
    signer,
    caPem: ca.pem,
    caCertificate: new X509Certificate(ca.der),
    close(): void {
      token.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface LogEntry {
  level: string;
  object: Record<string, unknown>;
  message: string;
}

export function recordingLogger(entries: LogEntry[]): ControllerLogger {
  const at = (level: string) => (object: Record<string, unknown>, message: string) => void entries.push({ level, object, message });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export interface SubmitOptions {
  name: string;
  pem: string;
  signerName?: string;
  usages?: string[];
  /** null: leave spec.expirationSeconds out. */
  expirationSeconds?: number | null;
}

export interface CsrEnvironment {
  dir: string;
  double: KubeApiDouble;
  store: Store;
  policy: Policy;
  logs: LogEntry[];
  controllers: CsrController[];
  startController(overrides?: Partial<CsrControllerOptions>): Promise<CsrController>;
  submit(token: string, options: SubmitOptions): CsrObject;
  certificateOf(name: string): string | undefined;
  conditionOf(name: string, type: string): CsrCondition | undefined;
  waitForCertificate(name: string, timeoutMs?: number): Promise<string>;
  waitForCondition(name: string, type: 'Approved' | 'Denied' | 'Failed', timeoutMs?: number): Promise<CsrCondition>;
  close(): Promise<void>;
}

export interface EnvironmentOptions {
  /** Share a store file between environments or instances. */
  sqlitePath?: string;
  clock?: Clock;
  authorize?: (question: AuthorizationQuestion) => boolean;
  /** Serve Leases too; the controller may use them as deploy/kubernetes-ha's Role allows. */
  leases?: LeasesDouble;
}

export async function createCsrEnvironment(ca: CaFixture, options: EnvironmentOptions = {}): Promise<CsrEnvironment> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'jitca-k8s-env-'));
  const controllerRules = clusterRoleRules('clusterrole-csr-controller.json', 'jitca-csr-controller');
  const requesterRules = clusterRoleRules('rbac-csr-requesters.json', 'jitca-csr-requester');
  const leaseRole = options.leases === undefined ? undefined : roleRules('role-leader-election.json', 'jitca-leader-election');
  const authorize =
    options.authorize ??
    ((question: AuthorizationQuestion): boolean => {
      if (question.user.groups.includes('system:masters')) return true;
      if (question.resource === 'leases') return leaseRole !== undefined && question.user.username === CONTROLLER_USER && roleAllows(leaseRole, question);
      // The controller gets exactly the deploy ClusterRole; everyone else the requester role.
      return rbacAllows(question.user.username === CONTROLLER_USER ? controllerRules : requesterRules, question);
    });
  const double = await startKubeApiDouble({ users: USERS, authorize, ...(options.leases === undefined ? {} : { leases: options.leases }) });
  const clock = options.clock ?? systemClock;
  const store = await openStore({ sqlitePath: options.sqlitePath ?? path.join(dir, 'jitca.sqlite'), clock });
  const policy = parsePolicy(JSON.stringify(testPolicyDocument()));
  const logs: LogEntry[] = [];
  const controllers: CsrController[] = [];
  const signingCa = { signer: ca.signer, certificate: ca.caCertificate };

  const certificateOf = (name: string): string | undefined => {
    const encoded = double.get(name)?.status.certificate;
    return encoded === undefined ? undefined : Buffer.from(encoded, 'base64').toString('utf8');
  };
  const conditionOf = (name: string, type: string): CsrCondition | undefined =>
    double.get(name)?.status.conditions?.find((condition) => condition.type === type);

  return {
    dir,
    double,
    store,
    policy,
    logs,
    controllers,
    async startController(overrides = {}): Promise<CsrController> {
      const kubeConfig = createKubeConfig({ kind: 'token', server: double.url, token: TOKENS.controller, caPem: double.caPem });
      const controller = createCsrController({
        api: createCsrApi(kubeConfig),
        policy,
        store,
        activeCa: () => signingCa,
        clock,
        logger: recordingLogger(logs),
        watchBackoff: { initialMs: 20, maxMs: 200 },
        retryBackoff: { initialMs: 20, maxMs: 300 },
        ...overrides,
      });
      controllers.push(controller);
      await controller.start();
      return controller;
    },
    submit(token, submitOptions): CsrObject {
      return double.create(token, {
        name: submitOptions.name,
        requestPem: submitOptions.pem,
        signerName: submitOptions.signerName ?? DEFAULT_JITCA_SIGNER,
        usages: submitOptions.usages ?? ['client auth'],
        ...(submitOptions.expirationSeconds === null ? {} : { expirationSeconds: submitOptions.expirationSeconds ?? 1800 }),
      });
    },
    certificateOf,
    conditionOf,
    async waitForCertificate(name, timeoutMs = 10_000): Promise<string> {
      await double.waitFor(() => certificateOf(name) !== undefined, timeoutMs, `a certificate on CSR ${name}`);
      return certificateOf(name) as string;
    },
    async waitForCondition(name, type, timeoutMs = 10_000): Promise<CsrCondition> {
      await double.waitFor(() => conditionOf(name, type) !== undefined, timeoutMs, `condition ${type} on CSR ${name}`);
      return conditionOf(name, type) as CsrCondition;
    },
    async close(): Promise<void> {
      for (const controller of controllers) await controller.stop();
      await double.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
