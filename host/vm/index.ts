// Local VM launcher (QEMU) and Firecracker config. See docs/vms.md and docs/firecracker.md.
export { bootVm, restoreVm, VmBootError, AGENT_PORT, type BootOptions, type VmHandle, type VmProgress } from './boot.js';
export { createSandbox, resumeSandbox, LocalSandbox, type CreateOptions } from './create.js';
export { SnapshotError } from './migrate.js';
export { SandboxPool, MAX_POOL_SIZE, type PoolOptions } from './pool.js';
export { MAX_FORKS } from './fork.js';
export { listSandboxes, type SandboxInfo } from './list.js';
export { pausedDir } from './pause.js';
export { templatesDir, type Template, type TemplateMeta, type TemplateShape } from './template.js';
export { stopVm, type StopMethod } from './stop.js';
export { listStates, readState, type VmState, type NetMode } from './state.js';
export { vmsDir, vmDir, isVmId } from './paths.js';
export { findBootableImage, type BootableImage } from './image.js';
export { qemuArgv, type QemuConfig, type Machine, type Accel } from './qemu.js';
export { joinBootArgs, ipArg, TAP_NET, USER_NET } from './bootargs.js';
export { hostTscKhz, kvmOpenable } from './hostinfo.js';
export {
  firecrackerConfig,
  writeFirecrackerConfig,
  macForIp,
  FIRECRACKER_BASE_BOOT_ARGS,
  type FirecrackerConfig,
  type FirecrackerConfigOptions,
  type WriteFirecrackerOptions,
  type WrittenFirecrackerConfig,
} from './firecracker.js';
