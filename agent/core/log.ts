// One line per event on stderr, logfmt style, so journald and grep both read it.
// Never pass user source, stdin or output here: only ids, sizes, names and statuses.
type Field = string | number | boolean | undefined;

/** Fields may echo client input (a path, a name): a line stays bounded whatever was sent. */
const MAX_FIELD_CHARS = 512;

function formatValue(value: Exclude<Field, undefined>): string {
  const raw = String(value);
  const text = raw.length <= MAX_FIELD_CHARS ? raw : `${raw.slice(0, MAX_FIELD_CHARS)}...(${raw.length - MAX_FIELD_CHARS} more)`;
  return /^[\w.:/@+-]+$/.test(text) ? text : JSON.stringify(text);
}

function write(level: 'info' | 'warn' | 'error', event: string, fields: Record<string, Field>): void {
  let line = `level=${level} event=${event}`;
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) line += ` ${key}=${formatValue(value)}`;
  }
  process.stderr.write(line + '\n');
}

export const log = {
  info: (event: string, fields: Record<string, Field> = {}) => write('info', event, fields),
  warn: (event: string, fields: Record<string, Field> = {}) => write('warn', event, fields),
  error: (event: string, fields: Record<string, Field> = {}) => write('error', event, fields),
};
