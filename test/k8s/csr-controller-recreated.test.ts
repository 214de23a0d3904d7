import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_JITCA_SIGNER, KUBE_APISERVER_CLIENT_SIGNER } from '../../src/policy/csr-evaluate.ts';
import type { AuthorizationQuestion } from '../support/kube-api-double.ts';
import { CONTROLLER_USER, TOKENS, createCaFixture, createCsrEnvironment, type CaFixture, type CsrEnvironment } from '../support/kube-csr-harness.ts';
import { buildEd25519Csr } from '../support/kube-der.ts';

let ca: CaFixture;
let env: CsrEnvironment | undefined;

beforeAll(async () => {
  ca = await createCaFixture();
});
afterAll(() => ca.close());
afterEach(async () => {
  await env?.close();
  env = undefined;
});

describe('a CSR deleted and re-created under the same name while jitca writes its decision', () => {
  // CSR names are reused (kubectl delete + create). A decision belongs to one object (metadata.uid):
  // after a 409 the controller reads the CSR again, and what it reads may be a different request.
  it.each([[KUBE_APISERVER_CLIENT_SIGNER], [DEFAULT_JITCA_SIGNER]])(
    '%s: the approval of the first request is never written onto the second one',
    async (signerName) => {
      let swapped = false;
      const authorize = (question: AuthorizationQuestion): boolean => {
        if (!swapped && question.user.username === CONTROLLER_USER && question.subresource === 'approval' && question.name === 'reused') {
          // Just before jitca's PUT /approval lands: alice's CSR is gone, bob's (no role) has its name.
          swapped = true;
          env?.double.delete('reused');
          env?.submit(TOKENS.bob, { name: 'reused', pem: buildEd25519Csr('bob', ['jit:oncall:payments']).pem, signerName });
        }
        return true;
      };
      env = await createCsrEnvironment(ca, { authorize });
      const first = env.submit(TOKENS.alice, { name: 'reused', pem: buildEd25519Csr('alice', ['jit:oncall:payments']).pem, signerName });
      const controller = await env.startController();

      await env.waitForCondition('reused', 'Denied');
      await controller.idle();
      const second = env.double.get('reused');
      expect(swapped).toBe(true);
      expect(second?.metadata.uid).not.toBe(first.metadata.uid);
      expect(second?.spec.username).toBe('bob');
      expect(second?.status.conditions?.map((condition) => condition.type)).toEqual(['Denied']);
      expect(second?.status.certificate).toBeUndefined();
      expect(env.double.stats.certificateWrites.size).toBe(0);
      // Bob's request was decided on its own: denied for having no role.
      const denied = (await env.store.listAudit({ limit: 100 })).filter((record) => record.type === 'csr.denied');
      expect(denied.map((record) => record.data['uid'])).toEqual([second?.metadata.uid]);
    },
  );
});
