"""py-peer: python-mysql-replication measured by tools/bench-decode/bench.py.

Streams one binlog file from the server with BinLogStreamReader (the
package reads from a server only), decoding rows events, and prints the
counts it saw. Runs inside the venv bench.py creates under .local/.

usage: py-peer.py HOST PORT USER PASSWORD BINLOG_FILE
"""
import sys
import time

from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.row_event import (
    DeleteRowsEvent,
    UpdateRowsEvent,
    WriteRowsEvent,
)


def main():
    host, port, user, password, log_file = sys.argv[1:6]
    settings = {"host": host, "port": int(port), "user": user, "passwd": password}
    stream = BinLogStreamReader(
        connection_settings=settings,
        server_id=4242,
        log_file=log_file,
        log_pos=4,
        resume_stream=True,
        blocking=False,
        only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent],
    )
    row_events = 0
    rows = 0
    start = time.monotonic()
    for event in stream:
        # blocking=False stops at the end of the newest binlog; the file we
        # measure is closed (rotated), so leave as soon as the stream moves on.
        if stream.log_file != log_file:
            break
        row_events += 1
        rows += len(event.rows)  # .rows decodes every value of the event
    elapsed = time.monotonic() - start
    stream.close()
    print(f"events=0 row_events={row_events} rows={rows} seconds={elapsed:.3f}")


if __name__ == "__main__":
    main()
