/* statement.c — what the SQL of a QUERY event does, and to which tables.
 *
 * A tokenizer that knows MySQL's comments, quotes and executable comments,
 * and one small reader per statement kind that goes only as far as the
 * names it needs. It is not a SQL parser: where the text leaves a doubt
 * about which tables are written, it says so (tables_unknown) rather than
 * guess, because a caller that misses a written table misses data, while
 * one told about a table that was only read does a little work for nothing.
 *
 * Every read goes through next_token, which checks pos against len: the
 * input may be any bytes, cut anywhere, without a terminating NUL.
 */
#include "protocol.h"

#include <string.h>

typedef enum token_kind {
    TOK_END = 0,       /* no more text */
    TOK_WORD,          /* a bare keyword, identifier or number */
    TOK_BACKQUOTED,    /* `identifier` */
    TOK_DOUBLE_QUOTED, /* "string", or "identifier" under ANSI_QUOTES */
    TOK_STRING,        /* 'string' */
    TOK_PUNCT,         /* any other single byte */
} token_kind;

typedef struct token {
    token_kind kind;
    const char *ptr; /* the word, or the quoted bytes without their quotes */
    size_t len;
    char punct;        /* TOK_PUNCT: the byte */
    bool escaped;      /* quoted bytes hold a doubled quote or a backslash escape */
    bool unterminated; /* the text ended before the closing quote */
} token;

typedef struct lexer {
    const char *sql;
    size_t len;
    size_t pos;
    size_t executable_depth; /* open executable comments, whose closing marker is skipped */
} lexer;

/* ---- bytes ---- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* MySQL's unquoted identifier bytes: [0-9A-Za-z$_] and every byte of a
 * multi-byte character. */
static bool is_word_byte(char c)
{
    unsigned char u = (unsigned char)c;
    return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || is_digit(c) || u == '_' ||
           u == '$' || u >= 0x80;
}

static char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c; }

/* ---- tokenizer ---- */

static void skip_to_line_end(lexer *lx)
{
    while (lx->pos < lx->len && lx->sql[lx->pos] != '\n')
        lx->pos++;
}

/* Skips whitespace and comments. The text of an executable comment is SQL
 * (MySQL's slash-star-! comments, with or without a version such as 50001
 * after the '!', and MariaDB's slash-star-M-! ones, version 100100 and so
 * on): only the opening marker with its version digits and the closing
 * star-slash are skipped. They do not nest in MySQL; a depth count keeps one
 * inside another harmless. */
static void skip_ignorable(lexer *lx)
{
    const char *s = lx->sql;
    size_t n = lx->len;
    while (lx->pos < n) {
        char c = s[lx->pos];
        size_t rest = n - lx->pos;
        if (is_space(c)) {
            lx->pos++;
        } else if (c == '#') {
            skip_to_line_end(lx);
        } else if (c == '-' && rest >= 2 && s[lx->pos + 1] == '-' &&
                   (rest == 2 || (unsigned char)s[lx->pos + 2] <= ' ')) {
            /* MySQL wants a space or control byte after "--": "1--1" is 1 - -1. */
            skip_to_line_end(lx);
        } else if (c == '/' && rest >= 2 && s[lx->pos + 1] == '*') {
            size_t p = lx->pos + 2;
            bool executable = false;
            if (p < n && s[p] == '!') {
                executable = true;
                p++;
            } else if (p + 1 < n && s[p] == 'M' && s[p + 1] == '!') {
                executable = true;
                p += 2;
            }
            if (executable) {
                while (p < n && is_digit(s[p]))
                    p++;
                lx->executable_depth++;
                lx->pos = p;
                continue;
            }
            /* A plain comment ends at the first star-slash; one left open runs to the end. */
            for (p = lx->pos + 2; p + 1 < n && !(s[p] == '*' && s[p + 1] == '/'); p++)
                ;
            lx->pos = p + 1 < n ? p + 2 : n;
        } else if (c == '*' && lx->executable_depth > 0 && rest >= 2 && s[lx->pos + 1] == '/') {
            lx->executable_depth--;
            lx->pos += 2;
        } else {
            break;
        }
    }
}

/* A quoted token starting at lx->pos (the opening quote). Backquotes escape
 * only by doubling; quotes and double quotes also take backslash escapes. */
