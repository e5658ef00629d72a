// Image references: `[oci://]host[:port]/repo[:tag|@sha256:<hex>]`, as registries spell them
// (the distribution spec's repository name grammar, lower case, `/`-separated components).
import { InvalidArgumentError } from '../errors.js';

export interface ImageReference {
  /** host[:port], as given. */
  registry: string;
  repository: string;
  /** The tag, when the reference names one (default "latest" when it names neither). */
  tag?: string;
  /** `sha256:<hex>`, when the reference pins the manifest. */
  digest?: string;
  /** Plain HTTP: only for a loopback host, or when asked (`allowHttp`). */
  plainHttp: boolean;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const HOST = /^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::[0-9]{1,5})?$/;

/** Is this host (without its port) this machine? Only then is plain HTTP the default. */
export function isLoopbackHost(registry: string): boolean {
  const host = registry.startsWith('[') ? registry.slice(1, registry.indexOf(']')) : registry.replace(/:[0-9]+$/, '');
  return host === 'localhost' || host === '::1' || /^127\.[0-9]+\.[0-9]+\.[0-9]+$/.test(host);
}

function bad(ref: string, why: string): InvalidArgumentError {
  return new InvalidArgumentError(`${JSON.stringify(ref)}: ${why}; a reference is [oci://]host[:port]/repo[:tag|@sha256:<64 hex>]`, {
    reason: 'REFERENCE_INVALID',
    metadata: { reference: ref },
  });
}

export function parseReference(ref: string, options: { allowHttp?: boolean } = {}): ImageReference {
  const rest = ref.startsWith('oci://') ? ref.slice('oci://'.length) : ref;
  const slash = rest.indexOf('/');
  if (slash <= 0) throw bad(ref, 'no registry host');
  const registry = rest.slice(0, slash);
  if (!HOST.test(registry)) throw bad(ref, `${JSON.stringify(registry)} is not a host[:port]`);
  let path = rest.slice(slash + 1);
  let digest: string | undefined;
  let tag: string | undefined;
  const at = path.indexOf('@');
  if (at >= 0) {
    digest = path.slice(at + 1);
    path = path.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(ref, `${JSON.stringify(digest)} is not a sha256 digest`);
  }
  const colon = path.lastIndexOf(':');
  if (colon >= 0) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
    if (!TAG.test(tag)) throw bad(ref, `${JSON.stringify(tag)} is not a tag (letters, digits, . _ -, at most 128)`);
  }
  if (path.length === 0 || path.length > 255 || !path.split('/').every((c) => COMPONENT.test(c))) {
    throw bad(ref, `${JSON.stringify(path)} is not a repository name (lower-case components separated by /)`);
  }
  if (!tag && !digest) tag = 'latest';
  return { registry, repository: path, tag, digest, plainHttp: isLoopbackHost(registry) || options.allowHttp === true };
}

/** The reference as text, for messages and output. */
export function formatReference(r: ImageReference): string {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}
