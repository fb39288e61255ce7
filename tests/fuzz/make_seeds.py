#!/usr/bin/env python3
"""make_seeds.py — seed corpora for the fuzzers, cut from real binlog files.

    tests/fuzz/make_seeds.py OUT_DIR [BINLOG_DIR_OR_FILE...]

Seeds are made at run time (no binaries in the repository). For every
binlog file given (default: ../shared/fixtures next to the project, plus the
local MariaDB's binlogs when TAPFLOW_MARIADB_DATADIR is set, first 4 MiB of
each), it writes to OUT_DIR/event/ inputs for fuzz_event:

  mode byte 0x01 (fix checksums) + the file's FORMAT_DESCRIPTION + one event,
  the same + a TABLE_MAP and the rows event that follows it,
  the FDE + the file's first events up to 64 KiB,

to OUT_DIR/value/ a few hand-made inputs for fuzz_value (type, meta,
flags, value bytes), and to OUT_DIR/expr/ filter conditions over fuzz_expr's
columns for fuzz_expr. Files that are not binlogs are skipped.
"""
import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
MAGIC = b"\xfebin"
MAX_EVENTS_PER_FILE = 300
MAX_SEED = 64 * 1024
ROWS_TYPES = {23, 24, 25, 30, 31, 32, 39, 166, 167, 168, 169, 170, 171}


def events(data):
    pos = 4
    while pos + 19 <= len(data):
        size = struct.unpack_from("<I", data, pos + 9)[0]
        if size < 19 or pos + size > len(data):
            return
        yield pos, data[pos:pos + size]
        pos += size


def write(out_dir, blob, written):
    digest = hashlib.sha1(blob).hexdigest()
    if digest in written:
        return
    written.add(digest)
    with open(os.path.join(out_dir, digest[:16]), "wb") as f:
        f.write(blob)


def seeds_from_file(path, out_dir, written, limit=None):
    with open(path, "rb") as f:
        data = f.read(limit) if limit else f.read()
    if not data.startswith(MAGIC):
        return 0
    evs = list(events(data))
    if not evs or evs[0][1][4] != 15:
        return 0
    fde = evs[0][1]
    count = 0
    prefix = b"\x01" + fde
    body = evs[1:MAX_EVENTS_PER_FILE]
    seen_types = {}
    for i, (_, ev) in enumerate(body):
        etype = ev[4]
        # Many events of one type in a big file add little: keep a few.
        seen_types[etype] = seen_types.get(etype, 0) + 1
        if seen_types[etype] <= 8 and len(prefix) + len(ev) <= MAX_SEED:
            write(out_dir, prefix + ev, written)
            count += 1
        if etype == 19:
            for _, nxt in body[i + 1:i + 3]:
                if nxt[4] in ROWS_TYPES and len(prefix) + len(ev) + len(nxt) <= MAX_SEED:
                    write(out_dir, prefix + ev + nxt, written)
                    count += 1
                    break
    run = prefix
    for _, ev in evs[1:]:
        if len(run) + len(ev) > MAX_SEED:
            break
        run += ev
    write(out_dir, run, written)
    return count + 1


VALUE_SEEDS = [
    # type, meta, flags, bytes
    (246, (10 << 8) | 2, 0, bytes.fromhex("80000001020c")),          # DECIMAL(10,2)
    (246, (65 << 8) | 30, 0, bytes.fromhex("7f") + b"\xff" * 28),     # DECIMAL(65,30)
    (18, 6, 0, bytes.fromhex("99b2d2b00c01e240")),                   # DATETIME(6)
    (17, 3, 0, bytes.fromhex("65e05a7003e8")),                       # TIMESTAMP(3)
    (19, 6, 0, bytes.fromhex("7ffffefffffe")),                       # TIME(6) negative
    (14, 0, 0, bytes.fromhex("21b50f")),                             # DATE
    (15, 255, 0, b"\x05hello"),                                      # VARCHAR(255)
    (252, 2, 2, b"\x03\x00abc"),                                     # BLOB
    (245, 4, 2, struct.pack("<I", 14) + bytes.fromhex("000100 0d000b000100 05 0100 61".replace(" ", ""))),
    (247, 1, 8, b"\x02"),                                            # ENUM
    (248, 1, 8, b"\x05"),                                            # SET
    (16, (1 << 8) | 1, 0, b"\x01\xff"),                              # BIT(9)
    (8, 0, 1, b"\xff" * 8),                                          # BIGINT UNSIGNED
    (4, 4, 0, struct.pack("<f", 3.14)),                              # FLOAT
    (5, 8, 0, struct.pack("<d", -2.5)),                              # DOUBLE
    (13, 0, 0, b"\x7c"),                                             # YEAR
    (255, 4, 2, struct.pack("<I", 25) + b"\x00" * 4 + bytes.fromhex("0101000000") + struct.pack("<dd", 1, 2)),
]


# Conditions over fuzz_expr.c's table: i INT, s VARCHAR, d DECIMAL,
# t DATETIME, day DATE, f DOUBLE, e ENUM('a','b'), tm TIME, j JSON, st SET.
EXPR_SEEDS = [
    "i = 1 AND s LIKE 'a%'",
    "d > -12.34 OR t >= '2018-01-01' AND NOT (day IS NULL)",
    "e IN ('a', 'b', NULL) AND st = 'a,b' AND tm < '-01:00:00' AND f",
    "j IS NOT NULL OR s NOT LIKE '%\\_%' OR i NOT IN (1, 2.5, 1e3)",
    "(i <> 2) = TRUE OR `s` == \"it''s\" OR t < day",
    "CONCAT(s, '/', i * 2 + d, day, tm, -f) = IF(e = 'a', st, 'x')",
    "CASE WHEN i % 3 = 0 THEN YEAR(t) WHEN i / 0 IS NULL THEN MONTH(day) ELSE HOUR(t) END > 1",
]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    sources = sys.argv[2:]
    limits = {}
    if not sources:
        fixtures = os.path.abspath(os.path.join(TOP, "..", "shared", "fixtures"))
        if os.path.isdir(fixtures):
            sources.append(fixtures)
        datadir = os.environ.get("TAPFLOW_MARIADB_DATADIR")
        if datadir and os.path.isdir(datadir):
            for name in sorted(os.listdir(datadir)):
                if ".0" in name and not name.endswith(".index"):
                    path = os.path.join(datadir, name)
                    sources.append(path)
                    limits[path] = 4 << 20
    files = []
    for src in sources:
        if os.path.isdir(src):
            for root, _, names in os.walk(src):
                files += [os.path.join(root, n) for n in sorted(names)]
        elif os.path.isfile(src):
            files.append(src)
    os.makedirs(os.path.join(out, "event"), exist_ok=True)
    os.makedirs(os.path.join(out, "value"), exist_ok=True)
    os.makedirs(os.path.join(out, "expr"), exist_ok=True)
    written = set()
    total = 0
    for path in files:
        try:
            total += seeds_from_file(path, os.path.join(out, "event"), written, limits.get(path))
        except OSError:
            continue
    for t, meta, flags, value in VALUE_SEEDS:
        write(os.path.join(out, "value"), bytes([t, meta & 255, meta >> 8, flags]) + value, written)
    for text in EXPR_SEEDS:
        write(os.path.join(out, "expr"), text.encode(), written)
    print(f"make_seeds: {total} event seeds from {len(files)} files, {len(VALUE_SEEDS)} value seeds in {out}")


if __name__ == "__main__":
    main()