static token read_quoted(lexer *lx, token_kind kind)
{
    const char *s = lx->sql;
    size_t n = lx->len;
    char quote = s[lx->pos];
    bool backslash = quote != '`';
    token t = {.kind = kind, .ptr = s + lx->pos + 1};
    size_t p = lx->pos + 1;
    for (;;) {
        if (p >= n) {
            t.unterminated = true;
            t.len = n - (lx->pos + 1);
            lx->pos = n;
            return t;
        }
        if (backslash && s[p] == '\\') {
            t.escaped = true;
            p += 2; /* may step past n: the check above ends the token */
        } else if (s[p] == quote) {
            if (p + 1 < n && s[p + 1] == quote) {
                t.escaped = true;
                p += 2;
            } else {
                t.len = p - (lx->pos + 1);
                lx->pos = p + 1;
                return t;
            }
        } else {
            p++;
        }
    }
}

static token next_token(lexer *lx)
{
    skip_ignorable(lx);
    token t = {.kind = TOK_END, .ptr = lx->sql + lx->pos};
    if (lx->pos >= lx->len)
        return t;
    char c = lx->sql[lx->pos];
    if (is_word_byte(c)) {
        size_t start = lx->pos;
        while (lx->pos < lx->len && is_word_byte(lx->sql[lx->pos]))
            lx->pos++;
        t.kind = TOK_WORD;
        t.len = lx->pos - start;
    } else if (c == '`') {
        t = read_quoted(lx, TOK_BACKQUOTED);
    } else if (c == '"') {
        t = read_quoted(lx, TOK_DOUBLE_QUOTED);
    } else if (c == '\'') {
        t = read_quoted(lx, TOK_STRING);
    } else {
        t.kind = TOK_PUNCT;
        t.punct = c;
        t.len = 1;
        lx->pos++;
    }
    return t;
}

static token peek_token(const lexer *lx)
{
    lexer ahead = *lx;
    return next_token(&ahead);
}

static bool word_is(const token *t, const char *keyword)
{
    if (t->kind != TOK_WORD)
        return false;
    size_t i = 0;
    for (; i < t->len; i++)
        if (keyword[i] == '\0' || ascii_upper(t->ptr[i]) != keyword[i])
            return false;
    return keyword[i] == '\0';
}

static bool word_in(const token *t, const char *const *keywords)
{
    for (; *keywords; keywords++)
        if (word_is(t, *keywords))
            return true;
    return false;
}

static bool is_punct(const token *t, char c) { return t->kind == TOK_PUNCT && t->punct == c; }

/* The end of the statement: the text, or a top-level ';'. */
static bool is_end(const token *t) { return t->kind == TOK_END || is_punct(t, ';'); }

static bool is_identifier(const token *t)
{
    return t->kind == TOK_WORD || t->kind == TOK_BACKQUOTED || t->kind == TOK_DOUBLE_QUOTED;
}

static tf_str token_str(const token *t) { return (tf_str){t->ptr, t->len}; }

static bool accept_word(lexer *lx, const char *keyword)
{
    lexer ahead = *lx;
    token t = next_token(&ahead);
    if (!word_is(&t, keyword))
        return false;
    *lx = ahead;
    return true;
}

static bool accept_punct(lexer *lx, char c)
{
    lexer ahead = *lx;
    token t = next_token(&ahead);
    if (!is_punct(&t, c))
        return false;
    *lx = ahead;
    return true;
}

/* Consumes tokens up to and including the ')' that closes a '(' already
 * consumed (or to the end). */
static void skip_group(lexer *lx)
{
    size_t depth = 1;
    for (;;) {
        token t = next_token(lx);
        if (t.kind == TOK_END)
            return;
        if (is_punct(&t, '('))
            depth++;
        else if (is_punct(&t, ')') && --depth == 0)
            return;
    }
}

/* Consumes tokens up to and including the word keyword outside parentheses;
 * false if the statement ends first. */
static bool skip_to_word(lexer *lx, const char *keyword)
{
    for (;;) {
        token t = next_token(lx);
        if (is_end(&t))
            return false;
        if (word_is(&t, keyword))
            return true;
        if (is_punct(&t, '('))
            skip_group(lx);
    }
}

/* ---- names ---- */

typedef struct name {
    tf_str database; /* empty when not qualified */
    tf_str table;
    bool escaped; /* a part held an escaped quote */
    bool cut;     /* a part is cut off (open quote, or "db." at the end) */
} name;

/* Reads [db.]name[.*] whose first token has been consumed; false (nothing
 * more consumed) if first is not an identifier. The ".*" of a multi-table
 * DELETE target is consumed and dropped. */
