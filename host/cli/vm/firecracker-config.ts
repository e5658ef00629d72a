// runbox vm firecracker-config: write a config for `firecracker --config-file` from a built image.
import { EXIT, UsageError, choice, intFlag, printJson, readToken } from '../common.js';
import { defineCommand } from '../command.js';
import type { CliIo } from '../io.js';
import { writeFirecrackerConfig, type WriteFirecrackerOptions } from '../../vm/firecracker.js';

export const USAGE = `Usage: runbox vm firecracker-config <image> --tap NAME --vsock PATH [--out DIR] [--init systemd|openrc]
                        [--memory MiB] [--cpus N] [--token-file F] [--json]

Writes <out>/firecracker.json for \`firecracker --config-file\`, plus a sparse copy of the
rootfs (Firecracker writes to its root drive) and token.img with --token-file.

Options:
      --tap NAME       host TAP device for the guest's eth0
      --vsock PATH     Unix socket Firecracker creates for vsock
      --out DIR        output directory (default ./firecracker-<image>)
      --init I         which build of the image: systemd (default) or openrc
      --memory MiB     guest memory (default 1024)
      --cpus N         vCPUs (default 2)
      --token-file F   require the token in F (written to token.img, a raw disk)
      --json           print what was written as JSON
  -h, --help           show this help
`;

export interface FirecrackerConfigOptions {
  image: string;
  /** What writeFirecrackerConfig gets from the flags (the token is read when running). */
  write: Omit<WriteFirecrackerOptions, 'token'>;
  tokenFile?: string;
  json: boolean;
}

async function run(o: FirecrackerConfigOptions, io: CliIo): Promise<number> {
  const token = o.tokenFile !== undefined ? readToken(o.tokenFile, io.env) : undefined;
  const written = await writeFirecrackerConfig(o.image, { ...o.write, token });
  if (o.json) printJson(io, written);
  else {
    io.stdout.write(`wrote ${written.configFile}\n`);
    io.stdout.write(`boot:  firecracker --api-sock <api.sock> --config-file ${written.configFile}\n`);
    io.stdout.write(
      `dial:  vsock://${written.config.vsock.uds_path}:5000  or  tcp://172.16.0.2:5000 over ${o.write.tap} (host side 172.16.0.1/30)\n`,
    );
  }
  return EXIT.ok;
}

export const command = defineCommand({
  name: 'vm firecracker-config',
  usage: USAGE,
  flags: {
    tap: { type: 'string' },
    vsock: { type: 'string' },
    out: { type: 'string' },
    init: { type: 'string' },
    memory: { type: 'string' },
    cpus: { type: 'string' },
    'token-file': { type: 'string' },
    json: { type: 'boolean' },
  } as const,
  options(values, positionals): FirecrackerConfigOptions {
    if (positionals.length !== 1) throw new UsageError('vm firecracker-config takes exactly one image name');
    if (!values.tap) throw new UsageError('vm firecracker-config: --tap NAME is required (the host TAP device for eth0)');
    if (!values.vsock) throw new UsageError('vm firecracker-config: --vsock PATH is required (the Unix socket for hybrid vsock)');
    const image = positionals[0]!;
    return {
      image,
      write: {
        tap: values.tap,
        vsockPath: values.vsock,
        outDir: values.out ?? `firecracker-${image}`,
        init: choice('init', values.init, ['systemd', 'openrc'] as const),
        cpus: intFlag('cpus', values.cpus),
        memoryMiB: intFlag('memory', values.memory),
      },
      ...(values['token-file'] !== undefined ? { tokenFile: values['token-file'] } : {}),
      json: values.json ?? false,
    };
  },
  run,
});
