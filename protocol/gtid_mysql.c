/* gtid_mysql.c — MySQL GTID sets: text, binary encoding and set algebra.
 *
 * A set is an array of sources (uuid, tag) kept in MySQL's Tsid_map order
 * (uuid bytes, then tag), each with sorted, merged, non-adjacent half-open
 * intervals [start, end). Keeping that invariant after every operation is
 * what makes text and binary output canonical and equality a plain compare.
 */
#include "reader_internal.h"
#include "text_cursor_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct gtid_source {
    uint8_t uuid[TF_GTID_UUID_LEN];
    char tag[TF_GTID_TAG_MAX + 1];
    tf_gtid_interval *intervals;
    size_t count;
    size_t cap;
} gtid_source;

struct tf_gtid_set {
    gtid_source *sources;
    size_t count;
    size_t cap;
};

/* ---------------------------------------------------------------------
 * Sources and intervals
 * --------------------------------------------------------------------- */

static int source_key_compare(const uint8_t *uuid_a, const char *tag_a, const uint8_t *uuid_b,
                              const char *tag_b)
{
    int c = memcmp(uuid_a, uuid_b, TF_GTID_UUID_LEN);
    if (c != 0)
        return c;
    return strcmp(tag_a, tag_b);
}

/* Binary search; returns the index of the source or where it would go. */
static size_t set_find_source(const tf_gtid_set *set, const uint8_t *uuid, const char *tag,
                              bool *found)
{
    size_t lo = 0, hi = set->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = source_key_compare(set->sources[mid].uuid, set->sources[mid].tag, uuid, tag);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static gtid_source *set_get_source(tf_gtid_set *set, const uint8_t *uuid, const char *tag)
{
    bool found;
    size_t i = set_find_source(set, uuid, tag, &found);
    if (found)
        return &set->sources[i];
    if (set->count == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 4;
        gtid_source *grown = realloc(set->sources, cap * sizeof *grown);
        if (!grown)
            return NULL;
        set->sources = grown;
        set->cap = cap;
    }
    memmove(&set->sources[i + 1], &set->sources[i], (set->count - i) * sizeof *set->sources);
    gtid_source *src = &set->sources[i];
    memset(src, 0, sizeof *src);
    memcpy(src->uuid, uuid, TF_GTID_UUID_LEN);
    snprintf(src->tag, sizeof src->tag, "%s", tag);
    set->count++;
    return src;
}

static void set_remove_source(tf_gtid_set *set, size_t i)
{
    free(set->sources[i].intervals);
    memmove(&set->sources[i], &set->sources[i + 1], (set->count - i - 1) * sizeof *set->sources);
    set->count--;
}

static bool source_reserve(gtid_source *src, size_t need)
{
    if (need <= src->cap)
        return true;
    size_t cap = src->cap ? src->cap : 4;
    while (cap < need)
        cap *= 2;
    tf_gtid_interval *grown = realloc(src->intervals, cap * sizeof *grown);
    if (!grown)
        return false;
    src->intervals = grown;
    src->cap = cap;
    return true;
}

/* Adds [start, end) keeping intervals sorted and merged; intervals that
 * touch (one's end is the other's start) merge too, as in MySQL. */
static bool source_add_interval(gtid_source *src, int64_t start, int64_t end)
{
    tf_gtid_interval *iv = src->intervals;
    size_t n = src->count;
    /* Fast path: transactions arrive in order, extending the last one. */
    if (n > 0 && start >= iv[n - 1].start) {
        if (start <= iv[n - 1].end) {
            if (end > iv[n - 1].end)
                iv[n - 1].end = end;
            return true;
        }
    }
    /* first: the first interval whose end reaches start. */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (iv[mid].end < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t first = lo;
    size_t last = first; /* one past the last interval that touches [start, end) */
    while (last < n && iv[last].start <= end)
        last++;
    if (first == last) {
        if (!source_reserve(src, n + 1))
            return false;
        iv = src->intervals;
        memmove(&iv[first + 1], &iv[first], (n - first) * sizeof *iv);
        iv[first].start = start;
        iv[first].end = end;
        src->count++;
        return true;
    }
    if (iv[first].start < start)
        start = iv[first].start;
    if (iv[last - 1].end > end)
        end = iv[last - 1].end;
    iv[first].start = start;
    iv[first].end = end;
    memmove(&iv[first + 1], &iv[last], (n - last) * sizeof *iv);
    src->count -= last - first - 1;
    return true;
}

static bool set_add_interval(tf_gtid_set *set, const uint8_t *uuid, const char *tag, int64_t start,
                             int64_t end)
{
    gtid_source *src = set_get_source(set, uuid, tag);
    if (!src)
        return false;
    if (!source_add_interval(src, start, end)) {
        if (src->count == 0)
            set_remove_source(set, (size_t)(src - set->sources));
        return false;
    }
    return true;
}

/* Index of the interval containing gno, or -1. */
static bool source_contains(const gtid_source *src, int64_t gno)
{
    size_t lo = 0, hi = src->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (src->intervals[mid].end <= gno)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < src->count && src->intervals[lo].start <= gno;
}

static tf_status out_of_memory(tf_error *err, const char *what)
{
    return tf_error_set(err, TF_ERR_IO, 0, "out of memory while %s", what);
}

/* ---------------------------------------------------------------------
 * UUIDs and tags
 * --------------------------------------------------------------------- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Describes a byte for an error message: 'x' or byte 0x0a. */
/* Reads a 36-character UUID at text[0..avail). On error sets *bad to the
 * offset (from text) of the offending byte and returns the reason. */
static const char *uuid_scan(const char *text, size_t avail, uint8_t uuid[TF_GTID_UUID_LEN],
                             size_t *bad)
{
    size_t byte = 0;
    for (size_t i = 0; i < TF_GTID_UUID_TEXT_LEN; i++) {
        if (i >= avail) {
            *bad = i;
            return "the UUID is cut short (36 characters expected)";
        }
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-') {
                *bad = i;
                return "expected '-' in the UUID";
            }
            continue;
        }
        int hi = hex_value(text[i]);
        if (hi < 0) {
            *bad = i;
            return "expected a hex digit in the UUID";
        }
        i++;
        if (i >= avail) {
            *bad = i;
            return "the UUID is cut short (36 characters expected)";
        }
        int lo = hex_value(text[i]);
        if (lo < 0) {
            *bad = i;
            return "expected a hex digit in the UUID";
        }
        uuid[byte++] = (uint8_t)(hi << 4 | lo);
    }
    return NULL;
}

