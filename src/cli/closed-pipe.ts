/**
 * `jitca audit export | head` closes the pipe once head has its lines; the next write to stdout
 * then fails with EPIPE (Node ignores SIGPIPE, so the error arrives as an 'error' event instead of
 * the signal that stops cat or grep). The reader has all it asked for: that is a normal end, not
 * a failure to report, so the command stops at once, silently, with status 0. Any other stdout
 * error is a real failure and is reported as one.
 */
export function exitQuietlyWhenStdoutCloses(report: (error: unknown) => never): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    report(error);
  });
}
