#!/usr/bin/python3
# tests/e2e/lib/tcpserve.py -- one-connection TCP peers for the network tests.
#   tcpserve.py send ADDR PORT FILE READY   serve FILE to the first client
#   tcpserve.py line ADDR PORT OUT READY    write the first line a client sends
#   tcpserve.py sink ADDR PORT OUT READY    read to EOF; OUT gets "bytes seconds"
#   tcpserve.py source ADDR PORT MIB READY  send MIB MiB of zeros, then close
#                                           (stdout: "bytes seconds")
# READY is created once the socket listens; every wait is bounded (120 s).
import socket
import sys
import time


def listen(addr, port, ready):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(1)
    s.settimeout(120)
    open(ready, "w").close()
    conn, _ = s.accept()
    conn.settimeout(120)
    return s, conn


def main():
    mode, addr, port, path, ready = sys.argv[1:6]
    s, conn = listen(addr, port, ready)
    t0 = time.monotonic()
    if mode == "sink":
        n = 0
        while True:
            more = conn.recv(1 << 16)
            if not more:
                break
            n += len(more)
        with open(path, "w") as f:
            f.write("%d %.3f\n" % (n, time.monotonic() - t0))
    elif mode == "source":
        chunk = bytes(1 << 16)
        for _ in range(int(path) * 16):
            conn.sendall(chunk)
        print("%d %.3f" % (int(path) << 20, time.monotonic() - t0))
    elif mode == "send":
        with open(path, "rb") as f:
            while True:
                chunk = f.read(1 << 16)
                if not chunk:
                    break
                conn.sendall(chunk)
    else:
        data = b""
        while b"\n" not in data and len(data) < 4096:
            more = conn.recv(4096)
            if not more:
                break
            data += more
        with open(path, "wb") as f:
            f.write(data.split(b"\n")[0] + b"\n")
    conn.close()
    s.close()


main()
