#!/usr/bin/env python3
"""Minimal raw-socket MySQL/MariaDB client used to capture test vectors.

It logs in with mysql_native_password and negotiates exactly the capability
flags given, so that the server's answers can be captured both with and
without CLIENT_DEPRECATE_EOF (the mariadb CLI always sets it). The traffic is
recorded by tshark on loopback; this script only drives the server.

usage: capture_client.py [--deprecate-eof] [--session-track] [--local-files] QUERY...
"""
import hashlib
import socket
import struct
import sys

HOST, PORT, USER, PASSWORD = "127.0.0.1", 33061, b"tapflow", b"tapflow-test"

CLIENT_LONG_PASSWORD = 1 << 0
CLIENT_LONG_FLAG = 1 << 2
CLIENT_LOCAL_FILES = 1 << 7
CLIENT_PROTOCOL_41 = 1 << 9
CLIENT_TRANSACTIONS = 1 << 13
CLIENT_SECURE_CONNECTION = 1 << 15
CLIENT_MULTI_RESULTS = 1 << 17
CLIENT_PLUGIN_AUTH = 1 << 19
CLIENT_SESSION_TRACK = 1 << 23
CLIENT_DEPRECATE_EOF = 1 << 24


def recv_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise EOFError("server closed the connection")
        out += chunk
    return out


def read_packet(sock):
    """Returns (seq of last chunk, logical payload)."""
    payload = b""
    while True:
        header = recv_exact(sock, 4)
        length = header[0] | header[1] << 8 | header[2] << 16
        seq = header[3]
        payload += recv_exact(sock, length)
        if length < 0xFFFFFF:
            return seq, payload


def write_packet(sock, seq, payload):
    sock.sendall(struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload)


def native_password(password, scramble):
    h1 = hashlib.sha1(password).digest()
    h2 = hashlib.sha1(h1).digest()
    h3 = hashlib.sha1(scramble + h2).digest()
    return bytes(a ^ b for a, b in zip(h1, h3))


def login(sock, caps):
    seq, hs = read_packet(sock)
    pos = 1
    pos = hs.index(b"\0", pos) + 1  # server version
    pos += 4  # connection id
    scramble = hs[pos : pos + 8]
    pos += 8 + 1 + 2 + 1 + 2 + 2
    auth_len = hs[pos]
    pos += 1 + 10
    part2 = max(13, auth_len - 8)
    scramble += hs[pos : pos + part2 - 1]
    response = struct.pack("<IIB", caps, 1 << 30, 45) + b"\0" * 23
    response += USER + b"\0"
    auth = native_password(PASSWORD, scramble)
    response += bytes([len(auth)]) + auth + b"mysql_native_password\0"
    write_packet(sock, seq + 1, response)
    _, answer = read_packet(sock)
    if answer[0] != 0:
        raise SystemExit("login failed: %r" % answer)


def drain_response(sock, caps):
    """Reads one complete response to COM_QUERY (OK, ERR or a resultset)."""
    seq, first = read_packet(sock)
    if first[0] in (0x00, 0xFF):
        return
    if first[0] == 0xFB:  # LOCAL INFILE request: refuse with an empty packet
        write_packet(sock, seq + 1, b"")
        read_packet(sock)
        return
    eofs_left = 1 if caps & CLIENT_DEPRECATE_EOF else 2
    while True:
        _, pkt = read_packet(sock)
        if pkt[0] == 0xFF:
            return
        if pkt[0] == 0xFE and len(pkt) < 0xFFFFFF:
            if caps & CLIENT_DEPRECATE_EOF or len(pkt) < 9:
                eofs_left -= 1
                if eofs_left == 0:
                    return


def main(argv):
    caps = (CLIENT_LONG_PASSWORD | CLIENT_LONG_FLAG | CLIENT_PROTOCOL_41
            | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION
            | CLIENT_MULTI_RESULTS | CLIENT_PLUGIN_AUTH)
    queries = []
    for arg in argv:
        if arg == "--deprecate-eof":
            caps |= CLIENT_DEPRECATE_EOF
        elif arg == "--local-files":
            caps |= CLIENT_LOCAL_FILES
        elif arg == "--session-track":
            caps |= CLIENT_SESSION_TRACK
        else:
            queries.append(arg.encode())
    sock = socket.create_connection((HOST, PORT))
    login(sock, caps)
    for q in queries:
        write_packet(sock, 0, b"\x03" + q)
        drain_response(sock, caps)
    write_packet(sock, 0, b"\x01")
    sock.close()


if __name__ == "__main__":
    main(sys.argv[1:])
