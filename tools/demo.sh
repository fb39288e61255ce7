#!/usr/bin/env bash
# demo.sh — install what is needed, start the local servers, write a few rows
# to MariaDB and decode them from the binlog with tapflow-binlog.
#
#   bash tools/demo.sh
#
# Steps: tools/setup.sh; build build/; tools/servers.sh start; create a small
# e-commerce schema in database tapflow_demo and insert, update and delete a
# few rows; decode exactly those binlog events (from the position before the
# first statement) with build/tools/tapflow-binlog/tapflow-binlog as JSON
# lines, then as a summary; ping the MongoDB-wire server with mongosh.
# The servers keep running afterwards: stop them with `tools/servers.sh stop`.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export PATH="$top/.local/bin:/usr/local/go/bin:${HOME:-/root}/go/bin:$PATH"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
[ -t 1 ] || say() { printf '\n== %s\n' "$*"; }

# Overrides the caller gave (other ports or state folder): the stop command
# printed at the end needs them too.
overrides=""
for var in TAPFLOW_SERVERS_DIR TAPFLOW_MARIADB_PORT TAPFLOW_MONGO_PORT; do
    if [ -n "${!var:-}" ]; then overrides+="$var=${!var} "; fi
done

say "installing what is needed (tools/setup.sh)"
bash tools/setup.sh

say "building build/"
cmake -S "$top" -B "$top/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
if ! ninja -C "$top/build" >"$top/build/build.log" 2>&1; then
    grep -v '^\[[0-9]*/[0-9]*\] ' "$top/build/build.log" | tail -n 60
    exit 1
fi

say "starting the local servers (tools/servers.sh start)"
bash tools/servers.sh start
eval "$(bash tools/servers.sh env)"

# The client reads the password from the environment, so it is never printed.
export MYSQL_PWD=$TAPFLOW_MARIADB_PASSWORD
sql() {
    mariadb --no-defaults -h"$TAPFLOW_MARIADB_HOST" -P"$TAPFLOW_MARIADB_PORT" \
        -u"$TAPFLOW_MARIADB_USER" "$@"
}

# Where the binlog stands before the demo writes anything: decoding starts here.
read -r binlog_file start_pos < <(sql -N -B -e 'SHOW MASTER STATUS' | awk '{print $1, $2}')
binlog_path="$TAPFLOW_MARIADB_DATADIR/$binlog_file"
echo "binlog: $binlog_path, position $start_pos"

say "writing to MariaDB database tapflow_demo"
demo_sql=$(
    cat <<'SQL'
CREATE DATABASE IF NOT EXISTS tapflow_demo;
USE tapflow_demo;
DROP TABLE IF EXISTS order_items, orders, products, customers;
CREATE TABLE customers (
  customer_id INT PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  email VARCHAR(200),
  created_at DATETIME(3) NOT NULL
);
CREATE TABLE products (
  product_id INT PRIMARY KEY,
  title VARCHAR(200) NOT NULL,
  price DECIMAL(10,2) NOT NULL,
  tags SET('new','sale','eco') NOT NULL DEFAULT ''
);
CREATE TABLE orders (
  order_id BIGINT UNSIGNED PRIMARY KEY,
  customer_id INT NOT NULL,
  status ENUM('pending','paid','shipped','cancelled') NOT NULL,
  ordered_at TIMESTAMP(6) NOT NULL,
  note TEXT NULL
);
CREATE TABLE order_items (
  order_id BIGINT UNSIGNED NOT NULL,
  line_no SMALLINT NOT NULL,
  product_id INT NOT NULL,
  quantity INT NOT NULL,
  unit_price DECIMAL(10,2) NOT NULL,
  PRIMARY KEY (order_id, line_no)
);
INSERT INTO customers VALUES
  (1, 'Ada Lovelace', 'ada@example.org', '2024-03-01 09:15:00.125'),
  (2, 'Grace Hopper', NULL, '2024-03-02 17:40:12.500');
INSERT INTO products VALUES
  (10, 'Mechanical keyboard', 89.90, 'new'),
  (11, 'USB-C cable 2m', 7.49, 'sale,eco');
BEGIN;
INSERT INTO orders VALUES (1001, 1, 'pending', '2024-03-05 10:00:00.000001', 'leave at the door');
INSERT INTO order_items VALUES (1001, 1, 10, 1, 89.90), (1001, 2, 11, 3, 7.49);
COMMIT;
UPDATE orders SET status = 'paid', note = NULL WHERE order_id = 1001;
UPDATE products SET price = 79.90, tags = 'sale' WHERE product_id = 10;
DELETE FROM order_items WHERE order_id = 1001 AND line_no = 2;
SQL
)
printf '%s\n' "$demo_sql" | sed 's/^/  sql> /'
printf '%s\n' "$demo_sql" | sql
echo
sql --table -e 'SELECT o.order_id, o.status, c.name, i.line_no, p.title, i.quantity, i.unit_price
        FROM tapflow_demo.orders o JOIN tapflow_demo.customers c USING (customer_id)
        JOIN tapflow_demo.order_items i USING (order_id) JOIN tapflow_demo.products p USING (product_id)'

tool="$top/build/tools/tapflow-binlog/tapflow-binlog"
if [ ! -x "$tool" ]; then
    echo "demo: $tool was not built (tools/tapflow-binlog/ is missing or failed to build)" >&2
    exit 1
fi

say "decoding the new binlog events: tapflow-binlog --start-position $start_pos $binlog_path"
"$tool" --start-position "$start_pos" "$binlog_path"

say "summary: tapflow-binlog --summary --start-position $start_pos $binlog_path"
"$tool" --summary --start-position "$start_pos" "$binlog_path"

say "the MongoDB-wire server answers: mongosh $TAPFLOW_MONGO_URI --eval 'db.runCommand({ping:1})'"
mongosh --quiet --norc "$TAPFLOW_MONGO_URI" --eval 'db.runCommand({ping: 1})'

say "done"
stop_cmd="${overrides}tools/servers.sh stop"
cat <<TXT
The servers keep running:
  MariaDB      127.0.0.1:$TAPFLOW_MARIADB_PORT  mariadb --no-defaults -h127.0.0.1 -P$TAPFLOW_MARIADB_PORT -u$TAPFLOW_MARIADB_USER -p
  mongo-wire   $TAPFLOW_MONGO_URI  mongosh $TAPFLOW_MONGO_URI
Stop them with: $stop_cmd
TXT
