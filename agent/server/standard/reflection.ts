// gRPC server reflection (grpc.reflection.v1 and the v1alpha that older grpcurl and grpc_cli
// still ask for): lists the services and hands out the FileDescriptorProtos protobuf-es
// embeds in the generated code, so tools need no .proto files. Both versions share one
// message layout; only the package differs.
import { create, fromBinary, toBinary, type DescEnum, type DescExtension, type DescFile, type DescMessage } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';
import { status, type ServerDuplexStream } from '@grpc/grpc-js';
import type { ImplementationOf } from '../../../proto/grpc.js';
import * as v1 from '../../../proto/gen/grpc/reflection/v1/reflection_pb.js';
import * as v1alpha from '../../../proto/gen/grpc/reflection/v1alpha/reflection_pb.js';
import { log } from '../../core/log.js';

/** Every file that defines a served service, with its imports, indexed by name and by symbol. */
export class DescriptorIndex {
  readonly services: string[] = [];
  readonly #files = new Map<string, DescFile>();
  readonly #symbols = new Map<string, DescFile>();
  readonly #extensions: DescExtension[] = [];

  constructor(services: readonly GenService<GenServiceMethods>[]) {
    for (const service of services) {
      this.services.push(service.typeName);
      this.#addFile(service.file);
    }
  }

  #addFile(file: DescFile): void {
    if (this.#files.has(file.proto.name)) return;
    this.#files.set(file.proto.name, file);
    for (const dependency of file.dependencies) this.#addFile(dependency);
    for (const service of file.services) {
      this.#symbols.set(service.typeName, file);
      for (const method of service.methods) this.#symbols.set(`${service.typeName}.${method.name}`, file);
    }
    for (const e of file.enums) this.#symbols.set(e.typeName, file);
    for (const x of file.extensions) this.#addExtension(x, file);
    for (const message of file.messages) this.#addMessage(message, file);
  }

  #addMessage(message: DescMessage, file: DescFile): void {
    this.#symbols.set(message.typeName, file);
    for (const field of message.fields) this.#symbols.set(`${message.typeName}.${field.name}`, file);
    for (const nested of message.nestedMessages) this.#addMessage(nested, file);
    for (const e of message.nestedEnums) this.#addEnum(e, file);
    for (const x of message.nestedExtensions) this.#addExtension(x, file);
  }

  #addEnum(e: DescEnum, file: DescFile): void {
    this.#symbols.set(e.typeName, file);
  }

  #addExtension(extension: DescExtension, file: DescFile): void {
    this.#symbols.set(extension.typeName, file);
    this.#extensions.push(extension);
  }

  byFilename(name: string): DescFile | undefined {
    return this.#files.get(name);
  }

  bySymbol(symbol: string): DescFile | undefined {
    return this.#symbols.get(symbol.replace(/^\./, ''));
  }

  extensionsOf(typeName: string): DescExtension[] {
    return this.#extensions.filter((x) => x.extendee.typeName === typeName);
  }

  /** The file and everything it imports, each once, the file first (what grpcurl expects). */
  serialized(file: DescFile): Uint8Array[] {
    const seen = new Set<string>();
    const out: Uint8Array[] = [];
    const visit = (f: DescFile) => {
      if (seen.has(f.proto.name)) return;
      seen.add(f.proto.name);
      out.push(toBinary(FileDescriptorProtoSchema, f.proto));
      for (const dependency of f.dependencies) visit(dependency);
    };
    visit(file);
    return out;
  }
}

type Request = v1.ServerReflectionRequest;
type Response = v1.ServerReflectionResponse;
type Answer = Response['messageResponse'];

const notFound = (what: string): Answer => ({
  case: 'errorResponse',
  value: create(v1.ErrorResponseSchema, { errorCode: status.NOT_FOUND, errorMessage: `${what} is not served by this agent` }),
});

function fileAnswer(index: DescriptorIndex, file: DescFile | undefined, what: string): Answer {
  if (file === undefined) return notFound(what);
  return {
    case: 'fileDescriptorResponse',
    value: create(v1.FileDescriptorResponseSchema, { fileDescriptorProto: index.serialized(file) }),
  };
}

/** The answer to one reflection request (shared by both protocol versions). */
export function answer(index: DescriptorIndex, request: Request['messageRequest']): Answer {
  switch (request.case) {
    case 'listServices':
      return {
        case: 'listServicesResponse',
        value: create(v1.ListServiceResponseSchema, { service: index.services.map((name) => create(v1.ServiceResponseSchema, { name })) }),
      };
    case 'fileByFilename':
      return fileAnswer(index, index.byFilename(request.value), `file "${request.value}"`);
    case 'fileContainingSymbol':
      return fileAnswer(index, index.bySymbol(request.value), `symbol "${request.value}"`);
    case 'fileContainingExtension': {
      const { containingType, extensionNumber } = request.value;
      const extension = index.extensionsOf(containingType).find((x) => x.number === extensionNumber);
      return fileAnswer(index, extension?.file, `extension ${extensionNumber} of "${containingType}"`);
    }
    case 'allExtensionNumbersOfType':
      if (index.bySymbol(request.value) === undefined) return notFound(`type "${request.value}"`);
      return {
        case: 'allExtensionNumbersResponse',
        value: create(v1.ExtensionNumberResponseSchema, {
          baseTypeName: request.value,
          extensionNumber: index.extensionsOf(request.value).map((x) => x.number),
        }),
      };
    default:
      return {
        case: 'errorResponse',
        value: create(v1.ErrorResponseSchema, { errorCode: status.INVALID_ARGUMENT, errorMessage: 'the request names no message_request' }),
      };
  }
}

/** One response per request, in order, until the client half-closes. */
function serve<I, O>(call: ServerDuplexStream<I, O>, handle: (request: I) => O): void {
  call.on('data', (request: I) => call.write(handle(request)));
  call.on('end', () => call.end());
  call.on('error', (error: Error) => log.warn('reflection.stream_error', { error: error.message }));
}

function respond(index: DescriptorIndex, request: Request): Response {
  return create(v1.ServerReflectionResponseSchema, {
    validHost: request.host,
    originalRequest: request,
    messageResponse: answer(index, request.messageRequest),
  });
}

export function reflectionService(index: DescriptorIndex): ImplementationOf<typeof v1.ServerReflection> {
  return { serverReflectionInfo: (call) => serve(call, (request: Request) => respond(index, request)) };
}

/** v1alpha has v1's field numbers under another package, so converting through bytes is exact. */
export function reflectionServiceV1Alpha(index: DescriptorIndex): ImplementationOf<typeof v1alpha.ServerReflection> {
  return {
    serverReflectionInfo: (call) =>
      serve(call, (alpha: v1alpha.ServerReflectionRequest) => {
        const request = fromBinary(v1.ServerReflectionRequestSchema, toBinary(v1alpha.ServerReflectionRequestSchema, alpha));
        return fromBinary(v1alpha.ServerReflectionResponseSchema, toBinary(v1.ServerReflectionResponseSchema, respond(index, request)));
      }),
  };
}
