// Public API of the runbox SDK.
export { Sandbox, type SandboxOptions, type Health, type Language, type WaitReadyOptions } from './sandbox.js';
export type { CallOptions } from './connection.js';
export type { SystemInfo } from './sysinfo.js';
export { parseTarget, formatTarget, type Target } from './target.js';
export * from './errors.js';
export * from './exec.js';
export * from './shell.js';
export * from './files.js';
export { startWebTerminal, type WebTerminal, type WebTerminalOptions } from './web/server.js';
// Local images and VMs (Linux host, root): build an image, boot it, dial vm.target.
export { buildImage, listImages, verifyImages, BuildError, type BuildOptions, type BuildResult } from './image/index.js';
export { bootVm, stopVm, VmBootError, type BootOptions, type VmHandle } from './vm/index.js';
