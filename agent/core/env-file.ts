// The image's environment for user code (`--env-file`, e.g. /etc/runbox/env written by the
// image builder from a spec's "env"): runs and shells start from it, then the request's env.
// Format: one KEY=VALUE per line, '#' comments, values optionally in POSIX single quotes
// (with '\'' for a quote), which is what the builder writes so the file can also be sourced.
import { readFileSync } from 'node:fs';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function unquote(raw: string, where: string): string {
  let out = '';
  for (let i = 0; i < raw.length;) {
    const c = raw[i]!;
    if (c === "'") {
      const end = raw.indexOf("'", i + 1);
      if (end === -1) throw new Error(`${where}: unterminated single quote`);
      out += raw.slice(i + 1, end);
      i = end + 1;
    } else if (c === '\\' && i + 1 < raw.length) {
      out += raw[i + 1];
      i += 2;
    } else {
      out += c;
      i += 1;
    }
  }
  return out;
}

/** Parses an env file's text; errors name the line. */
export function parseEnvFile(text: string, file: string): Record<string, string> {
  const env: Record<string, string> = {};
  text.split('\n').forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const where = `--env-file ${file}:${index + 1}`;
    const eq = trimmed.indexOf('=');
    const name = eq === -1 ? '' : trimmed.slice(0, eq);
    if (!NAME.test(name)) throw new Error(`${where}: expected NAME=VALUE`);
    env[name] = unquote(trimmed.slice(eq + 1), where);
  });
  return env;
}

export function readEnvFile(file: string): Record<string, string> {
  return parseEnvFile(readFileSync(file, 'utf8'), file);
}
