// One HTTP request over node:http/https with a streamed body both ways: registries move
// blobs of hundreds of MB, and a pull resumes with a Range header, which fetch() makes
// awkward to do with a known Content-Length.
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
  /** The whole body (manifests, JSON answers, errors), at most 4 MiB kept. */
  bytes(): Promise<Buffer>;
  text(): Promise<string>;
}

export interface HttpRequest {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  /** A Buffer, or a stream made fresh for each attempt (with content-length in headers). */
  body?: Buffer | (() => Readable);
  signal?: AbortSignal;
  /** No answer (headers) within this long fails the request. */
  timeoutMs?: number;
}

const MAX_TEXT = 4 << 20;

export function request(r: HttpRequest): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const lib = r.url.protocol === 'https:' ? https : http;
    const headers: Record<string, string> = { 'user-agent': 'runbox', ...r.headers };
    if (Buffer.isBuffer(r.body)) headers['content-length'] = String(r.body.length);
    const req = lib.request(r.url, { method: r.method, headers, signal: r.signal, timeout: r.timeoutMs ?? 60_000 }, (res) => {
      const bytes = async () => {
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of res) {
          if (size >= MAX_TEXT) continue;
          chunks.push(chunk as Buffer);
          size += (chunk as Buffer).length;
        }
        return Buffer.concat(chunks);
      };
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, bytes, text: async () => (await bytes()).toString('utf8') });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${r.url.host} within ${r.timeoutMs ?? 60_000} ms`)));
    req.on('error', reject);
    if (r.body === undefined) req.end();
    else if (Buffer.isBuffer(r.body)) req.end(r.body);
    else {
      const body = r.body();
      body.on('error', (error) => req.destroy(error));
      body.pipe(req);
    }
  });
}
