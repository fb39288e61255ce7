#!/usr/bin/env python3
"""differential.py — tapflow-binlog's decoded rows against what SELECT returns.

    tests/integration/differential.py [--tool PATH] [--keep] [-v]

Writes rows of every column type with edge values to the local MariaDB
(tools/servers.sh env: TAPFLOW_MARIADB_HOST/PORT/USER/PASSWORD/DATADIR), in
its own database tf_diff_test (dropped and recreated on every run), then
decodes the binlog range those writes produced (SHOW MASTER STATUS before
and after; other sessions' events inside the range are ignored by database)
with tapflow-binlog and compares every column of every row image with the
server's own answer:

  stage 1  INSERT rows (multi-row and single-row statements)  -> snapshot S1
  stage 2  UPDATE some rows (new edge values, value <-> NULL)  -> snapshot S2
  stage 3  DELETE some rows
  checks   insert after-images == S1, update before == S1 and after == S2,
           delete before-images == S2; and the number of row changes per
           table and operation is exactly what was written.

One check is one column of one row image. Prints "N passed, N failed" and
exits non-zero on any failure (or when the tool fails or a server is down).

Comparison rules, type by type. The server side is a SELECT expression that
gives exact text; the decoded side is the relaxed Extended JSON value that
tapflow-binlog prints under the DESIGN.md type mapping:

  integers     CAST(c AS CHAR) vs a JSON number, {"$numberLong"} or (BIGINT
               UNSIGNED above 2^63-1) {"$numberDecimal"}: equal as integers.
  BIT(n)       CAST(c AS UNSIGNED) vs int64: equal modulo 2^64 (BIT(64)
               values >= 2^63 are stored as negative int64 by the mapping).
  YEAR         CAST(c AS UNSIGNED) vs a number (0 for the zero year).
  DECIMAL      CAST(c AS CHAR) vs {"$numberDecimal"} (or a string when a
               value needs more than Decimal128's 34 digits): equal as exact
               decimals (Python's decimal with 100 digits of precision).
  FLOAT        CAST(c AS DOUBLE) (the float32 widened exactly) vs the JSON
               number: equal as doubles.
  DOUBLE       c (MariaDB prints 17 significant digits) vs the JSON number:
               equal as doubles.
  DATE         DATE_FORMAT(c, '%Y-%m-%d') vs {"$date"}: the date's UTC
               midnight in ms. Zero dates (year, month or day 0) cannot be
               BSON dates (tapflow writes null): tapflow-binlog shows the
               string the server prints, and that string is compared.
  DATETIME(n)  DATE_FORMAT(c, '%Y-%m-%d %H:%i:%s.%f') vs {"$date"} read as
               UTC. BSON dates hold milliseconds, so the expected value is
               truncated to ms; the microsecond digits are checked by TIME.
               Zero datetimes: as DATE.
  TIMESTAMP(n) UNIX_TIMESTAMP(c) (time-zone free) vs {"$date"}: epoch ms,
               truncated like DATETIME; the zero timestamp (UNIX_TIMESTAMP 0)
               must be the string '0000-00-00 00:00:00[.000]'.
  TIME(n)      CAST(c AS CHAR) ('-838:59:59.000000') vs a string: equal as a
               signed number of microseconds (formatting may differ in the
               number of fraction digits).
  CHAR/VARCHAR/TEXT/ENUM, MariaDB JSON (a LONGTEXT)
               HEX(CONVERT(c USING utf8mb4)) vs a string: equal UTF-8 bytes.
               (JSON may also come back parsed: then equal as JSON values.)
  SET          HEX(c) vs an array of strings joined with ','.
  BINARY/VARBINARY/BLOB/GEOMETRY
               HEX(c) vs {"$binary"}: equal bytes (GEOMETRY: SRID + WKB).
  NULL         SQL NULL vs JSON null, for every type.

DATE, DATETIME, TIMESTAMP, TIME and DECIMAL columns are checked a second
time as text: CAST(c AS CHAR) in a session with time_zone '+00:00' against
tapflow-binlog --text-values (the text protocol's form), byte for byte, so
microseconds and the declared scale are compared exactly too.
"""
import argparse
import base64
import datetime
import decimal
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
DB = "tf_diff_test"
decimal.getcontext().prec = 100

