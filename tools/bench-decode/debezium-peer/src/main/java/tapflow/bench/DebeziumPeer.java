package tapflow.bench;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.json.JsonConverter;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.storage.MemoryOffsetBackingStore;

import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.RecordChangeEvent;
import io.debezium.engine.format.ChangeEventFormat;
import io.debezium.embedded.Connect;

/**
 * debezium-peer: Debezium's embedded engine measured by
 * tools/bench-decode/bench.py.
 *
 *   java -cp 'target/debezium-peer.jar:target/lib/*' tapflow.bench.DebeziumPeer \
 *        HOST PORT USER BINLOG_FILE EXPECTED_EVENTS [SERVER_ID]
 *
 * The password is read from $TAPFLOW_MARIADB_PASSWORD. Streams BINLOG_FILE
 * from its start (offset 4) with the MySQL connector, no data snapshot, and
 * counts the change events (op c, u, d) it hands over as Connect records
 * (values decoded into Structs, not serialized). Once EXPECTED_EVENTS have
 * arrived it stops and prints one JSON line: the counts, the seconds from the
 * first event to the last, and the seconds from the JVM's start to the last
 * event.
 */
public final class DebeziumPeer {

    private static final long TIMEOUT_SECONDS = 1800;

    private final long expected;
    private final CountDownLatch done = new CountDownLatch(1);
    private long creates;
    private long updates;
    private long deletes;
    private long others;
    private long firstNanos;
    private long lastNanos;
    private long lastMillis;

    private DebeziumPeer(long expected) {
        this.expected = expected;
    }

    /* Called by the engine's thread only, one batch at a time. */
    private void handleBatch(List<RecordChangeEvent<SourceRecord>> batch,
                             DebeziumEngine.RecordCommitter<RecordChangeEvent<SourceRecord>> committer)
            throws InterruptedException {
        for (RecordChangeEvent<SourceRecord> event : batch) {
            Object value = event.record().value();
            String op = null;
            if (value instanceof Struct struct && struct.schema().field("op") != null)
                op = struct.getString("op");
            if (op == null)
                others++;
            else if (op.equals("c"))
                creates++;
            else if (op.equals("u"))
                updates++;
            else if (op.equals("d"))
                deletes++;
            else
                others++;
            if (op != null) {
                long now = System.nanoTime();
                if (firstNanos == 0)
                    firstNanos = now;
                lastNanos = now;
            }
            committer.markProcessed(event);
        }
        committer.markBatchFinished();
        if (creates + updates + deletes >= expected && done.getCount() > 0) {
            lastMillis = System.currentTimeMillis();
            done.countDown();
        }
    }

