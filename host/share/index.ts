// Sharing images by content id (docs/sharing.md): push to and pull from OCI registries.
export { pushImage, type PushResult, type PushedLayer, type TransferOptions } from './push.js';
export { pullImage, type PullResult } from './pull.js';
export { parseReference, formatReference, type ImageReference } from './reference.js';
export { RegistryError } from './errors.js';
export type { Credentials } from './credentials.js';
export type { TransferProgress } from './progress.js';
export {
  publishImage,
  pullFromListing,
  LISTING_FILE,
  type Listing,
  type Bundle,
  type ListedImage,
  type PublishOptions,
  type PublishResult,
  type ListingPullOptions,
  type ListingPullResult,
} from './listing.js';
export {
  exportMachine,
  readMachine,
  resolveMachine,
  machineBootOptions,
  parseRepo,
  type MachinePackage,
  type MachineRepo,
  type ResolveOptions,
} from './machine.js';