# ---------------------------------------------------------------------------
# The tables: (column name, SQL type, comparison rule, [SQL value
# expressions]). Row 0 of every table is all NULL; row i >= 1 takes value
# (i - 1) % len(values) of each column, so every edge value appears.

INT_COLUMNS = [
    ("tiny_s", "TINYINT", "int", ["-128", "127", "0", "-1", "1"]),
    ("tiny_u", "TINYINT UNSIGNED", "int", ["0", "255", "1", "128"]),
    ("small_s", "SMALLINT", "int", ["-32768", "32767", "0", "-1"]),
    ("small_u", "SMALLINT UNSIGNED", "int", ["0", "65535", "32768"]),
    ("medium_s", "MEDIUMINT", "int", ["-8388608", "8388607", "0", "-1", "-65536"]),
    ("medium_u", "MEDIUMINT UNSIGNED", "int", ["0", "16777215", "8388608"]),
    ("int_s", "INT", "int", ["-2147483648", "2147483647", "0", "-1"]),
    ("int_u", "INT UNSIGNED", "int", ["0", "4294967295", "2147483648"]),
    ("big_s", "BIGINT", "int", ["-9223372036854775808", "9223372036854775807", "0", "-1"]),
    ("big_u", "BIGINT UNSIGNED", "int",
     ["0", "18446744073709551615", "9223372036854775808", "9223372036854775807"]),
    ("bool_c", "BOOLEAN", "int", ["0", "1"]),
    ("bit1", "BIT(1)", "bit", ["b'0'", "b'1'"]),
    ("bit8", "BIT(8)", "bit", ["0", "255", "b'10101010'"]),
    ("bit17", "BIT(17)", "bit", ["0", "131071", "65537"]),
    ("bit64", "BIT(64)", "bit", ["0", "18446744073709551615", "9223372036854775808", "1"]),
    ("year_c", "YEAR", "year", ["0", "1901", "2155", "2024"]),
]

NUM_COLUMNS = [
    ("dec65_0", "DECIMAL(65,0)", "decimal",
     ["9" * 65, "-" + "9" * 65, "0", "1", "-12345678901234567890123456789012345678901234567890123456789012345"]),
    ("dec65_30", "DECIMAL(65,30)", "decimal",
     ["9" * 35 + "." + "9" * 30, "-0." + "0" * 29 + "1", "0", "-" + "1" * 35 + "." + "2" * 30,
      "12345.678901234567890123456789012345"]),
    ("dec38_10", "DECIMAL(38,10)", "decimal",
     ["1234567890123456789012345678.0123456789", "-0.0000000001", "0"]),
    ("dec10_2", "DECIMAL(10,2)", "decimal", ["-12345678.90", "99999999.99", "0.01", "-0.01", "0"]),
    ("dec5_5", "DECIMAL(5,5)", "decimal", ["0.99999", "-0.00001", "0"]),
    ("dec_u", "DECIMAL(20,6) UNSIGNED", "decimal", ["12345678901234.123456", "0", "0.000001"]),
    ("dec4_0", "DECIMAL(4,0)", "decimal", ["-9999", "9999", "7"]),
    ("float_c", "FLOAT", "float", ["3.14", "-1.5", "0", "3.4028234e38", "-1.17549435e-38", "1e-10"]),
    ("double_c", "DOUBLE", "double",
     ["1.7976931348623157e308", "-2.2250738585072014e-308", "0", "0.1", "-123456.789", "4.9e-324"]),
]


def _fsp_values(fmt_values, n):
    """Cuts the fraction of each 'YYYY... .ffffff' literal to n digits."""
    out = []
    for v in fmt_values:
        m = re.match(r"^'(-?[^.']*)(?:\.(\d+))?'$", v)
        whole, frac = m.group(1), m.group(2) or ""
        out.append(f"'{whole}.{frac[:n]}'" if n and frac else f"'{whole}'")
    return out


