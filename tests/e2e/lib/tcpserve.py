#!/usr/bin/python3
# tests/e2e/lib/tcpserve.py -- one-connection TCP peers for the network tests.
#   tcpserve.py send ADDR PORT FILE READY   serve FILE to the first client
#   tcpserve.py line ADDR PORT OUT READY    write the first line a client sends
# READY is created once the socket listens; every wait is bounded (120 s).
import socket
import sys


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
    if mode == "send":
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