tf_status tf_gtid_uuid_parse(const char *text, size_t len, uint8_t uuid[TF_GTID_UUID_LEN],
                             tf_error *err)
{
    size_t bad = 0;
    const char *why = uuid_scan(text, len, uuid, &bad);
    if (why)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0, "UUID: %s at column %zu", why, bad + 1);
    if (len != TF_GTID_UUID_TEXT_LEN)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "UUID: unexpected text after the UUID at column %d",
                            TF_GTID_UUID_TEXT_LEN + 1);
    return TF_OK;
}

void tf_gtid_uuid_format(const uint8_t uuid[TF_GTID_UUID_LEN], char out[TF_GTID_UUID_TEXT_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < TF_GTID_UUID_LEN; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = digits[uuid[i] >> 4];
        out[o++] = digits[uuid[i] & 0xf];
    }
    out[o] = '\0';
}

static bool is_tag_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_tag_char(char c) { return is_tag_start(c) || (c >= '0' && c <= '9'); }

/* Checks MySQL's tag rule and copies the tag lowercased into out. Returns
 * NULL or the reason, with *bad the offending offset. */
static const char *tag_scan(const char *tag, size_t len, char out[TF_GTID_TAG_MAX + 1], size_t *bad)
{
    if (len > TF_GTID_TAG_MAX) {
        *bad = TF_GTID_TAG_MAX;
        return "the tag is longer than 32 characters";
    }
    for (size_t i = 0; i < len; i++) {
        if (i == 0 ? !is_tag_start(tag[i]) : !is_tag_char(tag[i])) {
            *bad = i;
            return i == 0 ? "a tag starts with a letter or '_'"
                          : "a tag holds only letters, digits and '_'";
        }
        char c = tag[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[len] = '\0';
    return NULL;
}

tf_status tf_gtid_set_tag(tf_gtid *gtid, const char *tag, size_t len, tf_error *err)
{
    size_t bad = 0;
    char lowered[TF_GTID_TAG_MAX + 1];
    const char *why = tag_scan(tag, len, lowered, &bad);
    if (why)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0, "GTID tag: %s at column %zu", why, bad + 1);
    memcpy(gtid->tag, lowered, len + 1);
    return TF_OK;
}

/* ---------------------------------------------------------------------
 * Text
 * --------------------------------------------------------------------- */

static bool at_end(const text_cursor *c) { return c->pos >= c->len; }
static char peek(const text_cursor *c) { return c->text[c->pos]; }

static tf_status read_uuid(text_cursor *c, uint8_t uuid[TF_GTID_UUID_LEN])
{
    size_t bad = 0;
    if (at_end(c) || hex_value(peek(c)) < 0)
        return text_cursor_found_error(c, "expected a UUID");
    const char *why = uuid_scan(c->text + c->pos, c->len - c->pos, uuid, &bad);
    if (why)
        return text_cursor_error(c, c->pos + bad, "%s", why);
    c->pos += TF_GTID_UUID_TEXT_LEN;
    return TF_OK;
}

/* A transaction number: 1..TF_GTID_GNO_MAX in decimal digits. */
static tf_status read_gno(text_cursor *c, int64_t *out)
{
    size_t start = c->pos;
    if (at_end(c) || peek(c) < '0' || peek(c) > '9')
        return text_cursor_found_error(c, "expected a transaction number");
    uint64_t v = 0;
    bool too_big = false;
    while (!at_end(c) && peek(c) >= '0' && peek(c) <= '9') {
        unsigned d = (unsigned)(peek(c) - '0');
        if (v > ((uint64_t)TF_GTID_GNO_MAX - d) / 10)
            too_big = true;
        else
            v = v * 10 + d;
        c->pos++;
    }
    if (too_big)
        return text_cursor_error(c, start, "transaction number exceeds %lld (MySQL's maximum)",
                          (long long)TF_GTID_GNO_MAX);
    if (v == 0)
        return text_cursor_error(c, start, "transaction number 0 is not valid (numbers start at 1)");
    *out = (int64_t)v;
    return TF_OK;
}

static tf_status read_tag(text_cursor *c, char tag[TF_GTID_TAG_MAX + 1])
{
    size_t start = c->pos;
    while (!at_end(c) && is_tag_char(peek(c)))
        c->pos++;
    size_t bad = 0;
    const char *why = tag_scan(c->text + start, c->pos - start, tag, &bad);
    if (why)
        return text_cursor_error(c, start + bad, "%s", why);
    return TF_OK;
}

/* One "uuid(:tag|:interval)*" element. Adds to set. */
static tf_status read_element(text_cursor *c, tf_gtid_set *set)
{
    uint8_t uuid[TF_GTID_UUID_LEN];
    char tag[TF_GTID_TAG_MAX + 1] = "";
    tf_status st = read_uuid(c, uuid);
    if (st != TF_OK)
        return st;
    text_cursor_skip_space(c);
    while (!at_end(c) && peek(c) == ':') {
        c->pos++;
        text_cursor_skip_space(c);
        if (!at_end(c) && is_tag_start(peek(c))) {
            st = read_tag(c, tag);
            if (st != TF_OK)
                return st;
            text_cursor_skip_space(c);
            continue;
        }
        if (at_end(c) || peek(c) < '0' || peek(c) > '9')
            return text_cursor_found_error(c, "expected a transaction number or a tag after ':'");
        size_t interval_at = c->pos;
        int64_t first, last;
        st = read_gno(c, &first);
        if (st != TF_OK)
            return st;
        last = first;
        text_cursor_skip_space(c);
        if (!at_end(c) && peek(c) == '-') {
            c->pos++;
            text_cursor_skip_space(c);
            st = read_gno(c, &last);
            if (st != TF_OK)
                return st;
            if (last < first)
                return text_cursor_error(c, interval_at, "interval %lld-%lld ends before it starts",
                                  (long long)first, (long long)last);
            text_cursor_skip_space(c);
        }
        if (!set_add_interval(set, uuid, tag, first, last + 1))
            return out_of_memory(c->err, "parsing a GTID set");
    }
    return TF_OK;
}

tf_status tf_gtid_set_add_text(tf_gtid_set *set, const char *text, size_t len, tf_error *err)
{
    tf_gtid_set *parsed = tf_gtid_set_new();
    if (!parsed)
        return out_of_memory(err, "parsing a GTID set");
    text_cursor c = {.text = text, .len = len, .what = "GTID set", .err = err};
    tf_status st = TF_OK;
    text_cursor_skip_space(&c);
    while (!at_end(&c)) {
        /* MySQL accepts empty elements: ",a:1,,b:2,". */
        if (peek(&c) == ',') {
            c.pos++;
            text_cursor_skip_space(&c);
            continue;
        }
        st = read_element(&c, parsed);
        if (st != TF_OK)
            break;
        if (!at_end(&c) && peek(&c) != ',') {
            st = text_cursor_found_error(&c, "expected ':' or ','");
            break;
        }
    }
    if (st == TF_OK && !tf_gtid_set_union(set, parsed))
        st = out_of_memory(err, "parsing a GTID set");
    tf_gtid_set_destroy(parsed);
    return st;
}

tf_status tf_gtid_set_parse(const char *text, size_t len, tf_gtid_set **out, tf_error *err)
{
    *out = NULL;
    tf_gtid_set *set = tf_gtid_set_new();
    if (!set)
        return out_of_memory(err, "parsing a GTID set");
    tf_status st = tf_gtid_set_add_text(set, text, len, err);
    if (st != TF_OK) {
        tf_gtid_set_destroy(set);
        return st;
    }
    *out = set;
    return TF_OK;
}

tf_status tf_gtid_parse(const char *text, size_t len, tf_gtid *out, tf_error *err)
{
    text_cursor c = {.text = text, .len = len, .what = "GTID", .err = err};
    memset(out, 0, sizeof *out);
    text_cursor_skip_space(&c);
    tf_status st = read_uuid(&c, out->uuid);
    if (st != TF_OK)
        return st;
    text_cursor_skip_space(&c);
    if (at_end(&c) || peek(&c) != ':')
        return text_cursor_found_error(&c, "expected ':'");
    c.pos++;
    text_cursor_skip_space(&c);
    if (!at_end(&c) && is_tag_start(peek(&c))) {
        st = read_tag(&c, out->tag);
        if (st != TF_OK)
            return st;
        text_cursor_skip_space(&c);
        if (at_end(&c) || peek(&c) != ':')
            return text_cursor_found_error(&c, "expected ':' after the tag");
        c.pos++;
        text_cursor_skip_space(&c);
    }
    st = read_gno(&c, &out->gno);
    if (st != TF_OK)
        return st;
    text_cursor_skip_space(&c);
    if (!at_end(&c))
        return text_cursor_found_error(&c, "expected the end of the GTID");
    return TF_OK;
}

/* Appends to a bounded buffer, counting the full length (snprintf style). */
typedef struct text_out {
    char *buf;
    size_t cap;
    size_t len;
} text_out;

static void out_append(text_out *o, const char *s, size_t n)
{
    if (o->len < o->cap) {
        size_t room = o->cap - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

static void out_str(text_out *o, const char *s) { out_append(o, s, strlen(s)); }

static size_t out_finish(text_out *o)
{
    if (o->cap > 0)
        o->buf[o->len < o->cap ? o->len : o->cap - 1] = '\0';
    return o->len;
}

static void out_intervals(text_out *o, const gtid_source *src)
{
    char num[48];
    for (size_t i = 0; i < src->count; i++) {
        const tf_gtid_interval *iv = &src->intervals[i];
        int n;
        if (iv->end - iv->start == 1)
            n = snprintf(num, sizeof num, ":%lld", (long long)iv->start);
        else
            n = snprintf(num, sizeof num, ":%lld-%lld", (long long)iv->start,
                         (long long)(iv->end - 1));
        out_append(o, num, (size_t)n);
    }
}

size_t tf_gtid_format(const tf_gtid *gtid, char *buf, size_t cap)
{
    text_out o = {.buf = buf, .cap = cap};
    char uuid[TF_GTID_UUID_TEXT_LEN + 1];
    char num[32];
    tf_gtid_uuid_format(gtid->uuid, uuid);
    out_str(&o, uuid);
    if (gtid->tag[0]) {
        out_str(&o, ":");
        out_str(&o, gtid->tag);
    }
    int n = snprintf(num, sizeof num, ":%lld", (long long)gtid->gno);
    out_append(&o, num, (size_t)n);
    return out_finish(&o);
}

size_t tf_gtid_set_format(const tf_gtid_set *set, tf_gtid_text_style style, char *buf, size_t cap)
{
    text_out o = {.buf = buf, .cap = cap};
    const char *separator = style == TF_GTID_TEXT_MYSQL ? ",\n" : ",";
    for (size_t i = 0; i < set->count; i++) {
        const gtid_source *src = &set->sources[i];
        /* MySQL prints a uuid once, then its untagged intervals, then each
         * tag with its intervals: "uuid:1-5:a:1-2:b:7". */
        bool same_uuid =
            i > 0 && memcmp(set->sources[i - 1].uuid, src->uuid, TF_GTID_UUID_LEN) == 0;
        if (!same_uuid) {
            char uuid[TF_GTID_UUID_TEXT_LEN + 1];
            if (i > 0)
                out_str(&o, separator);
            tf_gtid_uuid_format(src->uuid, uuid);
            out_str(&o, uuid);
        }
        if (src->tag[0]) {
            out_str(&o, ":");
            out_str(&o, src->tag);
        }
        out_intervals(&o, src);
    }
    return out_finish(&o);
}

char *tf_gtid_set_to_text(const tf_gtid_set *set, tf_gtid_text_style style)
{
    size_t n = tf_gtid_set_format(set, style, NULL, 0);
    char *text = malloc(n + 1);
    if (text)
        tf_gtid_set_format(set, style, text, n + 1);
    return text;
}

/* ---------------------------------------------------------------------
 * Set lifecycle and algebra
 * --------------------------------------------------------------------- */

tf_gtid_set *tf_gtid_set_new(void) { return calloc(1, sizeof(tf_gtid_set)); }

void tf_gtid_set_destroy(tf_gtid_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->count; i++)
        free(set->sources[i].intervals);
    free(set->sources);
    free(set);
}

tf_gtid_set *tf_gtid_set_copy(const tf_gtid_set *set)
{
    tf_gtid_set *copy = tf_gtid_set_new();
    if (copy && !tf_gtid_set_union(copy, set)) {
        tf_gtid_set_destroy(copy);
        copy = NULL;
    }
    return copy;
}

static tf_status check_gno(int64_t gno, tf_error *err)
{
    if (gno < 1 || gno > TF_GTID_GNO_MAX)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "GTID: transaction number %lld is outside 1..%lld", (long long)gno,
                            (long long)TF_GTID_GNO_MAX);
    return TF_OK;
}

/* Validates and lowercases a caller's tag (NULL means untagged). */
static tf_status normalise_tag(const char *tag, char out[TF_GTID_TAG_MAX + 1], tf_error *err)
{
    tf_gtid tmp;
    if (!tag) {
        out[0] = '\0';
        return TF_OK;
    }
    size_t len = strnlen(tag, TF_GTID_TAG_MAX + 1);
    tf_status st = tf_gtid_set_tag(&tmp, tag, len, err);
    if (st == TF_OK)
        memcpy(out, tmp.tag, sizeof tmp.tag);
    return st;
}

tf_status tf_gtid_set_add_range(tf_gtid_set *set, const uint8_t uuid[TF_GTID_UUID_LEN],
                                const char *tag, int64_t first, int64_t last, tf_error *err)
{
    char lowered[TF_GTID_TAG_MAX + 1];
    tf_status st = normalise_tag(tag, lowered, err);
    if (st == TF_OK)
        st = check_gno(first, err);
    if (st == TF_OK)
        st = check_gno(last, err);
    if (st != TF_OK)
        return st;
    if (last < first)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0, "GTID range %lld-%lld ends before it starts",
                            (long long)first, (long long)last);
    if (!set_add_interval(set, uuid, lowered, first, last + 1))
        return out_of_memory(err, "adding to a GTID set");
    return TF_OK;
}