DATETIME_BASE = ["'0000-00-00 00:00:00'", "'1000-01-01 00:00:00.000001'", "'9999-12-31 23:59:59.999999'",
                 "'1970-01-01 00:00:00'", "'2024-02-29 12:34:56.123456'", "'1969-12-31 23:59:59.999999'"]
TIMESTAMP_BASE = ["'1970-01-01 00:00:01'", "'2038-01-19 03:14:07.999999'", "'0000-00-00 00:00:00'",
                  "'2024-02-29 12:34:56.654321'", "'2001-09-09 01:46:40.000500'"]
TIME_BASE = ["'-838:59:59'", "'838:59:59'", "'00:00:00'", "'-00:00:01.500000'", "'12:34:56.123456'",
             "'-00:00:00.000001'", "'100:00:00.999999'"]

TIME_COLUMNS = [("d", "DATE", "date",
                 ["'0000-00-00'", "'1000-01-01'", "'9999-12-31'", "'1970-01-01'", "'2024-02-29'",
                  "'1969-12-31'", "'2024-00-00'"])]
for n in range(7):
    TIME_COLUMNS.append((f"dt{n}", f"DATETIME({n})", "datetime", _fsp_values(DATETIME_BASE, n)))
for n in range(7):
    TIME_COLUMNS.append((f"ts{n}", f"TIMESTAMP({n}) NULL DEFAULT NULL", "timestamp",
                         _fsp_values(TIMESTAMP_BASE, n)))
for n in range(7):
    vals = _fsp_values(TIME_BASE, n)
    if n == 0:  # '-00:00:00' is plain zero without a fraction
        vals = [v for v in vals if v != "'-00:00:00'"]
    TIME_COLUMNS.append((f"t{n}", f"TIME({n})", "time", vals))

ENUM_BIG = ",".join(f"'v{i}'" for i in range(300))
SET_BIG = ",".join(f"'m{i}'" for i in range(64))
STR_COLUMNS = [
    ("c_char", "CHAR(10)", "text", ["''", "'a'", "'héllo'", "'" + "😀" * 10 + "'", "' lead'"]),
    ("c_varchar", "VARCHAR(255)", "text",
     ["''", "REPEAT('x', 255)", "'日本語テキスト'", "'emoji 😀🎉 𝄞'", "'tab\\tnewline\\nquote''\"back\\\\slash'",
      "'trailing spaces   '"]),
    ("c_varchar_long", "VARCHAR(1000)", "text", ["REPEAT('ü', 1000)", "'short'", "''"]),
    ("c_latin1", "VARCHAR(20) CHARACTER SET latin1", "text", ["'café'", "''", "'ÿ plain'"]),
    ("c_binary_cs", "VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin", "text", ["'Ab'", "'ß'"]),
    ("c_tinytext", "TINYTEXT", "text", ["''", "REPEAT('t', 255)", "'😀'"]),
    ("c_text", "TEXT", "text", ["''", "REPEAT('y', 65535)", "'text ✓'"]),
    ("c_mediumtext", "MEDIUMTEXT", "text", ["REPEAT('z', 65536)", "''", "CONCAT(REPEAT('é', 40000), '😀')"]),
    ("c_longtext", "LONGTEXT", "text", ["CONCAT(REPEAT('L', 70000), '🎉')", "''"]),
    ("c_json", "JSON", "json",
     ["'{\"a\": [1, 2, {\"b\": null, \"c\": \"ü\"}], \"d\": 1.5e10, \"e\": true, \"f\": {\"g\": {\"h\": [[]]}}}'",
      "'[]'", "'{}'", "'\"str\"'", "'[[[[[[1]]]]]]'", "'null'", "'-0.5'"]),
    ("c_enum", "ENUM('a','b','ü','😀','with space')", "text", ["'a'", "'ü'", "'😀'", "'with space'", "'b'"]),
    ("c_enum_big", f"ENUM({ENUM_BIG})", "text", ["'v0'", "'v299'", "'v255'", "'v256'"]),
    ("c_set", "SET('a','b','c','ü')", "set", ["''", "'a'", "'a,b,c,ü'", "'b,ü'"]),
    ("c_set_big", f"SET({SET_BIG})", "set",
     ["'m0'", "'m63'", "'" + ",".join(f"m{i}" for i in range(64)) + "'", "'m7,m8,m31,m32'"]),
    ("c_binary", "BINARY(8)", "binary", ["x'00'", "x'0102030405060708'", "''", "x'FF'", "x'2020'"]),
    ("c_varbinary", "VARBINARY(300)", "binary", ["x''", "x'00ff00'", "REPEAT(x'AB', 300)"]),
    ("c_tinyblob", "TINYBLOB", "binary", ["x''", "REPEAT(x'00', 255)", "x'C3'"]),
    ("c_blob", "BLOB", "binary", ["REPEAT(x'5A', 65535)", "x''", "x'00010203'"]),
    ("c_mediumblob", "MEDIUMBLOB", "binary", ["REPEAT(x'FE', 65537)", "x'01'"]),
    ("c_longblob", "LONGBLOB", "binary", ["REPEAT(x'7F', 70000)", "x''"]),
    ("c_geom", "GEOMETRY", "binary",
     ["ST_GeomFromText('POINT(1 2)')", "ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))', 4326)",
      "ST_GeomFromText('LINESTRING(-1.5 2.25, 3 4)')"]),
    ("c_point", "POINT", "binary", ["ST_GeomFromText('POINT(-180 90)')", "POINT(0.1, 0.2)"]),
]

