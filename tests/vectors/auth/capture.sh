#!/bin/sh
# capture.sh NAME CLIENT-COMMAND... — how the .hex files here were made.
# Captures loopback traffic to the local MariaDB (port 33061) while the
# command runs, then keeps the TCP stream the mariadb CLI opened (its
# connection attributes say program_name=mysql) or, for a refused
# connection, the stream whose first packet is an ERR, up to the auth verdict.
# Output: one line per TCP segment, "S <hex>" from the server, "C <hex>" from
# the client, each a whole packet with its 4-byte header.
set -eu
name=$1; shift
tmp=$(mktemp -d)
tshark -i lo -f "tcp port 33061" -w "$tmp/cap.pcap" >/dev/null 2>&1 &
tp=$!
sleep 3
"$@" || true
sleep 1
kill "$tp"; wait "$tp" 2>/dev/null || true
tshark -r "$tmp/cap.pcap" -T fields -e tcp.stream -e tcp.srcport -e tcp.payload |
python3 -c '
import sys, collections
streams = collections.OrderedDict()
for line in sys.stdin:
    f = line.rstrip("\n").split("\t")
    if len(f) < 3 or not f[2]:
        continue
    streams.setdefault(f[0], []).append(("S" if f[1] == "33061" else "C", f[2]))
marker = b"\x0cprogram_name\x05mysql".hex()
for packets in streams.values():
    server = [bytes.fromhex(h) for d, h in packets if d == "S"]
    refused = bool(server) and server[0][3] == 0 and server[0][4] == 0xff
    if not refused and not any(marker in h for _, h in packets):
        continue
    for d, h in packets:
        b = bytes.fromhex(h)
        if refused and d == "C":
            continue  # what the probe wrote; the server never read it
        print(d, h)
        if d == "S" and ((b[3] >= 2 and b[4] in (0, 0xff)) or (b[3] == 0 and b[4] == 0xff)):
            break
' > "$name.hex"
rm -rf "$tmp"