static bool read_name_from(lexer *lx, const token *first, name *out)
{
    memset(out, 0, sizeof *out);
    if (!is_identifier(first))
        return false;
    out->table = token_str(first);
    out->escaped = first->escaped;
    out->cut = first->unterminated;
    if (first->unterminated || !accept_punct(lx, '.'))
        return true;
    token second = next_token(lx);
    if (is_punct(&second, '*'))
        return true;
    if (!is_identifier(&second)) {
        out->cut = true;
        return true;
    }
    out->database = out->table;
    out->table = token_str(&second);
    out->escaped |= second.escaped;
    out->cut |= second.unterminated;
    if (!second.unterminated) {
        lexer ahead = *lx;
        token dot = next_token(&ahead);
        token star = next_token(&ahead);
        if (is_punct(&dot, '.') && is_punct(&star, '*'))
            *lx = ahead;
    }
    return true;
}

static bool read_name(lexer *lx, name *out)
{
    token first = next_token(lx);
    return read_name_from(lx, &first, out);
}

static bool str_equal(tf_str a, tf_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static bool str_equal_nocase(tf_str a, tf_str b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++)
        if (ascii_upper(a.ptr[i]) != ascii_upper(b.ptr[i]))
            return false;
    return true;
}

/* Appends a table (once: a name already listed without a rename is not
 * repeated when merge is set). NULL when the list is full. */
static tf_statement_table *add_table(tf_statement *out, const name *n, bool merge)
{
    if (n->cut)
        out->tables_unknown = true;
    if (merge)
        for (size_t i = 0; i < out->table_count; i++) {
            tf_statement_table *e = &out->tables[i];
            if (e->rename_to_table.len == 0 && str_equal(e->database, n->database) &&
                str_equal(e->table, n->table))
                return e;
        }
    if (out->table_count == TF_STATEMENT_MAX_TABLES) {
        out->tables_truncated = true;
        return NULL;
    }
    tf_statement_table *e = &out->tables[out->table_count++];
    e->database = n->database;
    e->table = n->table;
    e->has_escaped_quote = n->escaped;
    return e;
}

static void set_rename_to(tf_statement *out, tf_statement_table *e, const name *to)
{
    if (to->cut)
        out->tables_unknown = true;
    if (e == NULL)
        return;
    e->rename_to_database = to->database;
    e->rename_to_table = to->table;
    e->has_escaped_quote |= to->escaped;
}

/* name [, name ...]: DROP TABLE, DROP VIEW, OPTIMIZE TABLE, ... */
static void read_name_list(lexer *lx, tf_statement *out)
{
    do {
        name n;
        if (!read_name(lx, &n)) {
            out->tables_unknown = true;
            return;
        }
        add_table(out, &n, true);
    } while (accept_punct(lx, ','));
}

/* One name that the statement needs (TRUNCATE t, INSERT INTO t, ...). */
static void read_one_table(lexer *lx, tf_statement *out)
{
    name n;
    if (read_name(lx, &n))
        add_table(out, &n, true);
    else
        out->tables_unknown = true;
}

/* IF EXISTS; an IF without EXISTS can only be text cut short. */
static void accept_if_exists(lexer *lx, tf_statement *out)
{
    if (!accept_word(lx, "IF"))
        return;
    if (accept_word(lx, "EXISTS"))
        out->if_exists = true;
    else
        out->tables_unknown = true;
}

static void accept_if_not_exists(lexer *lx, tf_statement *out)
{
    if (!accept_word(lx, "IF"))
        return;
    if (accept_word(lx, "NOT") && accept_word(lx, "EXISTS"))
        out->if_not_exists = true;
    else
        out->tables_unknown = true;
}

/* Words that start the options of CREATE/ALTER DATABASE, not a name. */
static const char *const database_options[] = {"DEFAULT", "CHARACTER",  "CHARSET", "COLLATE",
                                               "COMMENT", "ENCRYPTION", "READ",    NULL};

/* The database name of DROP/CREATE/ALTER DATABASE. */
static void read_database(lexer *lx, tf_statement *out)
{
    lexer ahead = *lx;
    token t = next_token(&ahead);
    if (!is_identifier(&t) || word_in(&t, database_options)) {
        out->tables_unknown = true;
        return;
    }
    *lx = ahead;
    out->database = token_str(&t);
    out->database_has_escaped_quote = t.escaped;
    if (t.unterminated)
        out->tables_unknown = true;
}