TABLES = [("t_int", INT_COLUMNS), ("t_num", NUM_COLUMNS), ("t_time", TIME_COLUMNS), ("t_str", STR_COLUMNS)]
# Columns whose exact text is also compared with tapflow-binlog
# --text-values (tf_value_to_text): the microseconds a BSON date drops, the
# full scale of DECIMALs.
TEXT_RULES = {"date", "datetime", "timestamp", "time", "decimal"}
ROWS = 9          # ids 1..9; id 1 is all NULL
UPDATED = [1, 2, 4, 6, 8]   # id 1 goes NULL -> values, id 2 values -> NULL
DELETED = [3, 6, 9]


def select_expr(col, rule):
    return {
        "int": f"CAST(`{col}` AS CHAR)",
        "bit": f"CAST(`{col}` AS UNSIGNED)",
        "year": f"CAST(`{col}` AS UNSIGNED)",
        "decimal": f"CAST(`{col}` AS CHAR)",
        "float": f"CAST(`{col}` AS DOUBLE)",
        "double": f"`{col}`",
        "date": f"DATE_FORMAT(`{col}`, '%Y-%m-%d')",
        "datetime": f"DATE_FORMAT(`{col}`, '%Y-%m-%d %H:%i:%s.%f')",
        "timestamp": f"UNIX_TIMESTAMP(`{col}`)",
        "time": f"CAST(`{col}` AS CHAR)",
        "text": f"HEX(CONVERT(`{col}` USING utf8mb4))",
        "json": f"HEX(CONVERT(`{col}` USING utf8mb4))",
        "set": f"HEX(CONVERT(`{col}` USING utf8mb4))",
        "binary": f"HEX(`{col}`)",
    }[rule]


def row_values(columns, row_id, shift=0):
    """SQL expressions of row row_id (shift picks other edge values)."""
    if row_id == 1 and shift == 0:
        return ["NULL"] * len(columns)
    k = row_id - 2 + shift
    return [vals[k % len(vals)] for (_, _, _, vals) in columns]


# ---------------------------------------------------------------------------
# Server access through the mariadb client.

def server_env():
    out = subprocess.run([os.path.join(TOP, "tools", "servers.sh"), "env"],
                         check=True, capture_output=True, text=True).stdout
    env = dict(re.findall(r"export (\w+)=(.*)", out))
    return {k: os.environ.get(k, v) for k, v in env.items()}