tf_status tf_gtid_set_add(tf_gtid_set *set, const tf_gtid *gtid, tf_error *err)
{
    return tf_gtid_set_add_range(set, gtid->uuid, gtid->tag, gtid->gno, gtid->gno, err);
}

bool tf_gtid_set_union(tf_gtid_set *set, const tf_gtid_set *other)
{
    if (set == other) /* would read sources while growing them */
        return true;
    for (size_t i = 0; i < other->count; i++) {
        const gtid_source *from = &other->sources[i];
        gtid_source *to = set_get_source(set, from->uuid, from->tag);
        if (!to)
            return false;
        if (!source_reserve(to, to->count + from->count))
            return false; /* to keeps its old intervals, so it is still valid */
        for (size_t k = 0; k < from->count; k++)
            if (!source_add_interval(to, from->intervals[k].start, from->intervals[k].end))
                return false;
    }
    return true;
}

/* src -= the sorted, merged intervals of minus. */
static bool source_subtract(gtid_source *src, const gtid_source *minus)
{
    /* The result has at most count + minus->count intervals (each removed
     * interval can split one in two). */
    size_t cap = src->count + minus->count;
    tf_gtid_interval *out = malloc((cap ? cap : 1) * sizeof *out);
    if (!out)
        return false;
    size_t n = 0, k = 0;
    for (size_t i = 0; i < src->count; i++) {
        int64_t start = src->intervals[i].start;
        int64_t end = src->intervals[i].end;
        while (k < minus->count && minus->intervals[k].end <= start)
            k++;
        size_t j = k;
        while (start < end && j < minus->count && minus->intervals[j].start < end) {
            if (minus->intervals[j].start > start)
                out[n++] = (tf_gtid_interval){start, minus->intervals[j].start};
            if (minus->intervals[j].end > start)
                start = minus->intervals[j].end;
            j++;
        }
        if (start < end)
            out[n++] = (tf_gtid_interval){start, end};
    }
    free(src->intervals);
    src->intervals = out;
    src->count = n;
    src->cap = cap ? cap : 1;
    return true;
}

