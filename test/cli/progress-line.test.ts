import { describe, expect, it } from 'vitest';
import { progressLine } from '../../src/cli/progress-line.ts';

function stream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const fake = { isTTY, text: '', write(chunk: string) { fake.text += chunk; return true; } };
  return fake as unknown as NodeJS.WriteStream & { text: string };
}

describe('ssh-cert’s waiting line', () => {
  it('on a terminal, rewrites one line in place and ends it with a newline', () => {
    const tty = stream(true);
    const line = progressLine(tty);
    line.show('request r: waiting');
    line.show('request r: 1 approval(s)');
    line.end();
    line.end();
    expect(tty.text).toBe('\r\u001b[2Krequest r: waiting\r\u001b[2Krequest r: 1 approval(s)\n');
  });

  it('elsewhere, one plain line per change, with no control characters', () => {
    const log = stream(false);
    const line = progressLine(log);
    line.show('request r: waiting');
    line.show('request r: 1 approval(s)');
    line.end();
    expect(log.text).toBe('request r: waiting\nrequest r: 1 approval(s)\n');
  });
});