class Server:
    def __init__(self, env):
        self.env = env

    def run(self, statements, database=None):
        cmd = ["mariadb", "--no-defaults", "--batch", "--raw", "--skip-column-names",
               "--default-character-set=utf8mb4",
               "-h", self.env["TAPFLOW_MARIADB_HOST"], "-P", self.env["TAPFLOW_MARIADB_PORT"],
               "-u", self.env["TAPFLOW_MARIADB_USER"], f"-p{self.env['TAPFLOW_MARIADB_PASSWORD']}"]
        if database:
            cmd.append(database)
        res = subprocess.run(cmd, input=statements.encode("utf-8"), capture_output=True)
        if res.returncode != 0:
            raise SystemExit(f"differential: SQL failed: {res.stderr.decode(errors='replace').strip()}\n"
                             f"statements: {statements[:500]}")
        return res.stdout.decode("utf-8")

    def master_status(self):
        file, pos = self.run("SHOW MASTER STATUS").split("\t")[:2]
        return file, int(pos)

    def binlogs(self):
        return [line.split("\t")[0] for line in self.run("SHOW BINARY LOGS").splitlines()]

    def snapshot(self, table, columns):
        """{id: [typed-rule text per column] + [exact text per TEXT_RULES column]}"""
        exprs = [select_expr(c, rule) for (c, _, rule, _) in columns]
        exprs += [f"CAST(`{c}` AS CHAR)" for (c, _, rule, _) in columns if rule in TEXT_RULES]
        out = self.run(f"SET time_zone = '+00:00'; SELECT id, {', '.join(exprs)} FROM `{table}` ORDER BY id", DB)
        rows = {}
        for line in out.splitlines():
            fields = line.split("\t")
            rows[int(fields[0])] = [None if f == "NULL" else f for f in fields[1:]]
        return rows


# ---------------------------------------------------------------------------
# Decoded values -> comparable Python values.

class Mismatch(Exception):
    pass


EPOCH = datetime.datetime(1970, 1, 1)


def ejson_int(v):
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, dict):
        for key in ("$numberLong", "$numberInt"):
            if key in v:
                return int(v[key])
        if "$numberDecimal" in v:
            d = decimal.Decimal(v["$numberDecimal"])
            if d != d.to_integral_value():
                raise Mismatch(f"not an integer: {v}")
            return int(d)
    raise Mismatch(f"expected an integer, got {json.dumps(v)}")


def ejson_decimal(v):
    if isinstance(v, dict) and "$numberDecimal" in v:
        return decimal.Decimal(v["$numberDecimal"])
    if isinstance(v, str):
        return decimal.Decimal(v)
    if isinstance(v, int) and not isinstance(v, bool):
        return decimal.Decimal(v)
    raise Mismatch(f"expected a decimal, got {json.dumps(v)[:200]}")


def ejson_double(v):
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, dict) and "$numberDouble" in v:
        return float(v["$numberDouble"])
    raise Mismatch(f"expected a double, got {json.dumps(v)}")


def ejson_date_ms(v):
    if isinstance(v, dict) and "$date" in v:
        d = v["$date"]
        if isinstance(d, dict) and "$numberLong" in d:
            return int(d["$numberLong"])
        if isinstance(d, int):
            return d
        if isinstance(d, str):
            m = re.match(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,3}))?Z$", d)
            if m:
                dt = datetime.datetime(*map(int, m.groups()[:6]))
                ms = int((m.group(7) or "0").ljust(3, "0"))
                delta = dt - EPOCH
                return (delta.days * 86400 + delta.seconds) * 1000 + ms
    raise Mismatch(f"expected a date, got {json.dumps(v)}")


