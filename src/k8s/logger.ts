/**
 * The slice of pino's Logger the controller uses, so a pino logger (with its redaction paths) is
 * passed in as is and tests can pass a silent or recording one. Objects carry names, uids, rules
 * and error codes only: never tokens, PINs, private keys or certificate request bodies.
 */
export interface ControllerLogger {
  debug(object: Record<string, unknown>, message: string): void;
  info(object: Record<string, unknown>, message: string): void;
  warn(object: Record<string, unknown>, message: string): void;
  error(object: Record<string, unknown>, message: string): void;
}

export const silentLogger: ControllerLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** What may be logged about a failure: its code and message, never the cause chain or a body. */
export function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    const code = (error as Error & { code?: unknown }).code;
    return { err: { name: error.name, ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}), message: error.message } };
  }
  return { err: { message: String(error) } };
}
