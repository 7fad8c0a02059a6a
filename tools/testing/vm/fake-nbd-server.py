#!/usr/bin/env python3
# A broken NBD server for the VM tests: fake-nbd-server.py MODE HOST PORT.
# MODE decides what it gets wrong: magic (not an NBD server), truncated
# (the greeting stops short), absurd (an export of 2^63 bytes), refuse
# (every export refused, NBD_REP_ERR_UNKNOWN).
import socket, struct, sys

mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
NBDMAGIC, IHAVEOPT = b"NBDMAGIC", b"IHAVEOPT"
REPLY = 0x0003e889045565a9

def recvn(c, n):
    b = b""
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            raise EOFError
        b += d
    return b

def reply(c, opt, typ, data=b""):
    c.sendall(struct.pack(">QIII", REPLY, opt, typ, len(data)) + data)

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port))
s.listen(4)
while True:
    c, _ = s.accept()
    try:
        if mode == "magic":
            c.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        elif mode == "truncated":
            c.sendall(NBDMAGIC + IHAVEOPT[:4])
        else:
            c.sendall(NBDMAGIC + IHAVEOPT + struct.pack(">H", 3))
            recvn(c, 4)
            _, opt, n = struct.unpack(">QII", recvn(c, 16))
            recvn(c, n)
            if mode == "absurd":
                reply(c, opt, 3, struct.pack(">HQH", 0, 1 << 63, 1))
                reply(c, opt, 1)
            elif mode == "refuse":
                reply(c, opt, 0x80000006, b"no export here")
            recvn(c, 16)
    except (EOFError, OSError):
        pass
    c.close()