def datetime_text_ms(text):
    """'YYYY-MM-DD[ HH:MM:SS[.ffffff]]' as UTC -> epoch ms (truncated)."""
    m = re.match(r"^(\d{4})-(\d\d)-(\d\d)(?: (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?)?$", text)
    y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    h, mi, s = (int(m.group(i) or 0) for i in (4, 5, 6))
    micro = int((m.group(7) or "0").ljust(6, "0"))
    days = (datetime.date(y, mo, d) - datetime.date(1970, 1, 1)).days
    total_us = ((days * 24 + h) * 60 + mi) * 60 * 1_000_000 + s * 1_000_000 + micro
    return total_us // 1000


def time_text_us(text):
    m = re.match(r"^(-)?(\d+):(\d\d):(\d\d)(?:\.(\d{1,6}))?$", text)
    if not m:
        raise Mismatch(f"not a TIME string: {text!r}")
    us = ((int(m.group(2)) * 60 + int(m.group(3))) * 60 + int(m.group(4))) * 1_000_000
    us += int((m.group(5) or "0").ljust(6, "0"))
    return -us if m.group(1) else us


def ejson_bytes(v):
    if isinstance(v, dict) and "$binary" in v:
        b = v["$binary"]
        if isinstance(b, dict):
            return base64.b64decode(b["base64"])
        return base64.b64decode(b)
    raise Mismatch(f"expected binary, got {json.dumps(v)[:200]}")


def is_zero_date(text):
    return re.match(r"^0000-|^\d{4}-00-|^\d{4}-\d\d-00", text) is not None


def short(x, n=120):
    s = x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)
    return s if len(s) <= n else s[:n] + f"... ({len(s)} chars)"


def compare(rule, expected, decoded):
    """Raises Mismatch unless the decoded JSON value equals the server text."""
    if expected is None:
        if decoded is not None:
            raise Mismatch(f"expected NULL, got {short(decoded)}")
        return
    if decoded is None:
        raise Mismatch(f"expected {short(expected)}, got null")
    if rule == "int":
        ok = ejson_int(decoded) == int(expected)
    elif rule == "bit":
        ok = ejson_int(decoded) % (1 << 64) == int(expected)
    elif rule == "year":
        ok = ejson_int(decoded) == int(expected)
    elif rule == "decimal":
        ok = ejson_decimal(decoded) == decimal.Decimal(expected)
    elif rule in ("float", "double"):
        ok = ejson_double(decoded) == float(expected)
    elif rule in ("date", "datetime"):
        if is_zero_date(expected):
            if not isinstance(decoded, str):
                raise Mismatch(f"zero date {expected!r} must be a string, got {short(decoded)}")
            # The server prints the fraction with 6 digits; compare the digits
            # the decoder wrote and require the rest to be zeros.
            ok = expected.startswith(decoded) and set(expected[len(decoded):]) <= set("0.")
        else:
            ok = ejson_date_ms(decoded) == datetime_text_ms(expected)
    elif rule == "timestamp":
        secs = decimal.Decimal(expected)
        if secs == 0:
            # UNIX_TIMESTAMP() of the zero timestamp (1970-01-01 00:00:00 UTC
            # itself is not a valid TIMESTAMP): shown as the zero string.
            if not (isinstance(decoded, str) and decoded.startswith("0000-00-00 00:00:00")):
                raise Mismatch(f"zero timestamp must be the string '0000-00-00 00:00:00', got {short(decoded)}")
            return
        ok = ejson_date_ms(decoded) == int((secs * 1000).to_integral_value(rounding=decimal.ROUND_FLOOR))
    elif rule == "time":
        if not isinstance(decoded, str):
            raise Mismatch(f"expected a TIME string, got {short(decoded)}")
        ok = time_text_us(decoded) == time_text_us(expected)
    elif rule == "text":
        if not isinstance(decoded, str):
            raise Mismatch(f"expected a string, got {short(decoded)}")
        ok = decoded.encode("utf-8") == bytes.fromhex(expected)
    elif rule == "json":
        text = bytes.fromhex(expected).decode("utf-8")
        if isinstance(decoded, str):
            ok = decoded == text
        else:
            ok = decoded == json.loads(text)
    elif rule == "set":
        if not isinstance(decoded, list):
            raise Mismatch(f"expected an array of strings, got {short(decoded)}")
        ok = ",".join(decoded).encode("utf-8") == bytes.fromhex(expected)
    elif rule == "binary":
        ok = ejson_bytes(decoded) == bytes.fromhex(expected)
    else:
        raise AssertionError(rule)
    if not ok:
        raise Mismatch(f"expected {short(expected)}, got {short(decoded)}")


