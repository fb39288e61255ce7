/* verify.h — `tapflow-replica verify` (verify.c). */
#ifndef TAPFLOW_REPLICA_VERIFY_H
#define TAPFLOW_REPLICA_VERIFY_H

/* argv[1] is "verify"; returns the exit status (see verify.c's usage). */
int tfr_verify_command(int argc, char **argv);

#endif
