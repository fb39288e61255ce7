// go-peer: the go-mysql decoder measured by tools/bench-decode/bench.sh.
//
// It parses a binlog file with go-mysql's replication.BinlogParser (the
// same code go-mysql's canal and BinlogSyncer use), decoding every rows
// event into Go values, and prints the counts it saw so the benchmark can
// check that every tool decoded the same rows.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
)

func main() {
	verify := flag.Bool("verify-checksum", true, "verify each event's CRC32 (tapflow-binlog always does)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: go-peer [-verify-checksum=true] BINLOG_FILE")
		os.Exit(2)
	}
	parser := replication.NewBinlogParser()
	parser.SetVerifyChecksum(*verify)
	var events, rowEvents, rows uint64
	start := time.Now()
	err := parser.ParseFile(flag.Arg(0), 4, func(e *replication.BinlogEvent) error {
		events++
		if re, ok := e.Event.(*replication.RowsEvent); ok {
			rowEvents++
			n := uint64(len(re.Rows))
			switch e.Header.EventType {
			case replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2,
				replication.PARTIAL_UPDATE_ROWS_EVENT, replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1:
				n /= 2 // Rows holds the before and the after image of each row
			}
			rows += n
		}
		return nil
	})
	elapsed := time.Since(start)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-peer:", err)
		os.Exit(1)
	}
	fmt.Printf("events=%d row_events=%d rows=%d seconds=%.3f\n", events, rowEvents, rows, elapsed.Seconds())
}