    public static void main(String[] args) throws Exception {
        // Warnings and errors only. Debezium's lag statistics warn once per
        // event they cannot queue (thousands a run when the consumer keeps a
        // core busy); printing those would be measured, not Debezium.
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        System.setProperty("org.slf4j.simpleLogger.log.io.debezium.metrics.stats.MeasurementCollector", "error");
        if (args.length < 5 || args.length > 6) {
            System.err.println("usage: DebeziumPeer HOST PORT USER BINLOG_FILE EXPECTED_EVENTS [SERVER_ID]");
            System.exit(2);
        }
        String password = System.getenv("TAPFLOW_MARIADB_PASSWORD");
        if (password == null) {
            System.err.println("debezium-peer: TAPFLOW_MARIADB_PASSWORD is not set");
            System.exit(2);
        }
        long expected = Long.parseLong(args[4]);
        String serverId = args.length > 5 ? args[5] : "4343";

        SeededOffsetStore.engineName = "tapflow-bench";
        SeededOffsetStore.topicPrefix = "tf_bench_dbz";
        SeededOffsetStore.binlogFile = args[3];
        SeededOffsetStore.binlogPosition = 4;

        Properties p = new Properties();
        p.setProperty("name", SeededOffsetStore.engineName);
        p.setProperty("connector.class", "io.debezium.connector.mysql.MySqlConnector");
        p.setProperty("offset.storage", SeededOffsetStore.class.getName());
        p.setProperty("offset.flush.interval.ms", "600000");
        p.setProperty("database.hostname", args[0]);
        p.setProperty("database.port", args[1]);
        p.setProperty("database.user", args[2]);
        p.setProperty("database.password", password);
        p.setProperty("database.server.id", serverId);
        p.setProperty("database.ssl.mode", "disabled");
        p.setProperty("topic.prefix", SeededOffsetStore.topicPrefix);
        p.setProperty("database.jdbc.driver", MariaDbCompat.Driver.class.getName());
        p.setProperty("database.include.list", "tf_bench");
        // Only tf_bench's DDL: other databases on the server hold MariaDB types
        // (INET4, ...) that the MySQL connector's DDL parser refuses.
        p.setProperty("schema.history.internal.store.only.captured.databases.ddl", "true");
        p.setProperty("schema.history.internal.store.only.captured.tables.ddl", "true");
        // The binlog reader runs ahead of the consumer, into later files where
        // other databases' DDL may use MariaDB types too: skip what it cannot
        // parse rather than stop before the counted events are handed over.
        p.setProperty("schema.history.internal.skip.unparseable.ddl", "true");
        // No data snapshot. "recovery" reads the tables' current definitions
        // (the schema history is in memory, so empty at start) and then
        // streams from the seeded offset; "no_data" would refuse an offset
        // without a schema history. The table has not changed since the file
        // was written, so its current definition is the right one.
        p.setProperty("snapshot.mode", "recovery");
        p.setProperty("snapshot.locking.mode", "none");
        p.setProperty("schema.history.internal", "io.debezium.relational.history.MemorySchemaHistory");
        p.setProperty("include.schema.changes", "false");
        p.setProperty("tombstones.on.delete", "false");

        DebeziumPeer peer = new DebeziumPeer(expected);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicReference<String> failureMessage = new AtomicReference<>();
        DebeziumEngine<RecordChangeEvent<SourceRecord>> engine = DebeziumEngine
                .create(ChangeEventFormat.of(Connect.class))
                .using(p)
                .notifying(peer::handleBatch)
                .using((success, message, error) -> {
                    if (!success) {
                        failureMessage.set(message);
                        failure.set(error);
                    }
                    peer.done.countDown();
                })
                .build();
        ExecutorService executor = Executors.newSingleThreadExecutor();
        executor.execute(engine);
        boolean finished = peer.done.await(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        long events = peer.creates + peer.updates + peer.deletes;
        if (events < expected) {
            String why = !finished ? "timed out after " + TIMEOUT_SECONDS + " s"
                    : "the engine stopped: " + failureMessage.get();
            System.err.println("debezium-peer: " + events + " of " + expected + " events, " + why);
            if (failure.get() != null)
                failure.get().printStackTrace();
            System.exit(1);
        }
        long jvmStart = ManagementFactory.getRuntimeMXBean().getStartTime();
        System.out.printf("{\"events\":%d,\"create\":%d,\"update\":%d,\"delete\":%d,\"other\":%d,"
                + "\"stream_seconds\":%.3f,\"total_seconds\":%.3f}%n",
                events, peer.creates, peer.updates, peer.deletes, peer.others,
                (peer.lastNanos - peer.firstNanos) / 1e9, (peer.lastMillis - jvmStart) / 1e3);
        System.out.flush();
        // The engine's shutdown (connector stop, offset flush) is not measured.
        engine.close();
        executor.shutdownNow();
        System.exit(0);
    }

    /**
     * An in-memory offset store that starts out holding one offset: the binlog
     * file and position the benchmark wants Debezium to stream from.
     *
     * Debezium's MySQL connector has no "start at file F position P" option; it
     * resumes from the offset it finds in its store. So the store is seeded with
     * what the connector itself would have written there ({"file": F, "pos": P}
     * under the key [engine name, {"server": topic prefix}]), serialized with the
     * same schema-less JSON converter the engine reads offsets with.
     */
    public static final class SeededOffsetStore extends MemoryOffsetBackingStore {

        static String engineName;
        static String topicPrefix;
        static String binlogFile;
        static long binlogPosition;

        @Override
        public void start() {
            super.start();
            JsonConverter keys = new JsonConverter();
            keys.configure(Map.of("schemas.enable", "false"), true);
            JsonConverter values = new JsonConverter();
            values.configure(Map.of("schemas.enable", "false"), false);
            byte[] key = keys.fromConnectData(engineName, null,
                    List.of(engineName, Map.of("server", topicPrefix)));
            byte[] value = values.fromConnectData(engineName, null,
                    Map.of("file", binlogFile, "pos", binlogPosition));
            data.put(ByteBuffer.wrap(key), ByteBuffer.wrap(value));
        }

        @Override
        public Set<Map<String, Object>> connectorPartitions(String connectorName) {
            return null;
        }
    }
}