/* ---- table references (UPDATE, multi-table DELETE) ---- */

#define MAX_REFS (2 * TF_STATEMENT_MAX_TABLES)

typedef struct table_refs {
    name tables[MAX_REFS];
    tf_str aliases[MAX_REFS]; /* empty when the reference has none */
    size_t count;
    bool overflow;
} table_refs;

/* Words that can follow a table reference and so are never its alias. */
static const char *const not_alias_words[] = {
    "ON",      "USING",  "JOIN",      "STRAIGHT_JOIN", "INNER",     "CROSS", "LEFT",   "RIGHT",
    "NATURAL", "OUTER",  "FULL",      "WHERE",         "SET",       "USE",   "FORCE",  "IGNORE",
    "FOR",     "ORDER",  "LIMIT",     "RETURNING",     "PARTITION", "GROUP", "HAVING", "WINDOW",
    "UNION",   "EXCEPT", "INTERSECT", "LOCK",          "INTO",      "FROM",  NULL};

/* [AS] alias after a table reference; alias may be NULL. */
static void read_alias(lexer *lx, tf_str *alias)
{
    lexer ahead = *lx;
    token t = next_token(&ahead);
    if (word_is(&t, "AS"))
        t = next_token(&ahead);
    else if (word_in(&t, not_alias_words))
        return;
    if (!is_identifier(&t))
        return;
    *lx = ahead;
    if (alias)
        *alias = token_str(&t);
}

/* After '(' where a table reference may start: a derived table's query? */
static bool starts_query(const token *t)
{
    return word_is(t, "SELECT") || word_is(t, "WITH") || word_is(t, "VALUES") ||
           word_is(t, "TABLE");
}

/* Reads table_references up to the word stop outside any parentheses
 * (consumed; true) or the end of the statement (false). Every table named
 * where a table reference starts — first, after ',', after JOIN, inside
 * nested join parentheses — is recorded with its alias; ON and USING
 * conditions, index hints and derived tables are skipped. A position where
 * a table should start but does not (or the end of the text there) sets
 * tables_unknown. */
static bool read_table_refs(lexer *lx, const char *stop, table_refs *refs, tf_statement *out)
{
    size_t groups = 0; /* open join parentheses */
    bool want_table = true;
    for (;;) {
        token t = next_token(lx);
        if (is_end(&t)) {
            if (want_table)
                out->tables_unknown = true;
            return false;
        }
        if (groups == 0 && word_is(&t, stop))
            return true;
        if (want_table) {
            want_table = false;
            if (is_punct(&t, '(')) {
                token inner = peek_token(lx);
                if (starts_query(&inner)) {
                    skip_group(lx);
                    read_alias(lx, NULL);
                } else {
                    groups++;
                    want_table = true;
                }
                continue;
            }
            if (word_is(&t, "LATERAL") && accept_punct(lx, '(')) {
                skip_group(lx);
                read_alias(lx, NULL);
                continue;
            }
            name n;
            if (!read_name_from(lx, &t, &n)) {
                out->tables_unknown = true;
                continue;
            }
            if (accept_word(lx, "PARTITION") && accept_punct(lx, '('))
                skip_group(lx);
            tf_str alias = {0};
            read_alias(lx, &alias);
            if (refs->count == MAX_REFS) {
                refs->overflow = true;
                out->tables_truncated = true;
                continue;
            }
            refs->tables[refs->count] = n;
            refs->aliases[refs->count] = alias;
            refs->count++;
            continue;
        }
        if (is_punct(&t, ','))
            want_table = true;
        else if (word_is(&t, "JOIN") || word_is(&t, "STRAIGHT_JOIN"))
            want_table = true;
        else if (is_punct(&t, '('))
            skip_group(lx);
        else if (is_punct(&t, ')') && groups > 0)
            groups--;
    }
}

static void add_refs(const table_refs *refs, tf_statement *out)
{
    for (size_t i = 0; i < refs->count; i++)
        add_table(out, &refs->tables[i], true);
}

/* ---- statements ---- */

static void mark_stored_code(tf_statement *out)
{
    out->kind = TF_STMT_DML;
    out->tables_unknown = true;
}