bool tf_gtid_set_subtract(tf_gtid_set *set, const tf_gtid_set *other)
{
    if (set == other) { /* would remove sources while walking them */
        while (set->count > 0)
            set_remove_source(set, set->count - 1);
        return true;
    }
    for (size_t i = 0; i < other->count; i++) {
        const gtid_source *minus = &other->sources[i];
        bool found;
        size_t at = set_find_source(set, minus->uuid, minus->tag, &found);
        if (!found)
            continue;
        if (!source_subtract(&set->sources[at], minus))
            return false;
        if (set->sources[at].count == 0)
            set_remove_source(set, at);
    }
    return true;
}

bool tf_gtid_set_contains(const tf_gtid_set *set, const tf_gtid *gtid)
{
    char lowered[TF_GTID_TAG_MAX + 1];
    if (normalise_tag(gtid->tag, lowered, NULL) != TF_OK)
        return false;
    bool found;
    size_t i = set_find_source(set, gtid->uuid, lowered, &found);
    return found && source_contains(&set->sources[i], gtid->gno);
}

bool tf_gtid_set_is_subset(const tf_gtid_set *sub, const tf_gtid_set *super)
{
    for (size_t i = 0; i < sub->count; i++) {
        const gtid_source *s = &sub->sources[i];
        bool found;
        size_t at = set_find_source(super, s->uuid, s->tag, &found);
        if (!found)
            return false;
        const gtid_source *p = &super->sources[at];
        /* Both are merged, so each interval of s must fit inside one of p. */
        size_t k = 0;
        for (size_t j = 0; j < s->count; j++) {
            while (k < p->count && p->intervals[k].end < s->intervals[j].end)
                k++;
            if (k == p->count || p->intervals[k].start > s->intervals[j].start)
                return false;
        }
    }
    return true;
}

