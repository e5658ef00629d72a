// Text the agent supplied (error messages, language and signal names, system facts) is shown
// to a person at a terminal: control characters in it could move the cursor, retitle the
// window or worse. They are shown escaped instead. The program's own output is never touched.

// C0 controls but tab and newline, DEL, and the C1 controls (U+0080-U+009F; some terminals
// take U+009B as CSI).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** `text` with every control character but \t and \n as \u00XX (also valid inside JSON strings). */
export function printable(text: string): string {
  return text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
