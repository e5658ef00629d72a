// `runbox/vm`: per-language images and local VMs. Building and booting need a Linux host,
// root (mmdebstrap, network namespaces) and QEMU; see docs/images.md and docs/vms.md. Sharing
// images through OCI registries: docs/sharing.md.
export * from './vm/index.js';
export * from './image/index.js';
export { claimSandbox, freezeSandbox, thawSandbox, type ClaimRequest, type ClaimResult, type FreezeResult } from './sandbox.js';
export * from './share/index.js';
