/* fuzz_statement.c — libFuzzer harness for tf_statement_classify.
 *
 * Input: the SQL text of a QUERY event, any bytes. The classifier must
 * never read past the text (ASan sees the input's exact-size block), keep
 * table_count within TF_STATEMENT_MAX_TABLES, and point every name it
 * returns inside the text. The binlog seeds run.sh gives it hold real
 * statements. */
#include "protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_inside(tf_str s, const char *text, size_t size)
{
    if (s.len == 0)
        return;
    if (s.ptr < text || s.len > size || (size_t)(s.ptr - text) > size - s.len)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    tf_statement st;
    tf_statement_classify(text, size, &st);
    if (st.table_count > TF_STATEMENT_MAX_TABLES || (unsigned)st.kind > TF_STMT_OTHER_DDL)
        __builtin_trap();
    for (size_t i = 0; i < st.table_count; i++) {
        check_inside(st.tables[i].database, text, size);
        check_inside(st.tables[i].table, text, size);
        check_inside(st.tables[i].rename_to_database, text, size);
        check_inside(st.tables[i].rename_to_table, text, size);
    }
    check_inside(st.database, text, size);
    return 0;
}