/* INSERT|REPLACE [LOW_PRIORITY|DELAYED|HIGH_PRIORITY] [IGNORE] [INTO] t */
static void parse_insert(lexer *lx, tf_statement *out)
{
    out->kind = TF_STMT_DML;
    while (accept_word(lx, "LOW_PRIORITY") || accept_word(lx, "DELAYED") ||
           accept_word(lx, "HIGH_PRIORITY") || accept_word(lx, "IGNORE"))
        ;
    accept_word(lx, "INTO");
    read_one_table(lx, out);
}

/* LOAD DATA|XML ... INFILE 'f' [REPLACE|IGNORE] INTO TABLE t */
static void parse_load(lexer *lx, tf_statement *out)
{
    out->kind = TF_STMT_DML;
    if (!skip_to_word(lx, "INTO") || !accept_word(lx, "TABLE")) {
        out->tables_unknown = true;
        return;
    }
    read_one_table(lx, out);
}

/* UPDATE [LOW_PRIORITY] [IGNORE] table_references SET ...: every table
 * before SET, since which of them SET writes is decided by column names. */
static void parse_update(lexer *lx, tf_statement *out)
{
    out->kind = TF_STMT_DML;
    while (accept_word(lx, "LOW_PRIORITY") || accept_word(lx, "IGNORE"))
        ;
    table_refs refs;
    refs.count = 0;
    refs.overflow = false;
    if (!read_table_refs(lx, "SET", &refs, out))
        out->tables_unknown = true;
    add_refs(&refs, out);
}

/* The targets of a DELETE: name[.*] [, name[.*] ...]. */
static size_t read_delete_targets(lexer *lx, name *targets, size_t cap, tf_statement *out)
{
    size_t count = 0;
    do {
        name n;
        if (!read_name(lx, &n)) {
            out->tables_unknown = true;
            break;
        }
        if (count == cap)
            out->tables_truncated = true;
        else
            targets[count++] = n;
    } while (accept_punct(lx, ','));
    return count;
}

/* DELETE [LOW_PRIORITY] [QUICK] [IGNORE] [HISTORY] then
 *   FROM t ...                                  one table
 *   FROM t1[.*], t2[.*] USING table_references  multi-table
 *   t1[.*], t2[.*] FROM table_references        multi-table
 * A multi-table target may be an alias: it is resolved through the
 * references, and every reference is listed after the targets. */
static void parse_delete(lexer *lx, tf_statement *out)
{
    out->kind = TF_STMT_DML;
    while (accept_word(lx, "LOW_PRIORITY") || accept_word(lx, "QUICK") ||
           accept_word(lx, "IGNORE") || accept_word(lx, "HISTORY"))
        ;
    name targets[TF_STATEMENT_MAX_TABLES];
    size_t target_count;
    table_refs refs;
    refs.count = 0;
    refs.overflow = false;
    if (accept_word(lx, "FROM")) {
        target_count = read_delete_targets(lx, targets, TF_STATEMENT_MAX_TABLES, out);
        if (!accept_word(lx, "USING")) {
            if (target_count > 1) /* FROM a, b needs USING: the text is cut */
                out->tables_unknown = true;
            for (size_t i = 0; i < target_count; i++)
                add_table(out, &targets[i], true);
            return;
        }
    } else {
        target_count = read_delete_targets(lx, targets, TF_STATEMENT_MAX_TABLES, out);
        if (!accept_word(lx, "FROM")) {
            out->tables_unknown = true;
            for (size_t i = 0; i < target_count; i++)
                add_table(out, &targets[i], true);
            return;
        }
    }
    read_table_refs(lx, "WHERE", &refs, out); /* a multi-table DELETE may have no WHERE */
    for (size_t i = 0; i < target_count; i++) {
        const name *target = &targets[i];
        const name *resolved = target;
        if (target->database.len == 0)
            for (size_t r = 0; r < refs.count; r++)
                if (refs.aliases[r].len > 0 && str_equal_nocase(refs.aliases[r], target->table)) {
                    resolved = &refs.tables[r];
                    break;
                }
        add_table(out, resolved, true);
    }
    add_refs(&refs, out);
}

/* ALTER TABLE [IF EXISTS] t clauses: RENAME [TO|AS] n (not RENAME COLUMN,
 * INDEX, KEY or CONSTRAINT) sets the rename; "TABLE u" in a clause
 * (EXCHANGE PARTITION p WITH TABLE u, CONVERT PARTITION p TO TABLE u,
 * CONVERT TABLE u TO PARTITION p) lists u, whose rows move. Only clauses
 * outside parentheses count: column definitions and CHECK expressions are
 * inside them. */
