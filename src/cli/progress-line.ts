/**
 * The waiting line of `ssh-cert`: on a terminal one line rewritten in place (carriage return,
 * then erase the line); elsewhere (a log, a pipe) each line it is given, which the client sends
 * only when it changed. `end()` finishes a line left open, so what follows starts on its own.
 */
export interface ProgressLine {
  show(line: string): void;
  end(): void;
}

export function progressLine(stream: NodeJS.WriteStream = process.stderr): ProgressLine {
  let open = false;
  return {
    show(line) {
      if (stream.isTTY !== true) {
        stream.write(`${line}\n`);
        return;
      }
      stream.write(`\r\u001b[2K${line}`);
      open = true;
    },
    end() {
      if (open) stream.write('\n');
      open = false;
    },
  };
}
