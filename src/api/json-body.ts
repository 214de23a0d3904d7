import type { FastifyInstance } from 'fastify';
import { ErrorCodes, JitcaError } from '../errors.ts';
import { findDuplicateKey } from '../policy/json-duplicates.ts';

/**
 * JSON request bodies are parsed as fastify does by default (secure-json-parse, refusing
 * "__proto__" and "constructor.prototype" keys), and a body naming one key twice is refused.
 * JSON.parse keeps the last of two equal keys (ECMA-262 §25.5.1; RFC 8259 §4 leaves it to the
 * parser), while a proxy, a WAF or a log reader in front of jitca may keep the first: a body with
 * `"role"` twice would be judged as one role and issued as another. There is one reading or none.
 */
export function registerStrictJsonParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    parseJson(request, body as string, (error, value) => {
      if (error !== null && error !== undefined) {
        done(error, undefined);
        return;
      }
      // Only text JSON.parse accepted reaches the scanner, which relies on it being valid JSON.
      const duplicate = findDuplicateKey(body as string);
      if (duplicate !== undefined) {
        done(new JitcaError(ErrorCodes.REQUEST_INVALID, `body names the key ${duplicate} more than once`, { details: { path: duplicate } }), undefined);
        return;
      }
      done(null, value);
    });
  });
}
