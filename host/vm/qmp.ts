// Minimal QMP client (QEMU Machine Protocol: JSON lines over the VM's QMP Unix socket): greeting,
// qmp_capabilities, then one command (with its arguments).
import net from 'node:net';

export async function qmpCommand(socketPath: string, command: string, timeoutMs = 3_000, args?: Record<string, unknown>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let buffered = '';
    let stage: 'greeting' | 'capabilities' | 'command' = 'greeting';
    const timer = setTimeout(() => done(new Error(`QMP ${command}: no answer within ${timeoutMs} ms`)), timeoutMs);
    const done = (error: Error | undefined, value?: unknown) => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(value);
    };
    const send = (execute: string, withArgs?: Record<string, unknown>) =>
      socket.write(JSON.stringify(withArgs ? { execute, arguments: withArgs } : { execute }) + '\n');
    socket.on('error', (error) => done(new Error(`QMP ${socketPath}: ${error.message}`)));
    // `quit` may close the socket before answering: that is success.
    socket.on('close', () => done(command === 'quit' && stage === 'command' ? undefined : new Error(`QMP ${command}: socket closed`)));
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const message = JSON.parse(buffered.slice(0, nl)) as { QMP?: unknown; return?: unknown; error?: { desc?: string }; event?: string };
        buffered = buffered.slice(nl + 1);
        if (message.event) continue;
        if (stage === 'greeting' && message.QMP) {
          stage = 'capabilities';
          send('qmp_capabilities');
        } else if (stage === 'capabilities' && 'return' in message) {
          stage = 'command';
          send(command, args);
        } else if (message.error) {
          return done(new Error(`QMP ${command}: ${message.error.desc ?? 'error'}`));
        } else if (stage === 'command' && 'return' in message) {
          return done(undefined, message.return);
        }
      }
    });
  });
}
