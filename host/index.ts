// Public API of the runbox SDK.
export { Sandbox, type SandboxOptions, type Health, type Language, type WaitReadyOptions } from './sandbox.js';
export type { CallOptions } from './transport/connection.js';
export type { SystemInfo } from './system/sysinfo.js';
export { parseTarget, formatTarget, type Target } from './transport/target.js';
export * from './errors.js';
export * from './process/index.js';
export * from './shell/index.js';
export * from './files/index.js';
export { startWebTerminal, type WebTerminal, type WebTerminalOptions } from './web/server.js';
// Local images and VMs (Linux host, root): build an image, boot it, dial vm.target.
export { buildImage, listImages, verifyImages, BuildError, type BuildOptions, type BuildResult } from './image/index.js';
export { bootVm, stopVm, VmBootError, type BootOptions, type VmHandle } from './vm/index.js';
