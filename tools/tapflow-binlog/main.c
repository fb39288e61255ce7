/* tapflow-binlog — decode binlog files into JSON lines.
 *
 * What a person debugging replication reaches for instead of mysqlbinlog:
 * every event and every row change as one JSON line, values typed as
 * tapflow would write them to MongoDB. See usage() below. */
#include "decode.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fputs(
        "usage: tapflow-binlog [options] BINLOG_FILE...\n"
        "       tapflow-binlog --stream [options]   (a live server: --stream --help)\n"
        "\n"
        "Decodes MySQL 5.6+/8.x/9.x and MariaDB 10.x/11.x binlog files into one JSON\n"
        "line per event, or per row change for rows events:\n"
        "\n"
        "  {\"type\":\"QUERY\",\"pos\":4,\"next_pos\":260,\"timestamp\":1700000000,\n"
        "   \"server_id\":1,\"db\":\"shop\",\"query\":\"BEGIN\",...}\n"
        "  "
        "{\"op\":\"update\",\"db\":\"shop\",\"table\":\"orders\",\"gtid\":\"0-1-42\",\"pos\":412,\n"
        "   \"before\":{\"id\":1,\"total\":{\"$numberDecimal\":\"9.90\"}},\"after\":{...}}\n"
        "\n"
        "pos / next_pos are the byte offsets where an event starts and ends. Row\n"
        "images use column names (@1, @2, ... when the table map has none) and the\n"
        "tapflow type mapping as relaxed Extended JSON: DECIMAL {\"$numberDecimal\"},\n"
        "DATE/DATETIME/TIMESTAMP {\"$date\"} (UTC, ms), BLOB/BINARY/GEOMETRY\n"
        "{\"$binary\"}, SET an array, JSON a document; zero dates, which BSON cannot\n"
        "hold, are shown as the string SELECT shows. Events inside a MySQL\n"
        "TRANSACTION_PAYLOAD are printed like the others with \"inner\":true.\n"
        "Checksums (CRC32) are verified.\n"
        "\n"
        "options:\n"
        "  --start-position N     start at the event at byte offset N of the first file\n"
        "  --stop-position N      stop before the first event at or after offset N of\n"
        "                         the last file\n"
        "  --start-gtid GTID      start at the transaction with this GTID\n"
        "                         (uuid:n, uuid:tag:n or MariaDB domain-server-seq)\n"
        "  --stop-after-gtid GTID stop after the transaction with this GTID\n"
        "  --events-only          one line per event, rows events included (with their\n"
        "                         row count) instead of one line per row change\n"
        "  --no-rows              like --events-only, without decoding row images\n"
        "  --text-values          values as the text SELECT returns instead of typed\n"
        "  --summary              print only a summary: events by type, rows per table\n"
        "                         and operation, transactions, errors\n"
        "  --verify-only          decode everything, print nothing (exit status says)\n"
        "  -h, --help             this text\n"
        "  --version              the release and the git revision\n"
        "\n"
        "exit status: 0 decoded, 1 malformed or unsupported input (the message names\n"
        "the file, the offset and what is wrong), 2 usage or I/O error.\n",
        f);
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*s == '\0' || *s == '-')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

/* A whole file in memory: mmap for regular files (the kernel reads ahead,
 * nothing is copied), read() into a buffer otherwise (pipes). */
typedef struct mapped_file {
    uint8_t *data;
    size_t len;
    bool mapped;
} mapped_file;

static int map_file(const char *path, mapped_file *mf)
{
    memset(mf, 0, sizeof *mf);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "tapflow-binlog: %s: %s\n", path, strerror(errno));
        return 2;
    }
    struct stat sb;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
        mf->len = (size_t)sb.st_size;
        if (mf->len > 0) {
            void *p = mmap(NULL, mf->len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
            if (p == MAP_FAILED) {
                fprintf(stderr, "tapflow-binlog: %s: mmap: %s\n", path, strerror(errno));
                close(fd);
                return 2;
            }
            madvise(p, mf->len, MADV_SEQUENTIAL);
            mf->data = p;
            mf->mapped = true;
        }
        close(fd);
        return 0;
    }
    size_t cap = 1u << 20;
    mf->data = malloc(cap);
    for (;;) {
        if (mf->data == NULL) {
            fprintf(stderr, "tapflow-binlog: %s: out of memory\n", path);
            close(fd);
            return 2;
        }
        if (mf->len == cap) {
            uint8_t *p = realloc(mf->data, cap * 2);
            if (p == NULL) {
                free(mf->data);
                mf->data = NULL;
                continue;
            }
            mf->data = p;
            cap *= 2;
        }
        ssize_t n = read(fd, mf->data + mf->len, cap - mf->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "tapflow-binlog: %s: %s\n", path, strerror(errno));
            free(mf->data);
            close(fd);
            return 2;
        }
        if (n == 0)
            break;
        mf->len += (size_t)n;
    }
    close(fd);
    return 0;
}

