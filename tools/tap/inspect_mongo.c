/* inspect_mongo.c — show tables (collections), desc, peek and count on a
 * MongoDB datasource, through sink/'s admin calls. */
#include "daemon.h"
#include "sink.h"
#include "tap.h"

static bool print_name(const char *name, void *arg)
{
    (*(size_t *)arg)++;
    printf("%s\n", name);
    return true;
}

static bool print_document(const bson_t *doc, void *arg)
{
    (*(size_t *)arg)++;
    char *json = bson_as_relaxed_extended_json(doc, NULL);
    tap_json_pretty(json, stdout);
    bson_free(json);
    return true;
}

/* desc: the fields of the first document, nested ones with their path. */
static void print_fields(const bson_t *doc, const char *prefix)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, doc))
        return;
    while (bson_iter_next(&it)) {
        char *path = prefix[0] ? bson_strdup_printf("%s.%s", prefix, bson_iter_key(&it))
                               : bson_strdup(bson_iter_key(&it));
        printf("%-48s %s\n", path, tf_bson_type_name(bson_iter_type(&it)));
        const uint8_t *data;
        uint32_t len;
        bson_t sub;
        if (BSON_ITER_HOLDS_DOCUMENT(&it)) {
            bson_iter_document(&it, &len, &data);
            if (bson_init_static(&sub, data, len))
                print_fields(&sub, path);
        } else if (BSON_ITER_HOLDS_ARRAY(&it)) {
            /* An array of documents: the first element's fields. */
            bson_iter_t elems;
            if (bson_iter_recurse(&it, &elems) && bson_iter_next(&elems) &&
                BSON_ITER_HOLDS_DOCUMENT(&elems)) {
                bson_iter_document(&elems, &len, &data);
                char *elem_path = bson_strdup_printf("%s[]", path);
                if (bson_init_static(&sub, data, len))
                    print_fields(&sub, elem_path);
                bson_free(elem_path);
            }
        }
        bson_free(path);
    }
}

static bool desc_document(const bson_t *doc, void *arg)
{
    (*(size_t *)arg)++;
    printf("%-48s %s\n", "FIELD", "TYPE");
    print_fields(doc, "");
    return false;
}

bool tap_mongo_inspect(const tfr_datasource *ds, tap_inspect_what what, const char *name,
                       long limit, tf_error *err)
{
    tf_admin *admin = tf_admin_open(ds->uri, 5000, err);
    if (!admin)
        return false;
    size_t count = 0;
    int64_t n = 0;
    bool ok = false;
    switch (what) {
    case TAP_SHOW_TABLES:
        ok = tf_admin_list_collections(admin, ds->database, print_name, &count, err);
        if (ok && count == 0)
            printf("no collections in %s\n", ds->database);
        break;
    case TAP_DESC:
        ok = tf_admin_find(admin, ds->database, name, NULL, 1, desc_document, &count, err);
        if (ok && count == 0)
            printf("%s has no documents\n", name);
        break;
    case TAP_PEEK:
        ok = tf_admin_find(admin, ds->database, name, NULL, limit, print_document, &count, err);
        if (ok && count == 0)
            printf("%s has no documents\n", name);
        break;
    case TAP_COUNT:
        ok = tf_admin_count(admin, ds->database, name, &n, err);
        if (ok)
            printf("%lld\n", (long long)n);
        break;
    }
    fflush(stdout);
    tf_admin_destroy(admin);
    if (!ok)
        tf_error_prefix(err, "datasource %.100s", ds->name);
    return ok;
}
