/* row_json.h — column values written as JSON text directly, without the
 * BSON document that tf_value_append_bson would build first.
 *
 * tapflow-binlog printed every row image as values -> BSON -> JSON; the
 * BSON step was about a fifth of its time. The writer here covers the
 * values a row image mostly holds and gives the very text of that round
 * trip; the rest (SET, JSON, VECTOR, non-ASCII text, zero dates, ...)
 * still takes the BSON path, which stays the reference. */
#ifndef TAPFLOW_BINLOG_ROW_JSON_H
#define TAPFLOW_BINLOG_ROW_JSON_H

#include "out.h"
#include "protocol.h"

/* Writes v (a value of column col) as the relaxed Extended JSON that
 * out_bson_value writes for the element tf_value_append_bson appends for
 * it, and returns true; or returns false, writing nothing, when v is not
 * one of the values handled here (the caller then takes the BSON path).
 * Zero dates and TIMESTAMP's zero value are never handled here: the
 * BSON mapping makes them null, and tapflow-binlog shows them as text. */
bool out_value_json(out_buf *o, const tf_value *v, const tf_column *col);

#endif
