#!/usr/bin/env python3
"""Captures row-image bytes of every column type from the local MariaDB.

For each case below it creates tf_values_test.t_<name> (id INT PRIMARY KEY,
c <type>), inserts one row per value (one statement each, so one
WRITE_ROWS event per row), reads the value bytes back out of the server's
binlog file (a plain 19-byte-header walk: TABLE_MAP gives the column's type
and metadata, WRITE_ROWS_V1 the row image) and records what
SELECT HEX(CONCAT(c)) returns for the same row (time_zone +00:00).
Writes tests/unit/value_vectors_mariadb.h. Run it again only to refresh the
vectors: the bytes in that header are the server's, not ours.
"""
import os, re, struct, subprocess, sys

CLI = ["mariadb", "--no-defaults", "-h127.0.0.1", "-P33061", "-utapflow",
       "-ptapflow-test", "--default-character-set=utf8mb4", "-N", "-B"]
DATA = "/work/main/.servers/mariadb/data"
OUT = os.path.join(os.path.dirname(__file__), "../../unit/value_vectors_mariadb.h")

ENUM300 = ",".join("'m%d'" % i for i in range(1, 301))
SET64 = ",".join("'s%d'" % i for i in range(64))
D65 = "99999999999999999999999999999999999.999999999999999999999999999999"
CASES = [
    ("tiny", "TINYINT", ["-128", "127", "0", "-1"]),
    ("tiny_u", "TINYINT UNSIGNED", ["255", "0", "128"]),
    ("short", "SMALLINT", ["-32768", "32767", "-2"]),
    ("short_u", "SMALLINT UNSIGNED", ["65535"]),
    ("int24", "MEDIUMINT", ["-8388608", "8388607", "-1"]),
    ("int24_u", "MEDIUMINT UNSIGNED", ["16777215"]),
    ("long", "INT", ["-2147483648", "2147483647", "0"]),
    ("long_u", "INT UNSIGNED", ["4294967295", "2147483648"]),
    ("longlong", "BIGINT", ["-9223372036854775808", "9223372036854775807", "-42"]),
    ("longlong_u", "BIGINT UNSIGNED", ["18446744073709551615", "9223372036854775808", "1"]),
    ("float", "FLOAT", ["1.5", "-3.25e10", "0", "3.4028234e38"]),
    ("double", "DOUBLE", ["3.141592653589793", "-1e300", "0", "2.2250738585072014e-308"]),
    ("year", "YEAR", ["1901", "2155", "0", "2024"]),
    ("dec65", "DECIMAL(65,30)", [D65, "-" + D65, "0.000000000000000000000000000001", "0",
                                  "12345678901234567890123456789012345.123456789012345678901234567890",
                                  "-1.5"]),
    ("dec10_2", "DECIMAL(10,2)", ["-123.45", "0.00", "99999999.99", "0.05"]),
    ("dec5_0", "DECIMAL(5,0)", ["-99999", "12", "0"]),
    ("dec20_20", "DECIMAL(20,20)", ["0.12345678901234567890", "-0.00000000000000000001"]),
    ("dec18_9", "DECIMAL(18,9)", ["-123456789.987654321", "1.000000001"]),
    ("date", "DATE", ["'2024-02-29'", "'0000-00-00'", "'9999-12-31'", "'1000-01-01'", "'2020-00-00'", "'1969-07-20'"]),
    ("datetime0", "DATETIME", ["'2024-01-02 03:04:05'", "'0000-00-00 00:00:00'", "'9999-12-31 23:59:59'", "'1969-12-31 23:59:59'"]),
] + [
    ("datetime%d" % n, "DATETIME(%d)" % n, ["'2024-01-02 03:04:05.123456'", "'1000-01-01 00:00:00.000001'", "'9999-12-31 23:59:59.999999'"])
    for n in range(1, 7)
] + [
    ("timestamp0", "TIMESTAMP NULL", ["'2024-01-02 03:04:05'", "'0000-00-00 00:00:00'", "'1970-01-01 00:00:01'", "'2038-01-19 03:14:07'"]),
] + [
    ("timestamp%d" % n, "TIMESTAMP(%d) NULL" % n, ["'2024-01-02 03:04:05.123456'", "'2038-01-19 03:14:07.999999'"])
    for n in (1, 2, 3, 4, 5, 6)
] + [
    ("time0", "TIME", ["'-838:59:59'", "'838:59:59'", "'00:00:00'", "'-00:00:01'", "'12:34:56'"]),
] + [
    ("time%d" % n, "TIME(%d)" % n, ["'-12:34:56.7'", "'-00:00:00.000001'", "'838:59:58.999999'", "'-838:59:58.999999'", "'01:02:03.456789'", "'-01:00:00'"])
    for n in range(1, 7)
] + [
    ("varchar10", "VARCHAR(10) CHARACTER SET utf8mb4", ["''", "'héllo'", "'日本語🎉'"]),
    ("varchar300", "VARCHAR(300) CHARACTER SET utf8mb4", ["'x'", "REPEAT('ü', 300)"]),
    ("varchar_latin1", "VARCHAR(20) CHARACTER SET latin1", ["'café €'"]),
    ("char10", "CHAR(10) CHARACTER SET utf8mb4", ["''", "'abc'", "'ñandú'"]),
    ("char100", "CHAR(100) CHARACTER SET utf8mb4", ["'long char'", "REPEAT('é', 100)"]),
    ("char_latin1", "CHAR(5) CHARACTER SET latin1", ["'café'"]),
    ("binary4", "BINARY(4)", ["x'00ff0001'", "x'61'"]),
    ("varbinary10", "VARBINARY(10)", ["x''", "x'deadbeef'"]),
    ("varbinary300", "VARBINARY(300)", ["REPEAT(x'ab', 300)"]),
    ("tinyblob", "TINYBLOB", ["x'00ff'"]),
    ("blob", "BLOB", ["x''", "REPEAT(x'5a', 300)"]),
    ("mediumblob", "MEDIUMBLOB", ["x'0102'"]),
    ("longblob", "LONGBLOB", ["x'03'"]),
    ("text", "TEXT CHARACTER SET utf8mb4", ["'ünïcödé'", "''"]),
    ("tinytext", "TINYTEXT CHARACTER SET utf8mb4", ["'t'"]),
    ("longtext", "LONGTEXT CHARACTER SET utf8mb4", ["'long'"]),
    ("bit1", "BIT(1)", ["b'1'", "b'0'"]),
    ("bit5", "BIT(5)", ["b'10101'"]),
    ("bit12", "BIT(12)", ["b'101010101010'"]),
    ("bit64", "BIT(64)", ["x'ffffffffffffffff'", "x'8000000000000001'", "0"]),
    ("enum3", "ENUM('a','bb','ccc')", ["'a'", "'ccc'", "''"]),
    ("enum300", "ENUM(%s)" % ENUM300, ["'m1'", "'m300'", "'m256'"]),
    ("set3", "SET('x','y','z')", ["'x,z'", "''", "'x,y,z'"]),
    ("set64", "SET(%s)" % SET64, ["'s0,s63'", "'s7,s8,s31,s32'"]),
    ("json", "JSON", ["'{\"a\": [1, 2.5, \"x\"], \"b\": null}'", "'[]'", "'\"s\"'"]),
    ("geometry", "GEOMETRY", ["ST_GeomFromText('POINT(1 2)')", "ST_GeomFromText('LINESTRING(0 0,1 1)', 4326)"]),
    ("point", "POINT", ["ST_GeomFromText('POINT(-1.5 3)')"]),
    ("nullable_int", "INT NULL", ["NULL", "7"]),
]


