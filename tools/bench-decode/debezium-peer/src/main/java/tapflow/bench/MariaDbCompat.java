package tapflow.bench;

import java.sql.Connection;
import java.sql.DriverPropertyInfo;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.Properties;
import java.util.function.Supplier;
import java.util.logging.Logger;

import com.mysql.cj.MysqlConnection;
import com.mysql.cj.Query;
import com.mysql.cj.interceptors.QueryInterceptor;
import com.mysql.cj.log.Log;
import com.mysql.cj.protocol.Resultset;
import com.mysql.cj.protocol.ServerSession;

/**
 * What Debezium's MySQL connector needs to run against MariaDB: its
 * SHOW BINARY LOG STATUS answered with SHOW MASTER STATUS.
 *
 * The connector picks the statement from SELECT VERSION(): to it any major
 * version above 8 is MySQL 8.4 or later, and MariaDB's "10.11.x-MariaDB"
 * refuses the 8.4 spelling. Debezium's MariaDB connector, which knows, is not
 * served by the registry this project reaches. Connector/J can rewrite a
 * query through a query interceptor, but Debezium strips queryInterceptors
 * from the driver properties it passes; it does let the driver class be
 * chosen (database.jdbc.driver), so Driver below is Connector/J with the
 * interceptor put back. Nothing else is changed: the binlog is read and
 * decoded by Debezium's own code.
 */
public final class MariaDbCompat {

    private MariaDbCompat() {
    }

    /** Connector/J with StatusInterceptor installed on every connection. */
    public static final class Driver implements java.sql.Driver {

        private final java.sql.Driver real = new com.mysql.cj.jdbc.Driver();

        public Driver() throws SQLException {
        }

        @Override
        public Connection connect(String url, Properties info) throws SQLException {
            Properties props = new Properties();
            props.putAll(info);
            props.setProperty("queryInterceptors", StatusInterceptor.class.getName());
            return real.connect(url, props);
        }

        @Override
        public boolean acceptsURL(String url) throws SQLException {
            return real.acceptsURL(url);
        }

        @Override
        public DriverPropertyInfo[] getPropertyInfo(String url, Properties info) throws SQLException {
            return real.getPropertyInfo(url, info);
        }

        @Override
        public int getMajorVersion() {
            return real.getMajorVersion();
        }

        @Override
        public int getMinorVersion() {
            return real.getMinorVersion();
        }

        @Override
        public boolean jdbcCompliant() {
            return real.jdbcCompliant();
        }

        @Override
        public Logger getParentLogger() throws SQLFeatureNotSupportedException {
            return real.getParentLogger();
        }
    }

    /** Runs SHOW MASTER STATUS in place of SHOW BINARY LOG STATUS; its first
     * columns are the ones Debezium reads (File, Position, Binlog_Do_DB,
     * Binlog_Ignore_DB). */
    public static final class StatusInterceptor implements QueryInterceptor {

        private MysqlConnection connection;

        @Override
        public QueryInterceptor init(MysqlConnection conn, Properties props, Log log) {
            this.connection = conn;
            return this;
        }

        @Override
        @SuppressWarnings("unchecked")
        public <T extends Resultset> T preProcess(Supplier<String> sql, Query query) {
            String text = sql.get();
            if (text == null || !text.trim().equalsIgnoreCase("SHOW BINARY LOG STATUS"))
                return null;
            try {
                return (T) ((Connection) connection).createStatement().executeQuery("SHOW MASTER STATUS");
            }
            catch (SQLException e) {
                throw new IllegalStateException("SHOW MASTER STATUS failed: " + e.getMessage(), e);
            }
        }

        @Override
        public <T extends Resultset> T postProcess(Supplier<String> sql, Query query, T result,
                                                   ServerSession session) {
            return null;
        }

        @Override
        public boolean executeTopLevelOnly() {
            return true;
        }

        @Override
        public void destroy() {
        }
    }
}
