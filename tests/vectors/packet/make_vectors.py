#!/usr/bin/env python3
"""Writes the .hex / .sparse vectors of this folder from tshark captures.

usage: make_vectors.py MORE.pcap INFILE_STREAM BIGQ_STREAM ROWS.pcap ROWS_STREAM
   or: make_vectors.py CLI.pcap CLI_STREAM PY.pcap PY_DEPRECATE_STREAM
                       PY_CLASSIC_STREAM BIG.pcap BIG_DEPRECATE_STREAM
                       BIG_CLASSIC_STREAM ADMIN_STREAM(in CLI.pcap)
Each .hex file holds wire bytes (4-byte headers included), one physical packet
per line, '#' lines are comments. A .sparse file stands for a capture too big
for the repository: a `length N fill XX` line, then `@offset hex` lines; every
byte not listed equals the fill byte (checked here against the capture).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from extract import exchanges, packets  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def write_hex(name, comment, data):
    with open(os.path.join(HERE, name), "w") as f:
        for line in comment.strip().splitlines():
            f.write("# " + line + "\n")
        for p in packets(data):
            f.write(p.hex() + "\n")


def write_sparse(name, comment, data, fill=0x78):
    keep = [False] * len(data)
    def mark(a, b):
        for i in range(max(0, a), min(len(data), b)):
            keep[i] = True
    mark(0, 256)
    mark(len(data) - 256, len(data))
    pos = 0
    while pos + 4 <= len(data):
        n = data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16
        mark(pos - 16, pos + 4 + 32)
        pos += 4 + n
    assert pos == len(data)
    for i, k in enumerate(keep):
        if not k:
            assert data[i] == fill, "byte %d is not the fill byte" % i
    with open(os.path.join(HERE, name), "w") as f:
        for line in comment.strip().splitlines():
            f.write("# " + line + "\n")
        f.write("length %d fill %02x\n" % (len(data), fill))
        i = 0
        while i < len(data):
            if not keep[i]:
                i += 1
                continue
            j = i
            while j < len(data) and keep[j] and j - i < 64:
                j += 1
            f.write("@%d %s\n" % (i, data[i:j].hex()))
            i = j


def turns(pcap, stream):
    return [data for _, data in exchanges(pcap, stream)]


def main(argv):
    cli, cli_s, py, py_dep, py_cls, big, big_dep, big_cls, admin = argv
    t = turns(cli, int(cli_s))
    # t: 0 handshake, 1 response, 2 auth ok, 3/4 SELECT DATABASE(),
    # 5/6 INIT_DB, 7/8 INSERT, 9/10 SELECT, 11/12 ERR, 13 QUIT
    src = "mariadb CLI 10.11 (libmariadb 3.3.20), caps 0x00bfa284 + MariaDB ext 0x1d, tshark on lo"
    write_hex("cli_init_db.hex", src + "\nCOM_INIT_DB tf_packet (client -> server)", t[5])
    write_hex("cli_init_db_ok.hex", src + "\nOK to COM_INIT_DB with session state (schema) change", t[6])
    write_hex("cli_insert_query.hex", src + "\nCOM_QUERY INSERT of 3 rows with UTF-8 (client -> server)", t[7])
    write_hex("cli_insert_ok.hex", src + "\nOK: 3 rows affected, last insert id 1, info (lenenc, session track)", t[8])
    write_hex("cli_select_query.hex", src + "\nCOM_QUERY SELECT id, name, note, price, code FROM item ORDER BY id", t[9])
    write_hex("cli_select_eof.hex", src + "\ntext resultset, classic EOF, extended metadata, metadata-follows byte", t[10])
    write_hex("cli_err_no_such_table.hex", src + "\nERR 1146 (42S02) to SELECT * FROM no_such_table", t[12])
    write_hex("cli_quit.hex", src + "\nCOM_QUIT (client -> server)", t[13])
    a = turns(cli, int(admin))
    asrc = "mariadb-admin ping 10.11, tshark on lo"
    write_hex("admin_ping.hex", asrc + "\nCOM_PING (client -> server)", a[3])
    write_hex("admin_ping_ok.hex", asrc + "\nOK to COM_PING", a[4])

    psrc = "tests/vectors/packet/capture_client.py, caps %s, tshark on lo"
    dep = psrc % "0x010aa204 (CLIENT_DEPRECATE_EOF, no SESSION_TRACK)"
    cls = psrc % "0x000aa204 (classic EOF, no SESSION_TRACK)"
    t = turns(py, int(py_dep))
    write_hex("py_select_deprecate_eof.hex", dep + "\ntext resultset of tf_packet.item, ends with OK 0xfe", t[4])
    write_hex("py_update_ok.hex", dep + "\nOK to UPDATE: 1 row, info as lenenc string even without SESSION_TRACK", t[6])
    write_hex("py_many_columns_query.hex", dep + "\nCOM_QUERY SELECT of 41 literal columns", t[7])
    write_hex("py_many_columns_deprecate_eof.hex", dep + "\n41 columns: numbers, NULLs, empty strings, UTF-8", t[8])
    t = turns(py, int(py_cls))
    write_hex("py_select_eof.hex", cls + "\ntext resultset of tf_packet.item (after UPDATE), classic EOF", t[4])
    write_hex("py_many_columns_eof.hex", cls + "\n41 columns, classic EOF", t[6])
    write_hex("py_empty_result_eof.hex", cls + "\nresultset with no rows, classic EOF", t[12])

    t = turns(big, int(big_dep))
    write_sparse("py_big_17mib_deprecate_eof.sparse", dep + "\nSELECT REPEAT('x', 17*1024*1024): row split 0xffffff + 0x10000a", t[4])
    write_sparse("py_exact_16mib_deprecate_eof.sparse", dep + "\nSELECT REPEAT('x', 16777211): row payload exactly 0xffffff, then an empty packet", t[6])
    t = turns(big, int(big_cls))
    write_sparse("py_big_17mib_eof.sparse", cls + "\nSELECT REPEAT('x', 17*1024*1024): row split 0xffffff + 0x10000a", t[4])
    write_sparse("py_exact_16mib_eof.sparse", cls + "\nSELECT REPEAT('x', 16777211): row payload exactly 0xffffff, then an empty packet", t[6])


if __name__ == "__main__" and len(sys.argv) == 10:
    main(sys.argv[1:])


def main_more(more_pcap, infile_stream, bigq_stream, rows_pcap, rows_stream):
    """Second capture session: LOCAL INFILE, a 17 MiB query, 300 rows."""
    cls = "tests/vectors/packet/capture_client.py, caps %s, tshark on lo"
    t = turns(more_pcap, int(infile_stream))
    write_hex("py_local_infile_request.hex",
              cls % "0x000aa284 (CLIENT_LOCAL_FILES)" +
              "\nLOAD DATA LOCAL INFILE '/tmp/tapflow-packet-nope.csv': the server's 0xfb request", t[4])
    t = turns(more_pcap, int(bigq_stream))
    src = "mariadb CLI 10.11 --max-allowed-packet=1G < bigq.sql, caps 0x00bfa284 + ext 0x1d, tshark on lo"
    write_sparse("cli_big_query.sparse", src + "\nCOM_QUERY SELECT LENGTH('x' * 17 MiB) AS n: 0xffffff + 0x100018 bytes, seq 0 and 1", t[3])
    write_hex("cli_big_query_result.hex", src + "\nits resultset (first packet seq 2): n = 17825792", t[4])
    t = turns(rows_pcap, int(rows_stream))
    write_hex("py_300_rows_eof.hex", cls % "0x000aa204 (classic EOF)" +
              "\nSELECT seq FROM tf_packet.seq_1_to_300: 304 packets, sequence ids wrap 255 -> 0", t[4])


if __name__ == "__main__" and len(sys.argv) == 6:
    main_more(*sys.argv[1:])
