#!/usr/bin/env python3
# Writes the seed corpus for fuzz_spec (run once by hand; the output is
# committed): python3 tests/fuzz/mkseeds_spec.py tests/fuzz/corpus/spec
# Inputs are OCI runtime specs (config.json) as containerd 1.6 writes them,
# plus bare process objects (ExecProcessRequest.process_json) and broken
# variants of both.
import copy, json, os, sys

PROC = {
    "user": {"uid": 0, "gid": 0, "additionalGids": [0, 10]},
    "args": ["sh", "-c", "echo hello; sleep 1"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOSTNAME=fuzz"],
    "cwd": "/",
    "capabilities": {"bounding": ["CAP_CHOWN", "CAP_KILL"],
                     "effective": ["CAP_CHOWN", "CAP_KILL"],
                     "permitted": ["CAP_CHOWN", "CAP_KILL"]},
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": True,
}
SPEC = {
    "ociVersion": "1.0.2-dev",
    "process": PROC,
    "root": {"path": "rootfs", "readonly": False},
    "hostname": "fuzz",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup",
         "source": "cgroup", "options": ["ro", "nosuid"]},
        {"destination": "/etc/hosts", "type": "bind",
         "source": "/var/lib/containerd/io.containerd.grpc.v1.cri/"
                   "sandboxes/0f3a/hosts", "options": ["rbind", "ro"]},
        {"destination": "/etc/resolv.conf", "type": "bind",
         "source": "/etc/resolv.conf", "options": ["rbind", "ro"]},
        {"destination": "/mnt/root", "type": "bind", "source": "/",
         "options": ["rbind"]},
    ],
    "hooks": {"prestart": [{"path": "/usr/bin/netns-hook",
                            "args": ["netns-hook", "create"]}],
              "poststop": [{"path": "/bin/true"}]},
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}],
                      "memory": {"limit": 268435456}},
        "cgroupsPath": "/default/fuzz",
        "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"},
                       {"type": "mount"},
                       {"type": "network", "path": "/var/run/netns/cni-1"}],
        "maskedPaths": ["/proc/kcore", "/sys/firmware"],
        "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"],
    },
}

def spec(**kw):
    s = copy.deepcopy(SPEC)
    for k, v in kw.items():
        if v is None:
            s.pop(k, None)
        else:
            s[k] = v
    return s

def proc(**kw):
    p = copy.deepcopy(PROC)
    for k, v in kw.items():
        if v is None:
            p.pop(k, None)
        else:
            p[k] = v
    return p

def dump(o):
    return json.dumps(o, separators=(",", ":")).encode()

seeds = {
    "minimal": dump({"ociVersion": "1.0.2", "process": {"args": ["/bin/true"]}}),
    "containerd": json.dumps(SPEC, indent=1).encode(),
    "process": dump(PROC),
    "process-terminal": dump(proc(terminal=True, consoleSize={"height": 24,
                                                              "width": 80})),
    "no-version": dump(spec(ociVersion=None)),
    "version-number": dump(spec(ociVersion=1)),
    "no-process": dump(spec(process=None)),
    "process-array": dump(spec(process=[PROC])),
    "args-empty": dump(spec(process=proc(args=[]))),
    "args-mixed": dump(spec(process=proc(args=["sh", 1, None]))),
    "cwd-relative": dump(spec(process=proc(cwd="tmp"))),
    "cwd-empty": dump(spec(process=proc(cwd=""))),
    "env-string": dump(spec(process=proc(env="A=1"))),
    "linux-string": dump(spec(linux="x")),
    "mounts-odd": dump(spec(mounts=[1, "bind", None, {"type": "bind"},
                                    {"type": "bind", "source": 7},
                                    {"type": "bind", "source": "/nonexistent"},
                                    {"type": "bind", "source": "/nonexist2"}])),
    "mounts-object": dump(spec(mounts={"type": "bind", "source": "/x"})),
    "duplicate": b'{"ociVersion":"1","ociVersion":"2","process":{"args":["a"]}}',
    "not-object": b'["ociVersion", "1.0.2"]',
    "deep": b'{"ociVersion":"1","process":{"args":["a"]},"annotations":' +
            b'[' * 2000 + b']' * 2000 + b'}',
    "truncated": dump(SPEC)[:200],
    "empty": b"",
}
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