static void parse_alter_table(lexer *lx, tf_statement *out)
{
    static const char *const renamed_parts[] = {"COLUMN", "INDEX", "KEY", "CONSTRAINT", NULL};
    out->kind = TF_STMT_ALTER_TABLE;
    accept_if_exists(lx, out);
    name n;
    if (!read_name(lx, &n)) {
        out->tables_unknown = true;
        return;
    }
    tf_statement_table *altered = add_table(out, &n, false);
    size_t depth = 0;
    bool after_dot = false; /* a word after '.' is a name, not a keyword */
    for (;;) {
        token t = next_token(lx);
        if (is_end(&t))
            return;
        bool keyword = depth == 0 && !after_dot && t.kind == TOK_WORD;
        after_dot = is_punct(&t, '.');
        if (is_punct(&t, '(')) {
            depth++;
        } else if (is_punct(&t, ')')) {
            if (depth > 0)
                depth--;
        } else if (keyword && word_is(&t, "RENAME")) {
            token what = peek_token(lx);
            if (word_in(&what, renamed_parts))
                continue;
            if (!accept_word(lx, "TO"))
                accept_word(lx, "AS");
            name to;
            if (read_name(lx, &to))
                set_rename_to(out, altered, &to);
            else
                out->tables_unknown = true;
        } else if (keyword && word_is(&t, "TABLE")) {
            read_one_table(lx, out);
        } else if (keyword && (word_is(&t, "EXCHANGE") || word_is(&t, "TRUNCATE") ||
                               word_is(&t, "DISCARD") || word_is(&t, "IMPORT"))) {
            out->changes_rows = true;
        } else if (keyword && (word_is(&t, "DROP") || word_is(&t, "CONVERT"))) {
            token what = peek_token(lx);
            if (word_is(&what, "PARTITION") || (word_is(&t, "CONVERT") && word_is(&what, "TABLE")))
                out->changes_rows = true;
        }
    }
}

/* Skips a DEFINER's value: user[@host] or CURRENT_USER[()]. */
static void skip_definer(lexer *lx)
{
    accept_punct(lx, '=');
    next_token(lx);
    if (accept_punct(lx, '@'))
        next_token(lx);
    else if (accept_punct(lx, '('))
        skip_group(lx);
}

/* The words between CREATE/ALTER and the object keyword: OR REPLACE,
 * TEMPORARY, ALGORITHM=x, DEFINER=u, SQL SECURITY x, ... Returns the first
 * token that is none of them. */
static token skip_object_modifiers(lexer *lx, tf_statement *out)
{
    static const char *const flags[] = {"UNIQUE",  "FULLTEXT",  "SPATIAL", "ONLINE",
                                        "OFFLINE", "AGGREGATE", "IGNORE",  NULL};
    for (;;) {
        token t = next_token(lx);
        if (word_is(&t, "OR") && accept_word(lx, "REPLACE")) {
            out->replaces = true;
        } else if (word_is(&t, "TEMPORARY")) {
            out->temporary = true;
        } else if (word_is(&t, "ALGORITHM")) {
            accept_punct(lx, '=');
            next_token(lx);
        } else if (word_is(&t, "DEFINER")) {
            skip_definer(lx);
        } else if (word_is(&t, "SQL")) {
            accept_word(lx, "SECURITY");
            next_token(lx);
        } else if (!word_in(&t, flags)) {
            return t;
        }
    }
}

/* Objects whose CREATE/ALTER/DROP touches no schema: TF_STMT_OTHER. */
static bool is_account_object(const token *t)
{
    static const char *const objects[] = {"USER",     "ROLE",    "SERVER", "INSTANCE",
                                          "RESOURCE", "PREPARE", NULL};
    return word_in(t, objects);
}

/* The table after the first ON outside parentheses: CREATE INDEX i ON t,
 * DROP INDEX i ON t, CREATE TRIGGER g BEFORE INSERT ON t. */
static void read_table_after_on(lexer *lx, tf_statement *out)
{
    if (skip_to_word(lx, "ON"))
        read_one_table(lx, out);
    else
        out->tables_unknown = true;
}

