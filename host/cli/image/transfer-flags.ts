// Flags push and pull share: credentials (never echoed), plain HTTP, the image directory, and
// one progress line per step on stderr.
import type { CliIo } from '../io.js';
import { UsageError } from '../common.js';
import type { Credentials } from '../../share/index.js';
import type { TransferProgress } from '../../share/index.js';
import { formatBytes } from '../../share/progress.js';

export const TRANSFER_FLAGS = {
  out: { type: 'string' },
  username: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  'allow-http': { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

export const TRANSFER_HELP = `      --out DIR          image directory (default: $RUNBOX_HOME/images, RUNBOX_HOME=~/.cache/runbox)
      --username U       registry user; the password is read from stdin (--password-stdin)
      --password-stdin   read the password from stdin (default credentials: auths.<host> in
                         $DOCKER_CONFIG/config.json or ~/.docker/config.json)
      --allow-http       plain HTTP to a registry that is not on loopback (loopback always is)
      --json             machine-readable result on stdout
  -h, --help             show this help
`;

export interface TransferFlags {
  outDir?: string;
  username?: string;
  passwordStdin: boolean;
  allowHttp: boolean;
  json: boolean;
}

export function transferFlags(values: {
  out?: string;
  username?: string;
  'password-stdin'?: boolean;
  'allow-http'?: boolean;
  json?: boolean;
}): TransferFlags {
  if ((values.username === undefined) !== !values['password-stdin']) {
    throw new UsageError('--username and --password-stdin go together (the password is never a flag: it would show in ps)');
  }
  return {
    ...(values.out !== undefined ? { outDir: values.out } : {}),
    ...(values.username !== undefined ? { username: values.username } : {}),
    passwordStdin: values['password-stdin'] ?? false,
    allowHttp: values['allow-http'] ?? false,
    json: values.json ?? false,
  };
}

/** The credentials the flags ask for: the password is stdin's first line. */
export async function credentialsFrom(flags: TransferFlags, io: CliIo): Promise<Credentials | undefined> {
  if (flags.username === undefined) return undefined;
  let text = '';
  for await (const chunk of io.stdin) text += (chunk as Buffer).toString('utf8');
  const password = text.split(/\r?\n/)[0] ?? '';
  if (password === '') throw new UsageError('--password-stdin: stdin held no password');
  return { username: flags.username, password };
}

/** One stderr line per step start and end, and every few seconds in between. */
export function progressLines(io: CliIo): (p: TransferProgress) => void {
  const last = new Map<string, number>();
  return (p) => {
    const key = `${p.stage} ${p.what}`;
    const now = Date.now();
    const end = p.bytes >= p.total;
    if (!end && now - (last.get(key) ?? 0) < 2_000) return;
    last.set(key, now);
    const rate = p.rate > 0 ? `, ${formatBytes(p.rate)}/s` : '';
    const eta = !end && p.etaSeconds !== undefined ? `, ${Math.ceil(p.etaSeconds)} s left` : '';
    io.stderr.write(`${p.stage} ${p.what}: ${formatBytes(p.bytes)} of ${formatBytes(p.total)}${rate}${eta}\n`);
  };
}
