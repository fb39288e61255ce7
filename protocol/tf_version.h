/* tf_version.h — which tapflow this is (protocol/version.c). */
#ifndef TAPFLOW_TF_VERSION_H
#define TAPFLOW_TF_VERSION_H

/* The release, as checkpoints record it. */
#define TF_RELEASE "0.1.0-dev"
/* "0.1.0-dev (git 1a2b3c4d5e6f)": the release and the revision built
 * (version.c), what every program's --version prints. */
const char *tf_version(void);

#endif