static void parse_create(lexer *lx, tf_statement *out)
{
    token object = skip_object_modifiers(lx, out);
    out->kind = TF_STMT_OTHER_DDL;
    if (word_is(&object, "TABLE")) {
        out->kind = TF_STMT_CREATE_TABLE;
        accept_if_not_exists(lx, out);
        read_one_table(lx, out);
    } else if (word_is(&object, "INDEX") || word_is(&object, "TRIGGER")) {
        accept_if_not_exists(lx, out);
        read_table_after_on(lx, out);
    } else if (word_is(&object, "VIEW") || word_is(&object, "SEQUENCE")) {
        accept_if_not_exists(lx, out);
        read_one_table(lx, out);
    } else if (word_is(&object, "DATABASE") || word_is(&object, "SCHEMA")) {
        accept_if_not_exists(lx, out);
        read_database(lx, out);
    } else if (is_account_object(&object)) {
        out->kind = TF_STMT_OTHER;
    }
}

static void parse_alter(lexer *lx, tf_statement *out)
{
    token object = skip_object_modifiers(lx, out);
    out->kind = TF_STMT_OTHER_DDL;
    if (word_is(&object, "TABLE")) {
        parse_alter_table(lx, out);
    } else if (word_is(&object, "VIEW") || word_is(&object, "SEQUENCE")) {
        accept_if_exists(lx, out);
        read_one_table(lx, out);
    } else if (word_is(&object, "DATABASE") || word_is(&object, "SCHEMA")) {
        /* ALTER DATABASE without a name changes the current database. */
        token t = peek_token(lx);
        if (is_identifier(&t) && !word_in(&t, database_options))
            read_database(lx, out);
    } else if (is_account_object(&object)) {
        out->kind = TF_STMT_OTHER;
    }
}

static void parse_drop(lexer *lx, tf_statement *out)
{
    token object = skip_object_modifiers(lx, out);
    out->kind = TF_STMT_OTHER_DDL;
    if (word_is(&object, "TABLE") || word_is(&object, "TABLES")) {
        out->kind = TF_STMT_DROP_TABLE;
        accept_if_exists(lx, out);
        read_name_list(lx, out);
    } else if (word_is(&object, "DATABASE") || word_is(&object, "SCHEMA")) {
        out->kind = TF_STMT_DROP_DATABASE;
        accept_if_exists(lx, out);
        read_database(lx, out);
    } else if (word_is(&object, "INDEX")) {
        accept_if_exists(lx, out);
        read_table_after_on(lx, out);
    } else if (word_is(&object, "VIEW") || word_is(&object, "SEQUENCE")) {
        accept_if_exists(lx, out);
        read_name_list(lx, out);
    } else if (is_account_object(&object)) {
        out->kind = TF_STMT_OTHER;
    } else {
        accept_if_exists(lx, out);
    }
}

/* RENAME TABLE[S] [IF EXISTS] a [WAIT n|NOWAIT] TO b [, c TO d ...] */
static void parse_rename(lexer *lx, tf_statement *out)
{
    if (!accept_word(lx, "TABLE") && !accept_word(lx, "TABLES"))
        return; /* RENAME USER */
    out->kind = TF_STMT_RENAME_TABLE;
    accept_if_exists(lx, out);
    do {
        name from, to;
        if (!read_name(lx, &from)) {
            out->tables_unknown = true;
            return;
        }
        if (accept_word(lx, "WAIT"))
            next_token(lx);
        else
            accept_word(lx, "NOWAIT");
        if (!accept_word(lx, "TO") || !read_name(lx, &to)) {
            add_table(out, &from, false);
            out->tables_unknown = true;
            return;
        }
        set_rename_to(out, add_table(out, &from, false), &to);
    } while (accept_punct(lx, ','));
}

/* OPTIMIZE|ANALYZE|REPAIR|CHECK|CHECKSUM [NO_WRITE_TO_BINLOG|LOCAL] TABLE t, ... */
static void parse_table_maintenance(lexer *lx, tf_statement *out)
{
    if (!accept_word(lx, "NO_WRITE_TO_BINLOG"))
        accept_word(lx, "LOCAL");
    if (!accept_word(lx, "TABLE") && !accept_word(lx, "TABLES"))
        return; /* MariaDB's ANALYZE SELECT ... reads */
    out->kind = TF_STMT_OTHER_DDL;
    read_name_list(lx, out);
}

/* WITH [RECURSIVE] cte [(columns)] AS (query) [, ...]: consumed, so that the
 * statement it prefixes can be read. false if it does not have that shape. */
