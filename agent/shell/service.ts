// ShellService: interactive shells on a pty, as the run-as user. Sessions outlive their
// streams for a grace period (re-attach by id, with a replay of recent output); after it
// they are hung up. Attaching to a session that another stream holds takes it over: the
// older stream ends with ABORTED (a user reconnecting over a flaky link must win against
// their own half-dead connection).
import { create } from '@bufbuild/protobuf';
import type { ImplementationOf } from '../../proto/grpc.js';
import { ListShellsResponseSchema, ShellSessionSchema, type ShellService } from '../../proto/gen/runbox/v1/shell_pb.js';
import type { AgentContext } from '../core/context.js';
import { ShellRegistry } from './registry.js';
import { serveStream } from './stream.js';

export function shellService(ctx: AgentContext): ImplementationOf<typeof ShellService> {
  const registry = new ShellRegistry(ctx);
  return {
    // A shell's PATH includes the toolchains the agent finds: opened once they are known.
    shell: (call) => void ctx.languages.ready.then(() => serveStream(call, registry)),
    listShells: (_call, callback) => {
      callback(
        null,
        create(ListShellsResponseSchema, {
          sessions: registry.list().map((s) =>
            create(ShellSessionSchema, {
              sessionId: s.id,
              pid: s.pid,
              cols: s.cols,
              rows: s.rows,
              attached: s.attached,
              command: s.command,
            }),
          ),
        }),
      );
    },
  };
}