static void unmap_file(mapped_file *mf)
{
    if (mf->mapped)
        munmap(mf->data, mf->len);
    else
        free(mf->data);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("tapflow-binlog %s\n", tf_version());
        return 0;
    }
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--stream") == 0)
            return tool_stream_main(argc, argv);
    tool_options opt;
    memset(&opt, 0, sizeof opt);
    const char **files = calloc((size_t)argc, sizeof *files);
    size_t file_count = 0;
    if (files == NULL)
        return 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *value = NULL;
        /* --opt=value and --opt value */
        const char *eq = strchr(a, '=');
        char name[64];
        if (strncmp(a, "--", 2) == 0 && eq != NULL && (size_t)(eq - a) < sizeof name) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = '\0';
            value = eq + 1;
            a = name;
        }
        bool takes_value = strcmp(a, "--start-position") == 0 ||
                           strcmp(a, "--stop-position") == 0 || strcmp(a, "--start-gtid") == 0 ||
                           strcmp(a, "--stop-after-gtid") == 0;
        if (takes_value && value == NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "tapflow-binlog: %s needs a value\n", a);
                return 2;
            }
            value = argv[++i];
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            free(files);
            return 0;
        } else if (strcmp(a, "--start-position") == 0 || strcmp(a, "--stop-position") == 0) {
            uint64_t *dst = a[3] == 't' && a[4] == 'a' ? &opt.start_position : &opt.stop_position;
            if (!parse_u64(value, dst)) {
                fprintf(stderr, "tapflow-binlog: %s: not a byte offset: '%s'\n", a, value);
                return 2;
            }
        } else if (strcmp(a, "--start-gtid") == 0) {
            opt.start_gtid = value;
        } else if (strcmp(a, "--stop-after-gtid") == 0) {
            opt.stop_after_gtid = value;
        } else if (strcmp(a, "--summary") == 0) {
            opt.summary = true;
        } else if (strcmp(a, "--events-only") == 0) {
            opt.events_only = true;
        } else if (strcmp(a, "--no-rows") == 0) {
            opt.no_rows = true;
        } else if (strcmp(a, "--verify-only") == 0) {
            opt.verify_only = true;
        } else if (strcmp(a, "--text-values") == 0) {
            opt.text_values = true;
        } else if (strcmp(a, "--") == 0) {
            while (++i < argc)
                files[file_count++] = argv[i];
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "tapflow-binlog: unknown option %s (see --help)\n", argv[i]);
            return 2;
        } else {
            files[file_count++] = a;
        }
    }
    if (file_count == 0) {
        usage(stderr);
        free(files);
        return 2;
    }

    tool_state st;
    if (!tool_state_init(&st, &opt, stdout)) {
        fprintf(stderr, "tapflow-binlog: out of memory\n");
        return 2;
    }
    int rc = 0;
    for (size_t i = 0; i < file_count && rc == 0 && !st.stopping; i++) {
        mapped_file mf;
        rc = map_file(files[i], &mf);
        if (rc != 0)
            break;
        st.first_file = (i == 0);
        st.last_file = (i + 1 == file_count);
        rc = tool_decode_file(&st, files[i], mf.data, mf.len);
        unmap_file(&mf);
    }
    if (opt.summary && rc == 0)
        tool_print_summary(&st);
    out_flush(&st.out);
    if (st.out.failed || fflush(stdout) != 0) {
        fprintf(stderr, "tapflow-binlog: writing the output failed\n");
        if (rc == 0)
            rc = 2;
    }
    if (rc == 0 && opt.start_gtid != NULL && !st.selecting) {
        fprintf(stderr, "tapflow-binlog: --start-gtid %s: no such transaction in the input\n",
                opt.start_gtid);
        rc = 1;
    }
    tool_state_cleanup(&st);
    free(files);
    return rc;
}