static bool skip_with_clause(lexer *lx)
{
    accept_word(lx, "RECURSIVE");
    do {
        token cte = next_token(lx);
        if (!is_identifier(&cte))
            return false;
        if (accept_punct(lx, '('))
            skip_group(lx);
        if (!accept_word(lx, "AS") || !accept_punct(lx, '('))
            return false;
        skip_group(lx);
    } while (accept_punct(lx, ','));
    return true;
}

/* One statement from its first token. */
static void classify_statement(lexer *lx, const token *first, tf_statement *out)
{
    static const char *const stored_code[] = {"SELECT", "DO", "CALL", "EXECUTE", NULL};
    static const char *const maintenance[] = {"OPTIMIZE", "ANALYZE",  "REPAIR",
                                              "CHECK",    "CHECKSUM", NULL};
    const token *t = first;
    if (is_punct(t, '(')) {
        mark_stored_code(out); /* (SELECT f()) */
    } else if (word_is(t, "BEGIN")) {
        if (accept_word(lx, "NOT"))
            mark_stored_code(out); /* MariaDB's BEGIN NOT ATOMIC ... END block */
        else
            out->kind = TF_STMT_BEGIN;
    } else if (word_is(t, "START")) {
        if (accept_word(lx, "TRANSACTION"))
            out->kind = TF_STMT_BEGIN;
    } else if (word_is(t, "COMMIT")) {
        out->kind = TF_STMT_COMMIT;
    } else if (word_is(t, "ROLLBACK")) {
        out->kind = TF_STMT_ROLLBACK;
        accept_word(lx, "WORK");
        out->to_savepoint = accept_word(lx, "TO");
    } else if (word_is(t, "SAVEPOINT")) {
        out->kind = TF_STMT_SAVEPOINT;
    } else if (word_is(t, "XA")) {
        out->xa = true;
        token verb = next_token(lx);
        if (word_is(&verb, "START") || word_is(&verb, "BEGIN"))
            out->kind = TF_STMT_BEGIN;
        else if (word_is(&verb, "END") || word_is(&verb, "PREPARE") || word_is(&verb, "COMMIT"))
            out->kind = TF_STMT_COMMIT;
        else if (word_is(&verb, "ROLLBACK"))
            out->kind = TF_STMT_ROLLBACK;
    } else if (word_is(t, "INSERT") || word_is(t, "REPLACE")) {
        parse_insert(lx, out);
    } else if (word_is(t, "UPDATE")) {
        parse_update(lx, out);
    } else if (word_is(t, "DELETE")) {
        parse_delete(lx, out);
    } else if (word_is(t, "LOAD")) {
        if (accept_word(lx, "DATA") || accept_word(lx, "XML"))
            parse_load(lx, out);
    } else if (word_in(t, stored_code)) {
        mark_stored_code(out);
    } else if (word_is(t, "TRUNCATE")) {
        out->kind = TF_STMT_TRUNCATE;
        accept_word(lx, "TABLE");
        read_one_table(lx, out);
    } else if (word_is(t, "ALTER")) {
        parse_alter(lx, out);
    } else if (word_is(t, "CREATE")) {
        parse_create(lx, out);
    } else if (word_is(t, "DROP")) {
        parse_drop(lx, out);
    } else if (word_is(t, "RENAME")) {
        parse_rename(lx, out);
    } else if (word_in(t, maintenance)) {
        parse_table_maintenance(lx, out);
    } else if (word_is(t, "IMPORT") && accept_word(lx, "TABLE")) {
        out->kind = TF_STMT_OTHER_DDL; /* MySQL's IMPORT TABLE FROM 'x.sdi': names in files */
        out->tables_unknown = true;
    }
}

void tf_statement_classify(const char *sql, size_t len, tf_statement *out)
{
    memset(out, 0, sizeof *out);
    lexer lx = {.sql = sql ? sql : "", .len = sql ? len : 0};
    for (;;) {
        token first = next_token(&lx);
        if (word_is(&first, "WITH")) {
            /* WITH ... UPDATE|DELETE|INSERT|SELECT: read what follows it. */
            if (!skip_with_clause(&lx)) {
                mark_stored_code(out);
                return;
            }
            continue;
        }
        if (word_is(&first, "SET") && accept_word(&lx, "STATEMENT")) {
            /* MariaDB's SET STATEMENT var=value [, ...] FOR statement. */
            if (!skip_to_word(&lx, "FOR"))
                return;
            continue;
        }
        classify_statement(&lx, &first, out);
        return;
    }
}
