/* flow_check.h — a flow with operators checked against its source's
 * tables before it is saved (flow_check.c). */
#ifndef TAPFLOW_TAP_FLOW_CHECK_H
#define TAPFLOW_TAP_FLOW_CHECK_H

#include "tap.h"
#include "view.h"

/* True when spec uses no operator (filter, include, exclude, rename on any
 * node, add_fields: nothing to check) or when the view accepts it with the source
 * tables' columns as they are now. Otherwise false with err: the view's
 * "file:line:column: ..." message (unknown column, type mismatch), a
 * table missing from the source, or why the source could not be read. */
bool tap_flow_check_source(tap_session *s, const tf_flow_spec *spec, tf_error *err);

#endif
