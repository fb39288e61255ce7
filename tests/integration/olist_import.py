#!/usr/bin/env python3
"""olist_import.py — tools/datagen/olist-import on tests/vectors/olist (a
hand-written miniature of the public Olist CSV files) against the local
MariaDB (tools/servers.sh env).

Checks the rows and NULLs loaded into the six ecom_ tables, --all-columns
(Olist's misspelled product_*_lenght columns), CRLF line ends, duplicate keys
reported, and that a missing file, an unexpected header, a short row and bad
values fail before anything is loaded, naming the file and line.
Prints "N passed, N failed"; exit status 1 on any failure.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tapflow_testlib as lib  # noqa: E402

IMPORTER = os.path.join(lib.ROOT, "tools", "datagen", "olist-import")
VECTORS = os.path.join(lib.ROOT, "tests", "vectors", "olist")
DB = lib.unique_name("tf_olist")
check = lib.Checks()


def run(folder, *extra):
    cmd = [IMPORTER, folder, "--db", DB, "--host", lib.MARIADB_HOST, "--port", lib.MARIADB_PORT,
           "--user", lib.MARIADB_USER] + list(extra)
    return subprocess.run(cmd, capture_output=True, text=True, env=lib.mariadb_env(), timeout=120)


def copy_vectors(tmp, name):
    folder = os.path.join(tmp, name)
    shutil.copytree(VECTORS, folder)
    return folder


def edit(folder, file, old, new):
    path = os.path.join(folder, file)
    with open(path, newline="") as f:
        text = f.read()
    assert old in text, (file, old)
    with open(path, "w", newline="") as f:
        f.write(text.replace(old, new, 1))
    return path


def expect_failure(folder, what, *fragments):
    r = run(folder)
    err = r.stderr.strip()
    ok = r.returncode == 1 and len(err.splitlines()) == 1 and all(f in err for f in fragments)
    check(ok, what, "rc %d: %s" % (r.returncode, err))


def main():
    tmp = tempfile.mkdtemp(prefix="tf_olist_")
    try:
        r = run(VECTORS)
        check(r.returncode == 0, "imports the six files", r.stderr)
        counts = dict((t, n) for t, n in lib.sql(DB, " UNION ALL ".join(
            "SELECT '%s', COUNT(*) FROM %s" % (t, t) for t in (
                "ecom_customers", "ecom_sellers", "ecom_products", "ecom_orders",
                "ecom_order_items", "ecom_order_payments"))))
        check(counts == {"ecom_customers": "3", "ecom_sellers": "2", "ecom_products": "3",
                         "ecom_orders": "3", "ecom_order_items": "4", "ecom_order_payments": "5"},
              "row counts per table", counts)
        check(re.search(r"^ecom_order_payments +5 rows$", r.stdout, re.M) is not None,
              "prints rows per table", r.stdout)
        cols = [c[0] for c in lib.sql(DB, "SELECT column_name FROM information_schema.columns "
                                          "WHERE table_schema=DATABASE() AND "
                                          "table_name='ecom_products' ORDER BY ordinal_position")]
        check(cols == ["product_id", "product_category_name", "product_weight_g",
                       "product_length_cm", "product_height_cm", "product_width_cm"],
              "products keep the guide's columns only", cols)
        check(lib.sql(DB, "SELECT * FROM ecom_products WHERE product_id LIKE 'a41e%'") ==
              [["a41e356c76fab66334f36de622ecbee3", "NULL", "NULL", "NULL", "NULL", "NULL"]],
              "empty fields load as NULL")
        check(lib.sql(DB, "SELECT order_status, order_approved_at, order_delivered_customer_date, "
                          "order_estimated_delivery_date FROM ecom_orders WHERE order_id LIKE '136c%'")
              == [["canceled", "NULL", "NULL", "2017-05-09 00:00:00"]], "order dates and NULL dates")
        check(lib.sql(DB, "SELECT customer_city, customer_zip_code_prefix FROM ecom_customers "
                          "WHERE customer_id LIKE '4e7b%'") == [["são paulo", "01151"]],
              "UTF-8 text and zip prefixes with leading zeros")
        check(lib.sql(DB, "SELECT payment_sequential, payment_value FROM ecom_order_payments WHERE "
                          "order_id LIKE 'e481%' ORDER BY payment_sequential") ==
              [["1", "18.12"], ["2", "18.59"], ["3", "2.00"]], "payments and decimals")
        check(lib.sql(DB, "SELECT price, freight_value FROM ecom_order_items WHERE order_id "
                          "LIKE '53cd%' AND order_item_id=2") == [["45.00", "22.76"]], "item prices")

        r = run(VECTORS, "--all-columns")
        check(r.returncode == 0 and lib.sql(
            DB, "SELECT product_name_length, product_description_length, product_photos_qty FROM "
                "ecom_products WHERE product_id LIKE '1e9e%'") == [["40", "287", "1"]],
              "--all-columns keeps product_name_lenght & co. as product_name_length & co.",
              r.stderr)

        crlf = copy_vectors(tmp, "crlf")
        for name in os.listdir(crlf):
            if name.endswith(".csv"):
                path = os.path.join(crlf, name)
                with open(path) as f:
                    text = f.read()
                with open(path, "w", newline="") as f:
                    f.write(text.replace("\n", "\r\n"))
        r = run(crlf)
        check(r.returncode == 0 and lib.sql(DB, "SELECT customer_state FROM ecom_customers WHERE "
                                                "customer_id LIKE '06b8%'") == [["SP"]],
              "CRLF line ends", r.stderr)

        dup = copy_vectors(tmp, "dup")
        with open(os.path.join(dup, "olist_sellers_dataset.csv"), "a") as f:
            f.write('"3442f8959a84dea7ee197c632cb2df15","13023","campinas","SP"\n')
        r = run(dup)
        check(r.returncode == 0 and re.search(
            r"^ecom_sellers +2 rows  \(1 rows of olist_sellers_dataset.csv skipped: their key was "
            r"loaded already\)$", r.stdout, re.M) is not None,
              "duplicate keys are reported", r.stdout + r.stderr)

        missing = copy_vectors(tmp, "missing")
        os.remove(os.path.join(missing, "olist_order_items_dataset.csv"))
        expect_failure(missing, "missing file is named",
                       os.path.join(missing, "olist_order_items_dataset.csv") + ": no such file")
        bad = copy_vectors(tmp, "header")
        path = edit(bad, "olist_products_dataset.csv", '"product_weight_g"', '"product_weight"')
        expect_failure(bad, "header without a column: file:1 and the column",
                       path + ":1: unexpected header: no column product_weight_g")
        bad = copy_vectors(tmp, "unknown")
        path = edit(bad, "olist_sellers_dataset.csv", '"seller_state"',
                    '"seller_state","seller_rating"')
        expect_failure(bad, "header with an unknown column: file:1 and the column",
                       path + ":1: unexpected header: unknown column seller_rating")
        bad = copy_vectors(tmp, "short")
        path = edit(bad, "olist_orders_dataset.csv", ',"2018-08-13 00:00:00"', "")
        expect_failure(bad, "short row: file and line", path + ":3: 7 fields, the header has 8")
        bad = copy_vectors(tmp, "int")
        path = edit(bad, "olist_order_payments_dataset.csv", '"boleto",1,', '"boleto",one,')
        expect_failure(bad, "bad integer: file, line and column",
                       path + ":5: column payment_installments: 'one' is not an integer")
        bad = copy_vectors(tmp, "date")
        path = edit(bad, "olist_order_items_dataset.csv", '"2017-04-13 13:25:17"', '"13/04/2017"')
        expect_failure(bad, "bad date: file, line and column",
                       path + ":5: column shipping_limit_date: '13/04/2017' is not a date")
        bad = copy_vectors(tmp, "long")
        path = edit(bad, "olist_sellers_dataset.csv", '"mogi guacu"', '"' + "m" * 70 + '"')
        expect_failure(bad, "text longer than the column",
                       path + ":3: column seller_city: 70 characters, longer than the column's 64")
        bad = copy_vectors(tmp, "empty")
        path = os.path.join(bad, "olist_customers_dataset.csv")
        open(path, "w").close()
        expect_failure(bad, "empty file", path + ":1: empty file")
        still = lib.sql(DB, "SELECT COUNT(*) FROM ecom_sellers")
        check(still == [["2"]], "a failed import leaves the loaded database alone", still)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        lib.sql("", "DROP DATABASE IF EXISTS %s" % DB)
    return check.summary()


if __name__ == "__main__":
    sys.exit(main())
