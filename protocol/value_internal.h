/* value_internal.h — what the files of section 5 (value.c, decimal.c,
 * temporal.c, json_binary.c, value_bson.c) share with each other and with
 * nobody else. */
#ifndef TAPFLOW_VALUE_INTERNAL_H
#define TAPFLOW_VALUE_INTERNAL_H

#include "reader_internal.h"

/* Row-image decoders of the temporal column types. The reader's context
 * names the column type; each sets out->kind and its fields. */
tf_status tf_temporal_decode_date(tf_reader *r, tf_value *out);
tf_status tf_temporal_decode_datetime_old(tf_reader *r, tf_value *out);
tf_status tf_temporal_decode_timestamp_old(tf_reader *r, tf_value *out);
tf_status tf_temporal_decode_time_old(tf_reader *r, tf_value *out);
tf_status tf_temporal_decode_datetime2(tf_reader *r, unsigned fsp, tf_value *out);
tf_status tf_temporal_decode_timestamp2(tf_reader *r, unsigned fsp, tf_value *out);
tf_status tf_temporal_decode_time2(tf_reader *r, unsigned fsp, tf_value *out);

/* MySQL's in-memory "packed" temporal integers (my_time.h), used by binary
 * JSON's opaque DATE/DATETIME/TIMESTAMP (datetime packing) and TIME (time
 * packing). Return false when a field is out of its range. */
bool tf_temporal_from_packed_datetime(int64_t packed, tf_temporal *out);
bool tf_temporal_from_packed_time(int64_t packed, tf_temporal *out);

/* Appends a DECIMAL's exact text as Decimal128, or as a string when it needs
 * more than 34 significant digits (the documented choice). */
bool tf_decimal_text_append_bson(bson_t *doc, const char *key, size_t key_len, const char *text);

#endif /* TAPFLOW_VALUE_INTERNAL_H */
