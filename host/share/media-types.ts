// How a runbox image is spelled as one OCI artifact (docs/sharing.md). The config blob is the
// image's manifest entry; each artifact is a layer whose annotations carry its uncompressed
// content id, so a pull can verify what it unpacked, not only what it downloaded.
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const ARTIFACT_TYPE = 'application/vnd.runbox.image.v1';
export const CONFIG = 'application/vnd.runbox.image.config.v1+json';

export type ArtifactKind = 'rootfs' | 'kernel' | 'vmlinux' | 'initrd';
export const ARTIFACT_KINDS: readonly ArtifactKind[] = ['rootfs', 'kernel', 'vmlinux', 'initrd'];

/** Per kind: its layer media type and whether it is gzip-compressed (the kernel and initramfs already are). */
export const LAYER: Record<ArtifactKind, { mediaType: string; gzip: boolean }> = {
  rootfs: { mediaType: 'application/vnd.runbox.rootfs.ext4.v1+gzip', gzip: true },
  kernel: { mediaType: 'application/vnd.runbox.kernel.bzimage.v1', gzip: false },
  vmlinux: { mediaType: 'application/vnd.runbox.kernel.vmlinux.v1+gzip', gzip: true },
  initrd: { mediaType: 'application/vnd.runbox.initrd.v1', gzip: false },
};

/** Layer annotations. */
export const ANNOTATION = {
  title: 'org.opencontainers.image.title',
  kind: 'dev.runbox.artifact',
  contentId: 'dev.runbox.content-id',
  size: 'dev.runbox.size',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface OciManifest {
  schemaVersion: 2;
  mediaType: typeof OCI_MANIFEST;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}