bool tf_gtid_set_equal(const tf_gtid_set *a, const tf_gtid_set *b)
{
    if (a->count != b->count)
        return false;
    for (size_t i = 0; i < a->count; i++) {
        const gtid_source *x = &a->sources[i], *y = &b->sources[i];
        if (source_key_compare(x->uuid, x->tag, y->uuid, y->tag) != 0 || x->count != y->count)
            return false;
        if (x->count && memcmp(x->intervals, y->intervals, x->count * sizeof *x->intervals) != 0)
            return false;
    }
    return true;
}

bool tf_gtid_set_is_empty(const tf_gtid_set *set) { return set->count == 0; }

size_t tf_gtid_set_source_count(const tf_gtid_set *set) { return set->count; }

bool tf_gtid_set_source_at(const tf_gtid_set *set, size_t i, tf_gtid_source_view *view)
{
    if (i >= set->count)
        return false;
    const gtid_source *src = &set->sources[i];
    view->uuid = src->uuid;
    view->tag = src->tag;
    view->intervals = src->intervals;
    view->interval_count = src->count;
    return true;
}

/* ---------------------------------------------------------------------
 * Binary encoding (Gtid_set::encode / add_gtid_encoding)
 * --------------------------------------------------------------------- */

#define GTID_FORMAT_UNTAGGED 0
#define GTID_FORMAT_TAGGED 1

