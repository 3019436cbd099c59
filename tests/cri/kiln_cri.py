#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""kiln_cri.py -- a small crictl-like CRI client for kiln's tests.

This is the CRI client the tests use (t_cri.sh, bench_cri.sh), chosen over
crictl (not packaged in Debian 12) and over a C client on Debian's gRPC
(C++ only, and far more code for a test tool): Debian's python3-grpcio
and python3-grpc-tools, and our own subset of the CRI v1 API in
tests/cri/api.proto (field numbers from the published k8s.io/cri-api),
compiled by make into build/<flavour>/cri/. Run it with /usr/bin/python3:
Debian's grpc modules are visible to that interpreter only.

    kiln_cri.py [-a SOCKET] [-t SECONDS] [--gen DIR] [-f PATH] COMMAND ARGS...

  version                          RuntimeService.Version
  runp POD.json [-r HANDLER]       RunPodSandbox (PodSandboxConfig JSON)
  stopp POD_ID | rmp POD_ID        StopPodSandbox | RemovePodSandbox
  inspectp POD_ID                  PodSandboxStatus (verbose)
  pods [--id ID] [--state S]       ListPodSandbox (S: ready, notready)
  create POD_ID CTR.json POD.json  CreateContainer (ContainerConfig JSON,
                                   and the pod's PodSandboxConfig JSON)
  start | stop | rm CTR_ID         StartContainer | StopContainer
                                   (--timeout N, default 0) | RemoveContainer
  ps [--pod ID] [--state S]        ListContainers (S: created, running,
                                   exited, unknown)
  inspect CTR_ID                   ContainerStatus (verbose)
  exec-sync CTR_ID [--timeout N] -- CMD...
                                   ExecSync; stdout and stderr are printed
                                   as text, not base64
  stats CTR_ID                     ContainerStats
  update CTR_ID RES.json           UpdateContainerResources
                                   (LinuxContainerResources JSON)
  img-status IMAGE [--wait SECS]   ImageService.ImageStatus; --wait polls
                                   until the image is known (fails after)
  images                           ImageService.ListImages

Requests are read from JSON with the proto field names (json_format, so
camelCase works too); every reply is printed as JSON with the proto field
names, zero values included. -f PATH prints one value of the reply instead
(dotted path, list indexes as numbers: `-f status.network.ip`,
`-f items.0.id`; missing is an error). SOCKET defaults to $KILN_CTR_CRI_SOCK; every call has a
deadline of -t SECONDS (default 120). On a gRPC error: exit 1 and
`kiln_cri: METHOD: CODE: MESSAGE` on stderr (CODE as grpc names it, e.g.
UNIMPLEMENTED, NOT_FOUND, DEADLINE_EXCEEDED); usage errors exit 2.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def _gen_dir(arg):
    if arg:
        return arg
    build = os.environ.get("KILN_BUILD") or os.path.join(HERE, "..", "..",
                                                         "build", "debug")
    return os.path.join(build, "cri")


def _load(gen):
    sys.path.insert(0, gen)
    try:
        import grpc
        from google.protobuf import json_format
        import api_pb2
        import api_pb2_grpc
    except ImportError as e:
        sys.exit("kiln_cri: %s (generated code in %s? run make; "
                 "use /usr/bin/python3)" % (e, gen))
    return grpc, json_format, api_pb2, api_pb2_grpc


class Cri:
    """One channel to containerd's CRI services; every call has a deadline."""

    def __init__(self, mods, sock, timeout):
        self.grpc, self.jf, self.pb, pbg = mods
        self.timeout = timeout
        target = sock if "://" in sock else "unix://" + sock
        self.chan = self.grpc.insecure_channel(target)
        self.rt = pbg.RuntimeServiceStub(self.chan)
        self.img = pbg.ImageServiceStub(self.chan)

    def call(self, stub, method, req, timeout=None):
        try:
            return getattr(stub, method)(req, timeout=timeout or self.timeout)
        except self.grpc.RpcError as e:
            code = e.code().name if e.code() is not None else "UNKNOWN"
            sys.stderr.write("kiln_cri: %s: %s: %s\n" % (method, code,
                                                         e.details()))
            sys.exit(1)

    def parse(self, path, msg):
        with open(path) as f:
            return self.jf.Parse(f.read(), msg)

    def to_dict(self, reply):
        # Defaults included: SANDBOX_READY and an exit code of 0 are the
        # enum/int zero values, which would otherwise vanish.
        return self.jf.MessageToDict(reply, preserving_proto_field_name=True,
                                     including_default_value_fields=True)


def _pick(d, path):
    for part in path.split("."):
        if isinstance(d, list):
            d = d[int(part)]
        else:
            d = d[part]
    return d


def _state(enum, prefix, name):
    try:
        return enum.Value(prefix + name.upper())
    except ValueError:
        sys.stderr.write("kiln_cri: unknown state %s\n" % name)
        sys.exit(2)


def main(argv):
    ap = argparse.ArgumentParser(prog="kiln_cri.py",
                                 description="CRI client for kiln's tests")
    ap.add_argument("-a", "--address",
                    default=os.environ.get("KILN_CTR_CRI_SOCK"))
    ap.add_argument("-t", "--call-timeout", type=float, default=120.0)
    ap.add_argument("--gen", default=None)
    ap.add_argument("-f", "--field", default=None)
    # -f is accepted after the command too.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-f", "--field", default=argparse.SUPPRESS)
    sub = ap.add_subparsers(dest="cmd", required=True)
    add = sub.add_parser
    sub.add_parser = lambda *x, **k: add(*x, parents=[common], **k)
    sub.add_parser("version")
    p = sub.add_parser("runp")
    p.add_argument("config")
    p.add_argument("-r", "--runtime", default="")
    for name in ("stopp", "rmp", "inspectp", "start", "rm", "inspect",
                 "stats"):
        sub.add_parser(name).add_argument("id")
    p = sub.add_parser("pods")
    p.add_argument("--id", default="")
    p.add_argument("--state", default=None)
    p = sub.add_parser("create")
    p.add_argument("pod_id")
    p.add_argument("config")
    p.add_argument("pod_config")
    p = sub.add_parser("stop")
    p.add_argument("id")
    p.add_argument("--timeout", type=int, default=0)
    p = sub.add_parser("ps")
    p.add_argument("--pod", default="")
    p.add_argument("--id", default="")
    p.add_argument("--state", default=None)
    p = sub.add_parser("exec-sync")
    p.add_argument("id")
    p.add_argument("--timeout", type=int, default=60)
    p = sub.add_parser("update")
    p.add_argument("id")
    p.add_argument("resources")
    p = sub.add_parser("img-status")
    p.add_argument("image")
    p.add_argument("--wait", type=float, default=0)
    sub.add_parser("images")
    # exec-sync's command is everything after the first "--".
    cmd = []
    if "--" in argv:
        cmd = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    a = ap.parse_args(argv)
    if not a.address:
        ap.error("no socket: -a SOCKET or $KILN_CTR_CRI_SOCK")

    cri = Cri(_load(_gen_dir(a.gen)), a.address, a.call_timeout)
    pb, rt = cri.pb, cri.rt
    out = None
    if a.cmd == "version":
        out = cri.call(rt, "Version", pb.VersionRequest(version="v1"))
    elif a.cmd == "runp":
        cfg = cri.parse(a.config, pb.PodSandboxConfig())
        out = cri.call(rt, "RunPodSandbox", pb.RunPodSandboxRequest(
            config=cfg, runtime_handler=a.runtime))
    elif a.cmd == "stopp":
        out = cri.call(rt, "StopPodSandbox",
                       pb.StopPodSandboxRequest(pod_sandbox_id=a.id))
    elif a.cmd == "rmp":
        out = cri.call(rt, "RemovePodSandbox",
                       pb.RemovePodSandboxRequest(pod_sandbox_id=a.id))
    elif a.cmd == "inspectp":
        out = cri.call(rt, "PodSandboxStatus", pb.PodSandboxStatusRequest(
            pod_sandbox_id=a.id, verbose=True))
    elif a.cmd == "pods":
        flt = pb.PodSandboxFilter(id=a.id)
        if a.state:
            flt.state.state = _state(pb.PodSandboxState, "SANDBOX_", a.state)
        out = cri.call(rt, "ListPodSandbox",
                       pb.ListPodSandboxRequest(filter=flt))
    elif a.cmd == "create":
        out = cri.call(rt, "CreateContainer", pb.CreateContainerRequest(
            pod_sandbox_id=a.pod_id,
            config=cri.parse(a.config, pb.ContainerConfig()),
            sandbox_config=cri.parse(a.pod_config, pb.PodSandboxConfig())))
    elif a.cmd == "start":
        out = cri.call(rt, "StartContainer",
                       pb.StartContainerRequest(container_id=a.id))
    elif a.cmd == "stop":
        out = cri.call(rt, "StopContainer", pb.StopContainerRequest(
            container_id=a.id, timeout=a.timeout),
            timeout=a.call_timeout + a.timeout)
    elif a.cmd == "rm":
        out = cri.call(rt, "RemoveContainer",
                       pb.RemoveContainerRequest(container_id=a.id))
    elif a.cmd == "ps":
        flt = pb.ContainerFilter(id=a.id, pod_sandbox_id=a.pod)
        if a.state:
            flt.state.state = _state(pb.ContainerState, "CONTAINER_", a.state)
        out = cri.call(rt, "ListContainers",
                       pb.ListContainersRequest(filter=flt))
    elif a.cmd == "inspect":
        out = cri.call(rt, "ContainerStatus", pb.ContainerStatusRequest(
            container_id=a.id, verbose=True))
    elif a.cmd == "exec-sync":
        if not cmd:
            ap.error("exec-sync: CTR_ID [--timeout N] -- CMD...")
        r = cri.call(rt, "ExecSync", pb.ExecSyncRequest(
            container_id=a.id, cmd=cmd, timeout=a.timeout),
            timeout=a.call_timeout + a.timeout)
        d = {"stdout": r.stdout.decode("utf-8", "replace"),
             "stderr": r.stderr.decode("utf-8", "replace"),
             "exit_code": r.exit_code}
        return _print(d, a.field)
    elif a.cmd == "stats":
        out = cri.call(rt, "ContainerStats",
                       pb.ContainerStatsRequest(container_id=a.id))
    elif a.cmd == "update":
        res = cri.parse(a.resources, pb.LinuxContainerResources())
        out = cri.call(rt, "UpdateContainerResources",
                       pb.UpdateContainerResourcesRequest(container_id=a.id,
                                                          linux=res))
    elif a.cmd == "img-status":
        req = pb.ImageStatusRequest(image=pb.ImageSpec(image=a.image))
        deadline = time.monotonic() + a.wait
        while True:
            out = cri.call(cri.img, "ImageStatus", req)
            if out.HasField("image") or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        if a.wait and not out.HasField("image"):
            sys.stderr.write("kiln_cri: ImageStatus: %s not known after "
                             "%g s\n" % (a.image, a.wait))
            return 1
    elif a.cmd == "images":
        out = cri.call(cri.img, "ListImages", pb.ListImagesRequest())
    return _print(cri.to_dict(out), a.field)


def _print(d, field):
    if field is not None:
        try:
            v = _pick(d, field)
        except (KeyError, IndexError, ValueError, TypeError):
            sys.stderr.write("kiln_cri: no %s in the reply\n" % field)
            return 1
        print(v if isinstance(v, str) else json.dumps(v))
    else:
        print(json.dumps(d, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
