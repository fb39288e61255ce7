/* view_internal.h — shared between the files of view/ only. */
#ifndef TAPFLOW_VIEW_INTERNAL_H
#define TAPFLOW_VIEW_INTERNAL_H

#include "view.h"

/* Checks a parsed spec as a whole (flow_spec.c): the root and target are
 * given, lookups read the flow's source, paths are well formed and unique,
 * every dotted path has a lookup as parent (fills lookup.parent), relation
 * parent fields carry their parent's path as prefix. Messages name the
 * flow file line and column. */
tf_status tf_flow_spec_validate(tf_flow_spec *spec, tf_error *err);

#endif
