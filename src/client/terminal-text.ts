/**
 * Text from a server (an OpenID provider, a possibly impersonated jitca) on its way to the
 * engineer's terminal: C0/C1 controls and DEL are shown as \u escapes, so a reply cannot move the
 * cursor, rewrite earlier lines or set the window title (ECMA-48 escape and CSI sequences start
 * with ESC U+001B or CSI U+009B), and long text is cut.
 */
export function terminalSafe(text: string, maxLength = 500): string {
  const cut = text.length > maxLength ? `${text.slice(0, maxLength)}…` : text;
  return cut.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