static bool set_is_tagged(const tf_gtid_set *set)
{
    for (size_t i = 0; i < set->count; i++)
        if (set->sources[i].tag[0])
            return true;
    return false;
}

size_t tf_gtid_set_binary_length(const tf_gtid_set *set)
{
    bool tagged = set_is_tagged(set);
    size_t n = 8;
    for (size_t i = 0; i < set->count; i++) {
        n += TF_GTID_UUID_LEN + 8 + 16 * set->sources[i].count;
        if (tagged)
            n += 1 + strlen(set->sources[i].tag);
    }
    return n;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

size_t tf_gtid_set_encode_binary(const tf_gtid_set *set, uint8_t *buf, size_t cap)
{
    size_t need = tf_gtid_set_binary_length(set);
    if (!buf || cap < need)
        return need;
    bool tagged = set_is_tagged(set);
    uint64_t n_sids = set->count;
    /* Tagged: the format byte at both ends, the count in the six between. */
    uint64_t header =
        tagged ? ((uint64_t)GTID_FORMAT_TAGGED << 56) | (n_sids << 8) | GTID_FORMAT_TAGGED : n_sids;
    put_le64(buf, header);
    uint8_t *p = buf + 8;
    for (size_t i = 0; i < set->count; i++) {
        const gtid_source *src = &set->sources[i];
        memcpy(p, src->uuid, TF_GTID_UUID_LEN);
        p += TF_GTID_UUID_LEN;
        if (tagged) {
            /* mysql::serialization varlen: one byte, value << 1, for < 128. */
            size_t tag_len = strlen(src->tag);
            *p++ = (uint8_t)(tag_len << 1);
            memcpy(p, src->tag, tag_len);
            p += tag_len;
        }
        put_le64(p, src->count);
        p += 8;
        for (size_t k = 0; k < src->count; k++) {
            put_le64(p, (uint64_t)src->intervals[k].start);
            put_le64(p + 8, (uint64_t)src->intervals[k].end);
            p += 16;
        }
    }
    return need;
}

/* Decodes one source's intervals into set. Checks MySQL's rule: each
 * interval starts after the previous one ends (not touching) and is not
 * empty; ends never pass GNO_END. */
static tf_status decode_intervals(tf_reader *r, tf_gtid_set *set, const uint8_t *uuid,
                                  const char *tag, uint64_t n_intervals)
{
    int64_t last_end = 0;
    if (n_intervals > tf_reader_left(r) / 16)
        return tf_reader_bad(r, "%llu intervals need %llu bytes but only %zu remain",
                             (unsigned long long)n_intervals,
                             (unsigned long long)n_intervals * 16ull, tf_reader_left(r));
    for (uint64_t k = 0; k < n_intervals; k++) {
        size_t at = r->pos;
        uint64_t start_u, end_u;
        tf_status st = tf_read_u64le(r, &start_u, "interval start");
        if (st == TF_OK)
            st = tf_read_u64le(r, &end_u, "interval end");
        if (st != TF_OK)
            return st;
        int64_t start = (int64_t)start_u, end = (int64_t)end_u;
        if (start <= last_end || end <= start) {
            r->pos = at;
            return tf_reader_bad(r,
                                 "interval %llu [%lld, %lld) is empty or does not start after "
                                 "the previous end %lld",
                                 (unsigned long long)k, (long long)start, (long long)end,
                                 (long long)last_end);
        }
        last_end = end;
        if (!set_add_interval(set, uuid, tag, start, end))
            return out_of_memory(r->err, "decoding a GTID set");
    }
    return TF_OK;
}

tf_status tf_gtid_set_decode_binary(const uint8_t *buf, size_t len, tf_gtid_set **out,
                                    tf_error *err)
{
    *out = NULL;
    tf_reader r;
    tf_reader_init(&r, buf, len, 0, "GTID set encoding", TF_MALFORMED, err);
    uint64_t header;
    tf_status st = tf_read_u64le(&r, &header, "source count");
    if (st != TF_OK)
        return st;
    unsigned format = (unsigned)(header >> 56);
    uint64_t n_sids;
    if (format == GTID_FORMAT_UNTAGGED) {
        n_sids = header;
    } else if (format == GTID_FORMAT_TAGGED) {
        n_sids = (header >> 8) & UINT64_C(0xffffffffffff);
    } else {
        r.pos = 0;
        return tf_reader_bad(&r, "unknown format byte 0x%02x (0 untagged, 1 tagged)", format);
    }
    /* Each source needs at least 24 bytes: reject absurd counts before
     * doing any work. */
    if (n_sids > tf_reader_left(&r) / 24)
        return tf_reader_bad(&r, "%llu sources need at least %llu bytes but only %zu remain",
                             (unsigned long long)n_sids, (unsigned long long)n_sids * 24ull,
                             tf_reader_left(&r));
    tf_gtid_set *set = tf_gtid_set_new();
    if (!set)
        return out_of_memory(err, "decoding a GTID set");
    for (uint64_t i = 0; i < n_sids && st == TF_OK; i++) {
        const uint8_t *uuid;
        char tag[TF_GTID_TAG_MAX + 1] = "";
        st = tf_read_bytes(&r, TF_GTID_UUID_LEN, &uuid, "source UUID");
        if (st == TF_OK && format == GTID_FORMAT_TAGGED) {
            uint8_t tag_len_code;
            size_t tag_at = r.pos;
            const uint8_t *tag_bytes;
            st = tf_read_u8(&r, &tag_len_code, "tag length");
            if (st == TF_OK && (tag_len_code & 1)) {
                r.pos = tag_at;
                st = tf_reader_bad(&r, "tag length uses a multi-byte form, but a tag has at "
                                       "most 32 bytes");
            }
            if (st == TF_OK && (size_t)(tag_len_code >> 1) > TF_GTID_TAG_MAX) {
                r.pos = tag_at;
                st = tf_reader_bad(&r, "tag length %u exceeds 32", tag_len_code >> 1u);
            }
            if (st == TF_OK)
                st = tf_read_bytes(&r, tag_len_code >> 1, &tag_bytes, "tag");
            if (st == TF_OK) {
                size_t bad = 0;
                const char *why = tag_scan((const char *)tag_bytes, tag_len_code >> 1, tag, &bad);
                if (why) {
                    r.pos = tag_at + 1 + bad;
                    st = tf_reader_bad(&r, "%s", why);
                }
            }
        }
        uint64_t n_intervals = 0;
        if (st == TF_OK)
            st = tf_read_u64le(&r, &n_intervals, "interval count");
        if (st == TF_OK)
            st = decode_intervals(&r, set, uuid, tag, n_intervals);
    }
    if (st == TF_OK && tf_reader_left(&r) != 0)
        st = tf_reader_bad(&r, "%zu bytes after the last source", tf_reader_left(&r));
    if (st != TF_OK) {
        tf_gtid_set_destroy(set);
        return st;
    }
    *out = set;
    return TF_OK;
}
