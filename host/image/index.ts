// Public API of the image builder (host side). See docs/images.md.
export { buildImage, imagePaths, specHash, BUILDER_VERSION, DEFAULT_EPOCH, BASE_BOOT_ARGS, BuildError } from './build.js';
export type { BuildOptions, BuildResult, ProgressEvent } from './build.js';
export { resolveSpec, validateSpecFile, specPath, SpecError } from './spec.js';
export type { InitSystem, ResolvedSpec, ImageSpecFile, FileSpec, WarmupSpec, LanguageSpec } from './spec.js';
export { readManifest, findImage, listImages, verifyImages, sha256File, MANIFEST_FILE } from './manifest.js';
export type {
  Manifest,
  ImageEntry,
  Artifact,
  RootfsArtifact,
  KernelArtifact,
  InitrdArtifact,
  ContentId,
  VerifyProblem,
  LanguageInfo,
  PackageInfo,
} from './manifest.js';
export { DEFAULT_RUNBOX_HOME, runboxHome, defaultImagesDir, kernelCacheDir, defaultAgentDir, specsDir } from './paths.js';
export { ensureKernel, extractVmlinux, NEEDED_MODULES } from './kernel.js';
