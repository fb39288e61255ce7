#!/usr/bin/env python3
"""Splits a tshark capture of MySQL traffic into exchanges, for test vectors.

usage: extract.py CAPTURE.pcap [--stream N] [--dump]
  without --stream: lists each TCP stream with its first client queries;
  with --stream N: prints every exchange (client command, then the server's
  whole response) as wire-byte hex, headers included, exactly as captured.
"""
import subprocess
import sys

PORT = 33061


def segments(pcap):
    out = subprocess.run(
        ["tshark", "-r", pcap, "-2", "-Y", "tcp.len > 0 && !tcp.analysis.retransmission && !tcp.analysis.out_of_order", "-T", "fields",
         "-e", "tcp.stream", "-e", "tcp.srcport", "-e", "tcp.payload"],
        check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        stream, srcport, payload = line.split("\t")
        yield int(stream), int(srcport) == PORT, bytes.fromhex(payload.replace(":", ""))


def packets(data):
    """Splits wire bytes into physical packets (header + payload)."""
    pos = 0
    while pos + 4 <= len(data):
        n = data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16
        yield data[pos:pos + 4 + n]
        pos += 4 + n


def exchanges(pcap, want):
    """Yields (client_bytes, server_bytes) per turn of one stream."""
    turns = []
    last = None
    for stream, from_server, payload in segments(pcap):
        if stream != want:
            continue
        if from_server != last:
            turns.append([from_server, b""])
            last = from_server
        turns[-1][1] += payload
    return turns


def main(argv):
    pcap = argv[0]
    if "--stream" not in argv:
        seen = {}
        for stream, from_server, payload in segments(pcap):
            if not from_server and payload[4:5] in (b"\x03", b"\x02", b"\x0e"):
                seen.setdefault(stream, []).append(payload[4:80])
        for stream, cmds in seen.items():
            print(stream, cmds[:6])
        return
    want = int(argv[argv.index("--stream") + 1])
    for from_server, data in exchanges(pcap, want):
        who = "S" if from_server else "C"
        print("%s %d bytes, %d packets" % (who, len(data), len(list(packets(data)))))
        if "--dump" in argv:
            for p in packets(data):
                print("   ", p.hex() if len(p) < 400 else p[:200].hex() + "...")


if __name__ == "__main__":
    main(sys.argv[1:])
