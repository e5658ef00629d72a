// `runbox`: the SDK. Connect to an agent, run code and commands, open shells, move files.
// Images and VMs (root-only, Linux hosts) are the `runbox/vm` entry (host/vm/index.ts).
export { Sandbox, type SandboxOptions, type WaitReadyOptions, type RunInContextOptions } from './sandbox.js';
export type { Health, Language, SystemInfo } from './system/index.js';
export type { CallOptions, ConnectionOptions } from './transport/connection.js';
export { parseTarget, formatTarget, type Target } from './transport/target.js';
export { VsockError, type VsockErrorKind } from './transport/vsock.js';
export * from './errors.js';
export { ProcessHandle, type ProcessApi } from './process/index.js';
export type * from './process/types.js';
export { ShellHandle, SHELL_MAX_COLS, SHELL_MAX_ROWS, type ShellApi } from './shell/index.js';
export type * from './shell/types.js';
export type { FilesApi } from './files/index.js';
export type * from './files/types.js';
export { CodeContext, type ContextApi } from './context/index.js';
export type * from './context/types.js';
export { DEFAULT_READ_MAX_BYTES } from './files/types.js';
export { startWebTerminal, type WebTerminal, type WebTerminalOptions } from './web/server.js';