# ---------------------------------------------------------------------------

def find_tool(explicit):
    if explicit:
        return explicit
    if os.environ.get("TAPFLOW_BINLOG"):
        return os.environ["TAPFLOW_BINLOG"]
    for build in ("build", "build-tool", "build-bench"):
        path = os.path.join(TOP, build, "tools", "tapflow-binlog", "tapflow-binlog")
        if os.path.exists(path):
            return path
    raise SystemExit("differential: tapflow-binlog not built (pass --tool PATH or set TAPFLOW_BINLOG)")


def write_rows(server):
    server.run(f"DROP DATABASE IF EXISTS {DB}; CREATE DATABASE {DB} CHARACTER SET utf8mb4;")
    for table, columns in TABLES:
        cols = ",\n  ".join(f"`{c}` {t}" for (c, t, _, _) in columns)
        server.run(f"CREATE TABLE `{table}` (\n  id INT PRIMARY KEY,\n  {cols}\n) ENGINE=InnoDB", DB)

    start = server.master_status()
    session = "SET time_zone = '+00:00'; SET sql_mode = 'NO_ENGINE_SUBSTITUTION';\n"
    for table, columns in TABLES:
        names = ", ".join(f"`{c}`" for (c, _, _, _) in columns)
        # Rows 1..4 in one multi-row statement (several rows per event), the
        # rest one statement each, all in one transaction.
        multi = ",\n".join(f"({i}, {', '.join(row_values(columns, i))})" for i in range(1, 5))
        single = "".join(f"INSERT INTO `{table}` (id, {names}) VALUES ({i}, {', '.join(row_values(columns, i))});\n"
                         for i in range(5, ROWS + 1))
        server.run(session + f"BEGIN;\nINSERT INTO `{table}` (id, {names}) VALUES\n{multi};\n{single}COMMIT;", DB)
    s1 = {table: server.snapshot(table, columns) for table, columns in TABLES}

    for table, columns in TABLES:
        stmts = []
        for i in UPDATED:
            if i == 2:
                vals = ["NULL"] * len(columns)
            else:
                vals = row_values(columns, i, shift=1 if i != 1 else 3)
            sets = ", ".join(f"`{c}` = {v}" for (c, _, _, _), v in zip(columns, vals))
            stmts.append(f"UPDATE `{table}` SET {sets} WHERE id = {i};")
        server.run(session + "\n".join(stmts), DB)
    s2 = {table: server.snapshot(table, columns) for table, columns in TABLES}

    for table, _ in TABLES:
        server.run(session + f"DELETE FROM `{table}` WHERE id IN ({', '.join(map(str, DELETED))});", DB)
    end = server.master_status()
    return start, end, s1, s2


