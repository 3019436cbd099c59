# Protobuf wire-format helpers for the seed generators (mkseeds_*.py):
# enough of the encoding to write any kiln, containerd or ttrpc message.

def varint(n):
    if n < 0:
        n += 1 << 64
    out = b""
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])

def ld(num, data):                      # length-delimited field
    if isinstance(data, str):
        data = data.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data

def vi(num, n):                         # varint field
    return varint(num << 3) + varint(n)
