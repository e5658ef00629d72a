"""A non-Node client of the agent, driven only by what the agent serves and standard protos.

Usage: python_client.py <target> <token> <gen-dir>
  target   a gRPC target (unix:/path/agent.sock or 127.0.0.1:port)
  gen-dir  where protoc --python_out put health, reflection and google.rpc modules

It learns runbox's own messages through server reflection (no runbox .proto file is
read), then makes one run and provokes one error reason. Prints one JSON object.
"""
import importlib.util
import json
import os
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

target, token, gen_dir = sys.argv[1], sys.argv[2], sys.argv[3]


def generated(relative):
    # Loaded by path: the generated grpc/ and google/ packages would clash with grpcio's and protobuf's.
    name = relative.replace("/", "_")
    spec = importlib.util.spec_from_file_location(name, os.path.join(gen_dir, relative + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


health_pb2 = generated("grpc/health/v1/health_pb2")
reflection_pb2 = generated("grpc/reflection/v1/reflection_pb2")
status_pb2 = generated("google/rpc/status_pb2")
error_details_pb2 = generated("google/rpc/error_details_pb2")

channel = grpc.insecure_channel(target)
auth = [("authorization", f"Bearer {token}")]
out = {}


def unary(path, request_cls, response_cls):
    return channel.unary_unary(path, request_serializer=request_cls.SerializeToString, response_deserializer=response_cls.FromString)


# grpc.health.v1, without a token.
check = unary("/grpc.health.v1.Health/Check", health_pb2.HealthCheckRequest, health_pb2.HealthCheckResponse)
status_name = health_pb2.HealthCheckResponse.ServingStatus.Name
out["health"] = status_name(check(health_pb2.HealthCheckRequest(service="")).status)
out["health_process"] = status_name(check(health_pb2.HealthCheckRequest(service="runbox.v1.ProcessService")).status)
try:
    check(health_pb2.HealthCheckRequest(service="no.such.Service"))
    out["health_unknown"] = "answered"
except grpc.RpcError as error:
    out["health_unknown"] = error.code().name

# Server reflection, without a token: list services, then fetch ProcessService's file and its imports.
reflect = channel.stream_stream(
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
    response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
)
requests = [
    reflection_pb2.ServerReflectionRequest(list_services=""),
    reflection_pb2.ServerReflectionRequest(file_containing_symbol="runbox.v1.ProcessService"),
    reflection_pb2.ServerReflectionRequest(file_containing_symbol="no.such.Symbol"),
]
responses = list(reflect(iter(requests)))
out["services"] = sorted(s.name for s in responses[0].list_services_response.service)
files = [descriptor_pb2.FileDescriptorProto.FromString(b) for b in responses[1].file_descriptor_response.file_descriptor_proto]
out["reflected_files"] = [f.name for f in files]
out["reflection_unknown_code"] = responses[2].error_response.error_code

# Build runbox's message classes from the reflected descriptors (imports first).
pool = descriptor_pool.DescriptorPool()
pending = list(files)
while pending:
    progress = False
    for f in list(pending):
        try:
            pool.Add(f)
            pending.remove(f)
            progress = True
        except TypeError:
            pass
    if not progress:
        raise SystemExit("reflected files do not resolve: " + ", ".join(f.name for f in pending))


factory = message_factory.MessageFactory(pool)  # protobuf 3.21 (bookworm): GetPrototype


def message(name):
    return factory.GetPrototype(pool.FindMessageTypeByName(name))


ExecRequest, ExecResponse = message("runbox.v1.ExecRequest"), message("runbox.v1.ExecResponse")
RunCodeRequest, RunCodeResponse = message("runbox.v1.RunCodeRequest"), message("runbox.v1.RunCodeResponse")

# One run: echo through the agent.
execute = channel.stream_stream("/runbox.v1.ProcessService/Exec", request_serializer=ExecRequest.SerializeToString, response_deserializer=ExecResponse.FromString)
start = ExecRequest()
start.start.argv.extend(["sh", "-c", "echo hello from $(id -un)"])
stdout = b""
exit_code = None
for event in execute(iter([start]), metadata=auth):
    kind = event.WhichOneof("event")
    if kind == "output":
        stdout += event.output.data
    elif kind == "finished":
        exit_code = event.finished.run.exit_code
out["exec_stdout"] = stdout.decode()
out["exec_exit_code"] = exit_code


def reason_of(error):
    """The google.rpc.ErrorInfo reason from grpc-status-details-bin, as any client reads it."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return {"code": error.code().name, "reason": info.reason, "domain": info.domain, "metadata": dict(info.metadata)}
    return {"code": error.code().name, "reason": None}


# One error reason: a language the agent has no toolchain for.
run_code = channel.stream_stream("/runbox.v1.ProcessService/RunCode", request_serializer=RunCodeRequest.SerializeToString, response_deserializer=RunCodeResponse.FromString)
bad = RunCodeRequest()
bad.start.language = "cobol"
bad.start.source = b"DISPLAY 'hi'."
try:
    list(run_code(iter([bad]), metadata=auth))
    out["bad_language"] = "answered"
except grpc.RpcError as error:
    out["bad_language"] = reason_of(error)

# Without the token, the same call is refused with its own reason.
try:
    list(execute(iter([start])))
    out["no_token"] = "answered"
except grpc.RpcError as error:
    out["no_token"] = reason_of(error)

print(json.dumps(out))
