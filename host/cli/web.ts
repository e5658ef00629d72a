// runbox web: a terminal for the sandbox in the browser. Serves a page (xterm.js) on
// loopback; each tab gets its own shell session over a WebSocket.
import { startWebTerminal } from '../web/server.js';
import { formatTarget } from '../transport/target.js';
import { TARGET_OPTIONS, TARGET_USAGE, connect, intFlag, parse, runVerb } from './common.js';
import type { CliIo } from './io.js';

const USAGE = `Usage: runbox web --target T [--port P] [--host ADDR]

Serves a browser terminal for the sandbox and prints its URL. The URL carries a random
token: requests without it are refused (403). Each tab is its own shell session; reloading
a tab re-attaches to its session. Stop with Ctrl-C.

${TARGET_USAGE}
      --port P         port to listen on (default: any free port)
      --host ADDR      address to listen on (default 127.0.0.1; anything else lets that
                       network reach the sandbox's shell to whoever has the URL)
`;

export function main(argv: string[], io: CliIo): Promise<number> {
  return runVerb(USAGE, io, async () => {
    const { values } = parse(argv, { ...TARGET_OPTIONS, port: { type: 'string' }, host: { type: 'string' } }, false);
    if (values.help) return (io.stdout.write(USAGE), 0);
    const port = intFlag('port', values.port);
    const sandbox = await connect(values, io);
    const web = await startWebTerminal(sandbox, {
      ...(port !== undefined ? { port } : {}),
      ...(values.host !== undefined ? { host: values.host } : {}),
      title: `runbox ${formatTarget(sandbox.target)}`,
      onEvent: (event, detail) =>
        io.stderr.write(
          `runbox web: ${event} ${Object.entries(detail)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}\n`,
        ),
    });
    io.stdout.write(`runbox web: open ${web.url}\n`);
    await new Promise<void>((resolve) => {
      io.events.once('SIGINT', () => resolve());
      io.events.once('SIGTERM', () => resolve());
    });
    await web.close();
    await sandbox.close();
    return 0;
  });
}
