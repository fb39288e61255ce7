/* gtid_mariadb.c — MariaDB GTIDs (domain-server-seq) and positions.
 *
 * A position holds at most one GTID per replication domain: within a domain
 * sequence numbers grow, so the last GTID says everything before it was
 * applied. That is what @slave_connect_state takes and what tapflow
 * checkpoints. Entries stay sorted by domain so formatting and comparing are
 * canonical.
 */
#include "protocol.h"
#include "text_cursor_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tf_mariadb_gtid_pos_init(tf_mariadb_gtid_pos *pos) { memset(pos, 0, sizeof *pos); }

void tf_mariadb_gtid_pos_cleanup(tf_mariadb_gtid_pos *pos)
{
    free(pos->gtids);
    memset(pos, 0, sizeof *pos);
}

/* Index of domain_id or where it would go. */
static size_t pos_find(const tf_mariadb_gtid_pos *pos, uint32_t domain_id, bool *found)
{
    size_t lo = 0, hi = pos->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t d = pos->gtids[mid].domain_id;
        if (d == domain_id) {
            *found = true;
            return mid;
        }
        if (d < domain_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

bool tf_mariadb_gtid_pos_update(tf_mariadb_gtid_pos *pos, const tf_mariadb_gtid *gtid)
{
    bool found;
    size_t i = pos_find(pos, gtid->domain_id, &found);
    if (found) {
        pos->gtids[i] = *gtid;
        return true;
    }
    if (pos->count == pos->cap) {
        size_t cap = pos->cap ? pos->cap * 2 : 4;
        tf_mariadb_gtid *grown = realloc(pos->gtids, cap * sizeof *grown);
        if (!grown)
            return false;
        pos->gtids = grown;
        pos->cap = cap;
    }
    memmove(&pos->gtids[i + 1], &pos->gtids[i], (pos->count - i) * sizeof *pos->gtids);
    pos->gtids[i] = *gtid;
    pos->count++;
    return true;
}

bool tf_mariadb_gtid_pos_from_list(tf_mariadb_gtid_pos *pos, const tf_mariadb_gtid *gtids,
                                   size_t count)
{
    pos->count = 0;
    for (size_t i = 0; i < count; i++)
        if (!tf_mariadb_gtid_pos_update(pos, &gtids[i]))
            return false;
    return true;
}

bool tf_mariadb_gtid_pos_copy(tf_mariadb_gtid_pos *dst, const tf_mariadb_gtid_pos *src)
{
    return tf_mariadb_gtid_pos_from_list(dst, src->gtids, src->count);
}

const tf_mariadb_gtid *tf_mariadb_gtid_pos_find(const tf_mariadb_gtid_pos *pos, uint32_t domain_id)
{
    bool found;
    size_t i = pos_find(pos, domain_id, &found);
    return found ? &pos->gtids[i] : NULL;
}

bool tf_mariadb_gtid_pos_contains(const tf_mariadb_gtid_pos *pos, const tf_mariadb_gtid *gtid)
{
    const tf_mariadb_gtid *have = tf_mariadb_gtid_pos_find(pos, gtid->domain_id);
    return have && have->seq_no >= gtid->seq_no;
}

bool tf_mariadb_gtid_pos_covers(const tf_mariadb_gtid_pos *pos, const tf_mariadb_gtid_pos *other)
{
    for (size_t i = 0; i < other->count; i++)
        if (!tf_mariadb_gtid_pos_contains(pos, &other->gtids[i]))
            return false;
    return true;
}

bool tf_mariadb_gtid_pos_equal(const tf_mariadb_gtid_pos *a, const tf_mariadb_gtid_pos *b)
{
    if (a->count != b->count)
        return false;
    for (size_t i = 0; i < a->count; i++) {
        const tf_mariadb_gtid *x = &a->gtids[i], *y = &b->gtids[i];
        if (x->domain_id != y->domain_id || x->server_id != y->server_id || x->seq_no != y->seq_no)
            return false;
    }
    return true;
}

/* ---------------------------------------------------------------------
 * Text
 * --------------------------------------------------------------------- */


static bool is_digit(const text_cursor *c)
{
    return c->pos < c->len && c->text[c->pos] >= '0' && c->text[c->pos] <= '9';
}

static tf_status read_number(text_cursor *c, uint64_t max, const char *name, uint64_t *out)
{
    size_t start = c->pos;
    if (!is_digit(c)) {
        char expected[64];
        snprintf(expected, sizeof expected, "expected a %s", name);
        return text_cursor_found_error(c, expected);
    }
    uint64_t v = 0;
    bool too_big = false;
    while (is_digit(c)) {
        unsigned d = (unsigned)(c->text[c->pos] - '0');
        if (v > (max - d) / 10)
            too_big = true;
        else
            v = v * 10 + d;
        c->pos++;
    }
    if (too_big)
        return text_cursor_error(c, start, "%s exceeds %llu", name, (unsigned long long)max);
    *out = v;
    return TF_OK;
}

static tf_status read_gtid(text_cursor *c, tf_mariadb_gtid *out)
{
    uint64_t domain = 0, server = 0, seq = 0; /* set on TF_OK; -O3 cannot see it */
    tf_status st = read_number(c, UINT32_MAX, "domain id", &domain);
    if (st != TF_OK)
        return st;
    if (c->pos >= c->len || c->text[c->pos] != '-')
        return text_cursor_found_error(c, "expected '-' after the domain id");
    c->pos++;
    st = read_number(c, UINT32_MAX, "server id", &server);
    if (st != TF_OK)
        return st;
    if (c->pos >= c->len || c->text[c->pos] != '-')
        return text_cursor_found_error(c, "expected '-' after the server id");
    c->pos++;
    st = read_number(c, UINT64_MAX, "sequence number", &seq);
    if (st != TF_OK)
        return st;
    out->domain_id = (uint32_t)domain;
    out->server_id = (uint32_t)server;
    out->seq_no = seq;
    return TF_OK;
}

tf_status tf_mariadb_gtid_parse(const char *text, size_t len, tf_mariadb_gtid *out, tf_error *err)
{
    text_cursor c = {.text = text, .len = len, .what = "MariaDB GTID", .err = err};
    text_cursor_skip_space(&c);
    tf_status st = read_gtid(&c, out);
    if (st != TF_OK)
        return st;
    text_cursor_skip_space(&c);
    if (c.pos < c.len)
        return text_cursor_found_error(&c, "expected the end of the GTID");
    return TF_OK;
}

tf_status tf_mariadb_gtid_pos_parse(const char *text, size_t len, tf_mariadb_gtid_pos *pos,
                                    tf_error *err)
{
    text_cursor c = {.text = text, .len = len, .what = "MariaDB GTID position", .err = err};
    tf_mariadb_gtid_pos parsed;
    tf_mariadb_gtid_pos_init(&parsed);
    tf_status st = TF_OK;
    text_cursor_skip_space(&c);
    while (c.pos < c.len) {
        size_t at = c.pos;
        tf_mariadb_gtid gtid = {0};
        st = read_gtid(&c, &gtid);
        if (st != TF_OK)
            break;
        const tf_mariadb_gtid *dup = tf_mariadb_gtid_pos_find(&parsed, gtid.domain_id);
        if (dup) {
            st = text_cursor_error(&c, at,
                            "domain %u appears twice (%u-%u-%llu and %u-%u-%llu); a position "
                            "holds one GTID per domain",
                            gtid.domain_id, dup->domain_id, dup->server_id,
                            (unsigned long long)dup->seq_no, gtid.domain_id, gtid.server_id,
                            (unsigned long long)gtid.seq_no);
            break;
        }
        if (!tf_mariadb_gtid_pos_update(&parsed, &gtid)) {
            st = tf_error_set(err, TF_ERR_IO, 0, "out of memory while parsing a GTID position");
            break;
        }
        text_cursor_skip_space(&c);
        if (c.pos >= c.len)
            break;
        if (c.text[c.pos] != ',') {
            st = text_cursor_found_error(&c, "expected ','");
            break;
        }
        c.pos++;
        text_cursor_skip_space(&c);
        if (c.pos >= c.len) {
            st = text_cursor_found_error(&c, "expected a GTID after ','");
            break;
        }
    }
    if (st != TF_OK) {
        tf_mariadb_gtid_pos_cleanup(&parsed);
        return st;
    }
    tf_mariadb_gtid_pos_cleanup(pos);
    *pos = parsed;
    return TF_OK;
}

size_t tf_mariadb_gtid_format(const tf_mariadb_gtid *gtid, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%u-%u-%llu", gtid->domain_id, gtid->server_id,
                     (unsigned long long)gtid->seq_no);
    return n < 0 ? 0 : (size_t)n;
}

size_t tf_mariadb_gtid_pos_format(const tf_mariadb_gtid_pos *pos, char *buf, size_t cap)
{
    size_t total = 0;
    if (cap > 0)
        buf[0] = '\0';
    for (size_t i = 0; i < pos->count; i++) {
        char one[64];
        int n = snprintf(one, sizeof one, "%s%u-%u-%llu", i ? "," : "", pos->gtids[i].domain_id,
                         pos->gtids[i].server_id, (unsigned long long)pos->gtids[i].seq_no);
        if (n < 0)
            continue;
        if (total < cap) {
            size_t room = cap - total;
            size_t copy = (size_t)n < room - 1 ? (size_t)n : room - 1;
            memcpy(buf + total, one, copy);
            buf[total + copy] = '\0';
        }
        total += (size_t)n;
    }
    return total;
}
