// A small client of the OCI distribution API: just what push and pull need (blob HEAD, upload,
// ranged GET; manifest PUT and GET), with the registries' two auth schemes. On a 401 it reads
// WWW-Authenticate: `Basic` sends the credentials; `Bearer realm=...,service=...,scope=...`
// fetches a token from the realm (with the credentials, if any) and sends that. Credentials
// and tokens never appear in errors or progress.
import { createReadStream } from 'node:fs';
import { AuthenticationError, NotFoundError } from '../errors.js';
import { RegistryError } from './errors.js';
import { request, type HttpRequest, type HttpResponse } from './http.js';
import type { Credentials } from './credentials.js';
import { formatReference, type ImageReference } from './reference.js';
import { OCI_MANIFEST } from './media-types.js';

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Bearer realm="https://x/token",service="reg",scope="repository:a:pull"`. */
export function parseChallenge(header: string): Challenge {
  const space = header.indexOf(' ');
  const scheme = (space < 0 ? header : header.slice(0, space)).trim().toLowerCase();
  const params: Record<string, string> = {};
  const re = /([A-Za-z]+)="([^"]*)"/g;
  for (let m; (m = re.exec(header));) params[m[1]!.toLowerCase()] = m[2]!;
  return { scheme, params };
}

export interface RegistryOptions {
  credentials?: Credentials;
  signal?: AbortSignal;
}

export class RegistryClient {
  readonly ref: ImageReference;
  readonly #credentials: Credentials | undefined;
  readonly #signal: AbortSignal | undefined;
  #authorization: string | undefined;

  constructor(ref: ImageReference, options: RegistryOptions = {}) {
    this.ref = ref;
    this.#credentials = options.credentials;
    this.#signal = options.signal;
  }

  #url(path: string): URL {
    return new URL(path, `${this.ref.plainHttp ? 'http' : 'https'}://${this.ref.registry}`);
  }

  get #where(): string {
    return formatReference(this.ref);
  }

  /** Sends `r`, answering one auth challenge; a 401 after that is AuthenticationError. */
  async send(r: Omit<HttpRequest, 'signal'>, scope: 'pull' | 'pull,push'): Promise<HttpResponse> {
    const attempt = () =>
      request({
        ...r,
        signal: this.#signal,
        headers: { ...r.headers, ...(this.#authorization ? { authorization: this.#authorization } : {}) },
      }).catch((error: unknown) => {
        throw new RegistryError(`${this.#where}: ${r.method} ${r.url.pathname} failed: ${(error as Error).message}`, {
          reason: 'REGISTRY_UNREACHABLE',
          cause: error,
          metadata: { registry: this.ref.registry },
        });
      });
    let response = await attempt();
    if (response.status !== 401) return response;
    const challenge = response.headers['www-authenticate'];
    await response.text();
    if (typeof challenge !== 'string') throw this.#refused('it answered 401 without a WWW-Authenticate challenge');
    await this.#authorize(parseChallenge(challenge), scope);
    response = await attempt();
    if (response.status === 401) {
      await response.text();
      throw this.#refused(this.#credentials ? 'the credentials were refused' : 'it requires credentials and none were found');
    }
    return response;
  }

  #refused(why: string): AuthenticationError {
    return new AuthenticationError(
      `${this.#where}: ${why} (give them with --username/--password-stdin, or \`auths.${this.ref.registry}\` in ~/.docker/config.json)`,
      { reason: 'REGISTRY_UNAUTHORIZED', metadata: { registry: this.ref.registry } },
    );
  }

  async #authorize(challenge: Challenge, scope: string): Promise<void> {
    const basic = this.#credentials
      ? `Basic ${Buffer.from(`${this.#credentials.username}:${this.#credentials.password}`).toString('base64')}`
      : undefined;
    if (challenge.scheme === 'basic') {
      if (!basic) throw this.#refused('it requires credentials and none were found');
      this.#authorization = basic;
      return;
    }
    if (challenge.scheme !== 'bearer' || !challenge.params.realm)
      throw this.#refused(`its auth scheme ${challenge.scheme} is not supported`);
    const realm = new URL(challenge.params.realm);
    if (challenge.params.service) realm.searchParams.set('service', challenge.params.service);
    // A challenge may name several scopes, space-separated (a mount needs pull on the source
    // repository too): the token endpoint takes each as a scope parameter of its own.
    for (const one of (challenge.params.scope ?? `repository:${this.ref.repository}:${scope}`).split(' ').filter(Boolean))
      realm.searchParams.append('scope', one);
    let answer: HttpResponse;
    try {
      answer = await request({ method: 'GET', url: realm, headers: basic ? { authorization: basic } : {}, signal: this.#signal });
    } catch (error) {
      throw new RegistryError(`${this.#where}: the token service ${realm.host} is unreachable: ${(error as Error).message}`, {
        reason: 'REGISTRY_UNREACHABLE',
        cause: error,
      });
    }
    const text = await answer.text();
    if (answer.status === 401 || answer.status === 403) throw this.#refused('the token service refused the credentials');
    if (answer.status !== 200) throw this.#failed(answer.status, text, `token service ${realm.host}`);
    const body = JSON.parse(text) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryError(`${this.#where}: the token service answered without a token`, { reason: 'REGISTRY_PROTOCOL' });
    this.#authorization = `Bearer ${token}`;
  }

  /** An error for a non-success answer, with the registry's own error code when it sent one. */
  #failed(status: number, text: string, what: string): RegistryError | NotFoundError {
    let code = '';
    let message = text.slice(0, 300);
    try {
      const first = (JSON.parse(text) as { errors?: { code?: string; message?: string }[] }).errors?.[0];
      if (first) {
        code = first.code ?? '';
        message = first.message ?? message;
      }
    } catch {
      /* not JSON */
    }
    const metadata = { registry: this.ref.registry, status: String(status), ...(code ? { registryCode: code } : {}) };
    if (status === 404)
      return new NotFoundError(`${this.#where}: ${what} not found (${code || status}: ${message})`, { reason: 'NOT_FOUND', metadata });
    return new RegistryError(`${this.#where}: ${what}: HTTP ${status}${code ? ` ${code}` : ''}: ${message}`, {
      reason: 'REGISTRY_REFUSED',
      metadata,
    });
  }

  async #expect(response: HttpResponse, ok: number[], what: string): Promise<HttpResponse> {
    if (ok.includes(response.status)) return response;
    throw this.#failed(response.status, await response.text(), what);
  }

  /** GET /v2/: the registry is there and speaks the API (and auth, if it asks). */
  async ping(): Promise<void> {
    const r = await this.send({ method: 'GET', url: this.#url('/v2/') }, 'pull');
    await this.#expect(r, [200], 'the API root /v2/');
    await r.text();
  }

  async hasBlob(digest: string): Promise<boolean> {
    const r = await this.send({ method: 'HEAD', url: this.#url(`/v2/${this.ref.repository}/blobs/${digest}`) }, 'pull,push');
    await r.text();
    if (r.status === 200) return true;
    if (r.status === 404) return false;
    throw this.#failed(r.status, '', `blob ${digest}`);
  }

  /** Where the registry takes a new upload: the Location of a 202 answer to POST …/blobs/uploads/. */
  #uploadLocation(answer: HttpResponse): URL {
    const location = answer.headers.location;
    if (!location) throw new RegistryError(`${this.#where}: the upload answer has no Location`, { reason: 'REGISTRY_PROTOCOL' });
    return new URL(location, this.#url('/'));
  }

  /**
   * Asks the registry to mount `digest` from the repository `from` of the same registry into
   * this one (no bytes move): true when it did (201). When it cannot (the blob is not in
   * `from`, or mounting is off) it starts a normal upload instead (202) and this returns that
   * upload's URL, for uploadBlob to continue.
   */
  async mountBlob(digest: string, from: string): Promise<true | URL> {
    const url = this.#url(`/v2/${this.ref.repository}/blobs/uploads/`);
    url.searchParams.set('mount', digest);
    url.searchParams.set('from', from);
    const answer = await this.#expect(
      await this.send({ method: 'POST', url, body: Buffer.alloc(0) }, 'pull,push'),
      [201, 202],
      `mounting blob ${digest}`,
    );
    await answer.text();
    return answer.status === 201 ? true : this.#uploadLocation(answer);
  }

  /**
   * Uploads `file` (its sha256 is `digest`, its size `size`) in one PUT, into `upload` (an
   * upload a mount request started) or a new one; `onBytes` sees progress.
   */
  async uploadBlob(file: string, digest: string, size: number, onBytes: (n: number) => void, upload?: URL): Promise<void> {
    let url = upload;
    if (!url) {
      const start = await this.#expect(
        await this.send(
          { method: 'POST', url: this.#url(`/v2/${this.ref.repository}/blobs/uploads/`), body: Buffer.alloc(0) },
          'pull,push',
        ),
        [202],
        'starting an upload',
      );
      await start.text();
      url = this.#uploadLocation(start);
    }
    url = new URL(url);
    url.searchParams.set('digest', digest);
    const put = await this.send(
      {
        method: 'PUT',
        url,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
        body: () => createReadStream(file, { highWaterMark: 1 << 20 }).on('data', (chunk) => onBytes(chunk.length)),
        timeoutMs: 300_000,
      },
      'pull,push',
    );
    await this.#expect(put, [201], `uploading blob ${digest}`);
    await put.text();
  }

  /** Opens a blob for reading from byte `from` on (a Range request when > 0); resolves with the stream and whether the range was honoured. */
  async openBlob(digest: string, from = 0): Promise<{ response: HttpResponse; ranged: boolean }> {
    const headers: Record<string, string> = from > 0 ? { range: `bytes=${from}-` } : {};
    const r = await this.send(
      { method: 'GET', url: this.#url(`/v2/${this.ref.repository}/blobs/${digest}`), headers, timeoutMs: 120_000 },
      'pull',
    );
    await this.#expect(r, from > 0 ? [200, 206] : [200], `blob ${digest}`);
    return { response: r, ranged: r.status === 206 };
  }

  async getBlobText(digest: string): Promise<string> {
    const { response } = await this.openBlob(digest);
    return response.text();
  }

  /** PUTs an OCI manifest under `tag`; returns the digest the registry reports (or that of `body`). */
  async putManifest(tag: string, body: Buffer): Promise<string> {
    const r = await this.#expect(
      await this.send(
        { method: 'PUT', url: this.#url(`/v2/${this.ref.repository}/manifests/${tag}`), headers: { 'content-type': OCI_MANIFEST }, body },
        'pull,push',
      ),
      [201],
      `manifest ${tag}`,
    );
    await r.text();
    const digest = r.headers['docker-content-digest'];
    return typeof digest === 'string' ? digest : '';
  }

  /** The manifest the reference names (its digest, if given, else its tag), as bytes. */
  async getManifest(): Promise<Buffer> {
    const reference = this.ref.digest ?? this.ref.tag ?? 'latest';
    const r = await this.#expect(
      await this.send(
        { method: 'GET', url: this.#url(`/v2/${this.ref.repository}/manifests/${reference}`), headers: { accept: OCI_MANIFEST } },
        'pull',
      ),
      [200],
      `manifest ${reference}`,
    );
    return r.bytes();
  }
}