def sql(statements, db=None):
    args = CLI + ([db] if db else [])
    r = subprocess.run(args, input=statements, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("SQL failed: %s\n%s" % (r.stderr, statements[:500]))
    return r.stdout


def lenenc(b, p):
    x = b[p]
    if x < 0xfb:
        return x, p + 1
    if x == 0xfc:
        return struct.unpack_from("<H", b, p + 1)[0], p + 3
    if x == 0xfd:
        return int.from_bytes(b[p + 1:p + 4], "little"), p + 4
    return struct.unpack_from("<Q", b, p + 1)[0], p + 9


def column_meta(t, m, p):
    """Returns (real type, normalised meta, next p) for one column."""
    if t in (4, 5, 252, 255, 245, 242, 17, 18, 19):
        return t, m[p], p + 1
    if t in (15, 253):
        return t, struct.unpack_from("<H", m, p)[0], p + 2
    if t == 246:
        return t, m[p] << 8 | m[p + 1], p + 2
    if t == 16:
        return t, m[p] | m[p + 1] << 8, p + 2
    if t == 254:
        b0, b1 = m[p], m[p + 1]
        if (b0 & 0x30) != 0x30:
            real, length = b0 | 0x30, b1 | (((b0 & 0x30) ^ 0x30) << 4)
        else:
            real, length = b0, b1
        return real, length, p + 2
    return t, 0, p


def walk(path):
    data = open(path, "rb").read()
    assert data[:4] == b"\xfebin"
    pos, maps, rows = 4, {}, []
    while pos + 19 <= len(data):
        ts, typ, sid, size, logpos, flags = struct.unpack_from("<IBIIIH", data, pos)
        body = data[pos + 19:pos + size - 4]  # CRC32 trailer
        if typ == 19:
            tid = int.from_bytes(body[0:6], "little")
            p = 8
            dlen = body[p]; db = body[p + 1:p + 1 + dlen].decode(); p += dlen + 2
            tlen = body[p]; tb = body[p + 1:p + 1 + tlen].decode(); p += tlen + 2
            n, p = lenenc(body, p)
            types = body[p:p + n]; p += n
            mlen, p = lenenc(body, p)
            meta = body[p:p + mlen]
            cols, mp = [], 0
            for t in types:
                real, mm, mp = column_meta(t, meta, mp)
                cols.append((real, mm))
            maps[tid] = (db, tb, cols)
        elif typ in (23, 30):
            tid = int.from_bytes(body[0:6], "little")
            p = 8
            if typ == 30:
                extra = struct.unpack_from("<H", body, p)[0]; p += extra
            n, p = lenenc(body, p)
            p += (n + 7) // 8  # columns present
            db, tb, cols = maps[tid]
            if db == "tf_values_test" and n == 2:
                null_bits = body[p]; p += 1
                rid = struct.unpack_from("<i", body, p)[0]; p += 4
                value = body[p:] if not (null_bits & 2) else None
                rows.append((tb, rid, cols[1], value))
        pos += size
    return rows


def main():
    stmts = ["CREATE DATABASE IF NOT EXISTS tf_values_test;", "USE tf_values_test;"]
    for name, coldef, _ in CASES:
        stmts.append("DROP TABLE IF EXISTS t_%s;" % name)
        stmts.append("CREATE TABLE t_%s (id INT PRIMARY KEY, c %s) DEFAULT CHARSET=utf8mb4;" % (name, coldef))
    sql("\n".join(stmts))
    sql("FLUSH BINARY LOGS;")
    binlog = sql("SHOW MASTER STATUS;").split("\t")[0]
    ins = ["SET time_zone='+00:00';", "SET sql_mode='';", "USE tf_values_test;"]
    for name, _, values in CASES:
        for i, v in enumerate(values, 1):
            ins.append("INSERT INTO t_%s VALUES (%d, %s);" % (name, i, v))
    sql("\n".join(ins))
    sql("FLUSH BINARY LOGS;")
    rows = walk(os.path.join(DATA, binlog))

    info = {}
    for line in sql("SELECT TABLE_NAME, COLUMN_TYPE, IFNULL(COLLATION_NAME,''), DATA_TYPE "
                    "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA='tf_values_test' "
                    "AND COLUMN_NAME='c';").splitlines():
        tb, ctype, coll, dtype = line.split("\t")
        info[tb] = (ctype, coll, dtype)
    coll_ids = dict((l.split("\t")[1], int(l.split("\t")[0])) for l in
                    sql("SELECT ID, COLLATION_NAME FROM information_schema.COLLATIONS WHERE ID IS NOT NULL;").splitlines())
    selects = {}
    for name, _, _ in CASES:
        out = sql("SET time_zone='+00:00'; SELECT id, IFNULL(HEX(CONCAT(c)), 'NULL') FROM t_%s ORDER BY id;" % name,
                  "tf_values_test")
        for line in out.splitlines():
            rid, hx = line.split("\t")
            selects[("t_" + name, int(rid))] = hx

    case_sql = dict(("t_" + n, (d, vals)) for n, d, vals in CASES)
    lines = [
        "/* value_vectors_mariadb.h — GENERATED by tests/vectors/values/capture_mariadb_values.py",
        " * from MariaDB 10.11's binlog (%s, binlog_row_metadata=FULL): each entry is" % binlog,
        " * the bytes of column c in the WRITE_ROWS_V1 row image of",
        " *   CREATE TABLE tf_values_test.<table> (id INT PRIMARY KEY, c <sql_type>);",
        " *   SET time_zone='+00:00', sql_mode=''; INSERT INTO <table> VALUES (<id>, <sql_value>);",
        " * with the column's type and metadata from the TABLE_MAP before it, and",
        " * select_hex = SELECT HEX(CONCAT(c)) of the same row (\"NULL\" for NULL). */",
        "",
        "typedef struct mariadb_value_vector {",
        "    const char *table;",
        "    const char *sql_type;",
        "    const char *sql_value;",
        "    int id;",
        "    uint8_t type;",
        "    uint16_t meta;",
        "    bool is_unsigned;",
        "    uint16_t charset;",
        "    const char *members; /* ENUM/SET members, comma-separated */",
        "    const char *hex;     /* NULL for a NULL value */",
        "    const char *select_hex;",
        "} mariadb_value_vector;",
        "",
        "static const mariadb_value_vector mariadb_value_vectors[] = {",
    ]
    def cstr(s):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    for tb, rid, (typ, meta), value in rows:
        ctype, coll, dtype = info[tb[2:]] if tb[2:] in info else info[tb]
        coldef, vals = case_sql[tb]
        charset = coll_ids.get(coll, 0)
        if not coll and dtype in ("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "geometry", "point"):
            charset = 63
        members = ""
        m = re.match(r"(enum|set)\((.*)\)$", ctype)
        if m:
            members = ",".join(x.strip("'") for x in m.group(2).split(","))
        sval = vals[rid - 1]
        if len(sval) > 120:
            sval = sval[:117] + "..."
        if len(coldef) > 80:
            coldef = coldef[:77] + "..."
        lines.append("    {%s, %s, %s, %d, %d, 0x%04x, %s, %d, %s, %s, %s}," % (
            cstr(tb), cstr(coldef), cstr(sval), rid, typ, meta,
            "true" if "unsigned" in ctype else "false", charset, cstr(members),
            cstr(value.hex()) if value is not None else "NULL",
            cstr(selects[(tb, rid)])))
    lines.append("};")
    open(OUT, "w").write("\n".join(lines) + "\n")
    print("wrote %d vectors from %s to %s" % (len(rows), binlog, OUT))


if __name__ == "__main__":
    main()
