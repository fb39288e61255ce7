/* version.c — what --version prints: the release and the git revision it
 * was built from (revision.h, written at build time by
 * tools/revision.cmake). */
#include "protocol.h"
#include "revision.h"

const char *tf_version(void) { return TF_RELEASE " (git " TAPFLOW_REVISION ")"; }
