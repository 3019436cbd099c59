#!/usr/bin/env python3
# Writes the seed corpus for fuzz_cni (run once by hand; the output is
# committed): python3 tests/fuzz/mkseeds_cni.py tests/fuzz/corpus/cni
# The first byte picks the parser (see tests/fuzz/fuzz_cni.c): 0 a plugin
# result, 1 a libcni cache entry, 2 a conflist.
import base64, json, os, sys

RESULT, CACHE, CONF = 0, 1, 2
conflist = {"cniVersion": "1.0.0", "name": "kilnnet", "plugins": [
    {"type": "bridge", "bridge": "kilnbr0", "isGateway": True,
     "ipMasq": False, "ipam": {"type": "host-local",
     "subnet": "10.88.77.0/24", "dataDir": "/tmp/ipam"}},
    {"type": "portmap", "capabilities": {"portMappings": True}}]}
# What Debian's bridge 1.1.1 printed for the test's ADD.
result = {"cniVersion": "1.0.0",
    "interfaces": [{"name": "kilnbr0", "mac": "a2:3c:1e:8e:9b:61"},
                   {"name": "vethd0c1d3a7", "mac": "0e:7a:02:5f:12:aa"},
                   {"name": "eth0", "mac": "5a:1d:3d:9f:be:0c",
                    "sandbox": "/tmp/kiln-t-cni/netns"}],
    "ips": [{"interface": 2, "address": "10.88.77.2/24",
             "gateway": "10.88.77.1"}],
    "routes": [{"dst": "0.0.0.0/0", "gw": "10.88.77.1", "mtu": 1400}],
    "dns": {"nameservers": ["10.88.77.1", "fd00::53"], "domain": "kiln",
            "search": ["kiln.test"], "options": ["ndots:2"]}}
old = {"cniVersion": "0.4.0", "interfaces": [{"name": "eth0"}],
       "ips": [{"version": "4", "address": "10.1.0.5/16", "interface": 0},
               {"version": "6", "address": "fd00::5/64"}]}
conf_bytes = json.dumps(conflist).encode()
entry = {"kind": "cniCacheV1", "containerId": "kiln-t1",
         "config": base64.b64encode(conf_bytes).decode(), "ifName": "eth0",
         "networkName": "kilnnet", "netns": "/tmp/kiln-t-cni/netns",
         "cniArgs": [["IgnoreUnknown", "1"], ["K8S_POD_NAME", "p"]],
         "capabilityArgs": {"portMappings": []}, "result": result}
bad_entry = dict(entry, config="!!notbase64", cniArgs=[["a"]])
seeds = {
    "result-1.0": bytes([RESULT]) + json.dumps(result).encode(),
    "result-0.4": bytes([RESULT]) + json.dumps(old).encode(),
    "result-bad-index": bytes([RESULT]) + json.dumps(dict(result, ips=[
        {"address": "10.0.0.1/24", "interface": 9}])).encode(),
    "result-garbage": bytes([RESULT]) + b'{"cniVersion":"1.0.0","ips":[{',
    "cache": bytes([CACHE]) + json.dumps(entry).encode(),
    "cache-bad": bytes([CACHE]) + json.dumps(bad_entry).encode(),
    # Found by the fuzzer: a freed conflist's name in the error message.
    "cache-other-network": bytes([CACHE]) + json.dumps(dict(entry,
        networkName="other")).encode(),
    "conflist": bytes([CONF]) + conf_bytes,
    "conflist-0.3": bytes([CONF]) + conf_bytes.replace(b"1.0.0", b"0.3.1"),
}
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
