import { readFileSync } from 'node:fs';
import { ErrorCodes, JitcaError } from './errors.ts';

/**
 * Reads a configuration file (the CA's --config, the helper's client.json) as JSON, saying which
 * of the three things went wrong: it is not there, it cannot be read, or it is not JSON. The
 * parser's own message is left out: V8's quotes the file's text, which may hold a token command.
 * Errors: ERR_CONFIG_INVALID naming the file.
 */
export function readConfigJson(file: string, label: string, hint = ''): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code ?? 'error'})`;
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, `${label} ${file} ${problem}${code === 'ENOENT' ? hint : ''}`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new JitcaError(ErrorCodes.CONFIG_INVALID, `${label} ${file} is not valid JSON`, { cause: error });
  }
}
