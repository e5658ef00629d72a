// The glue between protobuf-es service descriptors and @grpc/grpc-js.
// protobuf-es generates descriptors but no grpc-js code; this turns any descriptor
// into a grpc-js ServiceDefinition (path /<package.Service>/<Method>, streaming flags
// from the method kind, toBinary/fromBinary as (de)serializers) and gives typed
// helpers for both sides, so no RPC ever has a hand-written serializer.
import { fromBinary, toBinary, type DescMessage, type DescMethod, type DescService, type MessageShape } from '@bufbuild/protobuf';
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';
import * as grpc from '@grpc/grpc-js';

type Shape<M> = M extends DescMessage ? MessageShape<M> : never;

function serializer<M extends DescMessage>(schema: M): (value: MessageShape<M>) => Buffer {
  // A view, not a copy: grpc-js copies the bytes once more into its length-prefixed frame. A
  // value that is already bytes is a message encoded ahead (agent/process/output-wire.ts).
  return (value) => {
    const bytes = value instanceof Uint8Array ? value : toBinary(schema, value);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer<M extends DescMessage>(schema: M): (bytes: Buffer) => MessageShape<M> {
  return (bytes) => fromBinary(schema, bytes);
}

/** The wire path grpc-js uses for a method: `/runbox.v1.ProcessService/RunCode`. */
export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

/** A grpc-js ServiceDefinition for a protobuf-es service descriptor, keyed by method localName. */
export function serviceDefinition(service: DescService): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    definition[method.localName] = {
      path: methodPath(method),
      originalName: method.name,
      requestStream: method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
      responseStream: method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
      requestSerialize: serializer(method.input),
      requestDeserialize: deserializer(method.input),
      responseSerialize: serializer(method.output),
      responseDeserialize: deserializer(method.output),
    } as grpc.MethodDefinition<unknown, unknown>;
  }
  return definition;
}

/** The server-side handler type grpc-js expects for each method of a generated service. */
export type ServiceImplementation<S extends GenServiceMethods> = {
  [K in keyof S]: S[K]['methodKind'] extends 'unary'
    ? grpc.handleUnaryCall<Shape<S[K]['input']>, Shape<S[K]['output']>>
    : S[K]['methodKind'] extends 'server_streaming'
      ? grpc.handleServerStreamingCall<Shape<S[K]['input']>, Shape<S[K]['output']>>
      : S[K]['methodKind'] extends 'client_streaming'
        ? grpc.handleClientStreamingCall<Shape<S[K]['input']>, Shape<S[K]['output']>>
        : grpc.handleBidiStreamingCall<Shape<S[K]['input']>, Shape<S[K]['output']>>;
};

/** Registers a typed implementation of a generated service on a grpc-js server. */
export function addService<S extends GenServiceMethods>(
  server: grpc.Server,
  service: GenService<S>,
  implementation: ServiceImplementation<S>,
): void {
  server.addService(serviceDefinition(service), implementation);
}

type MethodOf<M extends DescMessage, O extends DescMessage> = DescMethod & { input: M; output: O };

export interface CallContext {
  metadata: grpc.Metadata;
  options: grpc.CallOptions;
}

/** Calls a unary method; resolves with the response or rejects with the grpc ServiceError. */
export function unaryCall<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  method: MethodOf<I, O>,
  request: MessageShape<I>,
  context: CallContext,
): { call: grpc.ClientUnaryCall; response: Promise<MessageShape<O>> } {
  let call!: grpc.ClientUnaryCall;
  const response = new Promise<MessageShape<O>>((resolve, reject) => {
    call = client.makeUnaryRequest(
      methodPath(method),
      serializer(method.input),
      deserializer(method.output),
      request,
      context.metadata,
      context.options,
      (error, value) => (error || !value ? reject(error ?? new Error('empty response')) : resolve(value)),
    );
  });
  return { call, response };
}

/** Opens a server-streaming call. */
export function serverStreamCall<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  method: MethodOf<I, O>,
  request: MessageShape<I>,
  context: CallContext,
): grpc.ClientReadableStream<MessageShape<O>> {
  return client.makeServerStreamRequest(
    methodPath(method),
    serializer(method.input),
    deserializer(method.output),
    request,
    context.metadata,
    context.options,
  );
}

/** Opens a client-streaming call; the promise settles when the server answers. */
export function clientStreamCall<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  method: MethodOf<I, O>,
  context: CallContext,
): { call: grpc.ClientWritableStream<MessageShape<I>>; response: Promise<MessageShape<O>> } {
  let call!: grpc.ClientWritableStream<MessageShape<I>>;
  const response = new Promise<MessageShape<O>>((resolve, reject) => {
    call = client.makeClientStreamRequest(
      methodPath(method),
      serializer(method.input),
      deserializer(method.output),
      context.metadata,
      context.options,
      (error, value) => (error || !value ? reject(error ?? new Error('empty response')) : resolve(value)),
    );
  });
  return { call, response };
}

/** Opens a bidirectional call. */
export function bidiCall<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  method: MethodOf<I, O>,
  context: CallContext,
): grpc.ClientDuplexStream<MessageShape<I>, MessageShape<O>> {
  return client.makeBidiStreamRequest(
    methodPath(method),
    serializer(method.input),
    deserializer(method.output),
    context.metadata,
    context.options,
  );
}

/** The methods record of a generated service: `MethodsOf<typeof ProcessService>`. */
export type MethodsOf<T> = T extends GenService<infer S> ? S : never;

/** The typed grpc-js implementation of a generated service: `ImplementationOf<typeof ProcessService>`. */
export type ImplementationOf<T> = ServiceImplementation<MethodsOf<T>>;