def decode_range(server, tool, start, end, extra=()):
    """Runs tapflow-binlog over [start, end) (which may span rotated files)."""
    names = server.binlogs()
    if start[0] not in names or end[0] not in names:
        raise SystemExit(f"differential: binlog {start[0]} or {end[0]} no longer on the server")
    files = names[names.index(start[0]):names.index(end[0]) + 1]
    changes = []
    for name in files:
        cmd = [tool, *extra]
        if name == start[0]:
            cmd += ["--start-position", str(start[1])]
        if name == end[0]:
            cmd += ["--stop-position", str(end[1])]
        cmd.append(os.path.join(server.env["TAPFLOW_MARIADB_DATADIR"], name))
        res = subprocess.run(cmd, capture_output=True)
        if res.returncode != 0:
            raise SystemExit(f"differential: {' '.join(cmd)} failed ({res.returncode}):\n"
                             f"{res.stderr.decode(errors='replace')}")
        for line in res.stdout.decode("utf-8").splitlines():
            obj = json.loads(line)
            if obj.get("op") in ("insert", "update", "delete") and obj.get("db") == DB:
                changes.append(obj)
    return changes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tool", help="path of tapflow-binlog (default: the build dir's)")
    ap.add_argument("--keep", action="store_true", help="keep database tf_diff_test afterwards")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every check")
    args = ap.parse_args()

    tool = find_tool(args.tool)
    server = Server(server_env())
    start, end, s1, s2 = write_rows(server)
    changes = decode_range(server, tool, start, end)
    text_changes = decode_range(server, tool, start, end, ["--text-values"])

    passed = failed = 0
    failures = []

    def check(what, ok, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            failures.append(f"{what}: {detail}")
        if args.verbose:
            print(f"{'ok  ' if ok else 'FAIL'} {what} {detail}")

    columns_of = dict(TABLES)
    seen = {(t, op): [] for t, _ in TABLES for op in ("insert", "update", "delete")}
    for ch in changes:
        if ch.get("table") not in columns_of:
            check(f"{ch.get('table')} {ch.get('op')}", False, "row change for an unknown table")
            continue
        seen[(ch["table"], ch["op"])].append(ch)
    # --text-values output, in the same order: (table, op, id, image) -> doc
    text_images = {}
    for ch in text_changes:
        row_id = (ch.get("after") or ch.get("before") or {}).get("id")
        for image in ("before", "after"):
            if isinstance(ch.get(image), dict):
                text_images[(ch.get("table"), ch.get("op"), str(row_id), image)] = ch[image]

    expected_ids = {"insert": list(range(1, ROWS + 1)), "update": UPDATED, "delete": DELETED}
    for table, columns in TABLES:
        for op, images in (("insert", [("after", s1)]), ("update", [("before", s1), ("after", s2)]),
                           ("delete", [("before", s2)])):
            got = seen[(table, op)]
            ids = [ch.get("after" if op == "insert" else "before", {}).get("id") for ch in got]
            check(f"{table} {op} row ids", sorted(i for i in ids if i is not None) == expected_ids[op],
                  f"expected {expected_ids[op]}, decoded {ids}")
            for ch in got:
                for image, snapshot in images:
                    doc = ch.get(image)
                    row_id = (ch.get("after") or ch.get("before") or {}).get("id")
                    if not isinstance(doc, dict) or row_id not in snapshot[table]:
                        check(f"{table} {op} id={row_id} {image}", False, f"no such image/row: {short(ch, 300)}")
                        continue
                    expected_row = snapshot[table][row_id]
                    text_doc = text_images.get((table, op, str(row_id), image), {})
                    text_expected = iter(expected_row[len(columns):])
                    for (col, ctype, rule, _) in columns:
                        if rule not in TEXT_RULES:
                            continue
                        expected = next(text_expected)
                        what = f"{table}.{col} ({ctype.split(' NULL')[0]}) {op} id={row_id} {image} as text"
                        got = text_doc.get(col, "<missing>")
                        check(what, got == expected, f"expected {short(expected)}, got {short(got)}")
                    for (col, ctype, rule, _), expected in zip(columns, expected_row):
                        what = f"{table}.{col} ({ctype.split(' NULL')[0]}) {op} id={row_id} {image}"
                        if col not in doc:
                            check(what, False, f"column missing from decoded image (keys: {list(doc)[:5]}...)")
                            continue
                        try:
                            compare(rule, expected, doc[col])
                            check(what, True)
                        except (Mismatch, ValueError, KeyError, TypeError, decimal.InvalidOperation) as e:
                            check(what, False, str(e))

    if not args.keep:
        server.run(f"DROP DATABASE IF EXISTS {DB}")
    for f in failures[:200]:
        print(f"FAIL {f}")
    if len(failures) > 200:
        print(f"... and {len(failures) - 200} more failures")
    print(f"binlog range {start[0]}:{start[1]} .. {end[0]}:{end[1]}, {len(changes)} row changes decoded")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
