import type { FastifyPluginAsync } from 'fastify';
import type { CaRuntime } from '../ca-runtime.ts';
import { isJitcaError } from '../errors.ts';

/** /healthz: the process is up. /readyz: the key store and the store both answer right now. */
export function registerHealthRoutes(runtime: CaRuntime): FastifyPluginAsync {
  return async (app) => {
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_request, reply) => {
      const checks: Record<string, string> = {};
      try {
        runtime.keys.list(runtime.config.ssh.caName);
        checks['hsm'] = 'ok';
      } catch (error) {
        checks['hsm'] = isJitcaError(error) ? error.code : 'error';
      }
      try {
        await runtime.store.listAudit({ limit: 1 });
        checks['store'] = 'ok';
      } catch (error) {
        checks['store'] = isJitcaError(error) ? error.code : 'error';
      }
      const ready = Object.values(checks).every((value) => value === 'ok');
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', checks });
    });
  };
}
