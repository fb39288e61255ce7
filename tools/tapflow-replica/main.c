/* main.c — tapflow-replica: keeps a flow's MongoDB wide table in step with
 * its MySQL/MariaDB tables (run.c), and `status NAME` asks a running one
 * how it does (status_http.c). */
#include "daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fputs("usage: tapflow-replica --flow FILE --config FILE [--gtid-resume] [--resnapshot]\n"
          "       tapflow-replica status NAME [--config FILE]\n"
          "\n"
          "Runs the flow of FILE (the guide's Tap Shell language: Flow, read_from, lookup,\n"
          "write_to): a consistent snapshot of its tables builds the documents, then the\n"
          "source's binlog keeps them exact. A checkpoint (GTID position and view state)\n"
          "is kept in the target database (tapflow_checkpoints, tapflow_state).\n"
          "\n"
          "  --flow FILE      the flow file\n"
          "  --config FILE    datasources and settings (see config.c for the format)\n"
          "  --gtid-resume    continue from the flow's checkpoint without re-reading the\n"
          "                   source tables (first run: takes the snapshot)\n"
          "  --resnapshot     ignore the checkpoint and build the documents again\n"
          "\n"
          "status NAME prints `job current status is: running, qps is: N, total rows: N,\n"
          "delay is: Nms` from the flow's status endpoint (status_listen in [tapflow] of\n"
          "--config FILE, default 127.0.0.1:7470).\n"
          "\n"
          "SIGTERM or SIGINT: flush documents, write a checkpoint, exit 0.\n",
          f);
}

static int status_command(int argc, char **argv)
{
    const char *name = NULL, *config = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config = argv[++i];
        else if (argv[i][0] != '-' && !name)
            name = argv[i];
        else {
            fprintf(stderr, "tapflow-replica status: unexpected argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!name) {
        fprintf(stderr, "usage: tapflow-replica status NAME [--config FILE]\n");
        return 2;
    }
    tfr_config cfg;
    tfr_config_defaults(&cfg);
    cfg.status_host = bson_strdup(TFR_DEFAULT_STATUS_HOST);
    if (config) {
        bson_free(cfg.status_host);
        tf_error err = {0};
        if (!tfr_config_load(config, &cfg, &err)) {
            fprintf(stderr, "tapflow-replica status: %s\n", err.message);
            return 1;
        }
    }
    int rc = tfr_status_client(name, cfg.status_host, cfg.status_port);
    tfr_config_cleanup(&cfg);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "status") == 0)
        return status_command(argc, argv);
    tfr_run_options opt = {0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--flow") == 0 && i + 1 < argc) {
            opt.flow_file = argv[++i];
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            opt.config_file = argv[++i];
        } else if (strcmp(argv[i], "--gtid-resume") == 0) {
            opt.gtid_resume = true;
        } else if (strcmp(argv[i], "--resnapshot") == 0) {
            opt.resnapshot = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "tapflow-replica: unknown or incomplete option %s\n\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!opt.flow_file || !opt.config_file) {
        fprintf(stderr, "tapflow-replica: --flow and --config are required\n\n");
        usage(stderr);
        return 2;
    }
    if (opt.gtid_resume && opt.resnapshot) {
        fprintf(stderr, "tapflow-replica: --gtid-resume and --resnapshot exclude each other\n");
        return 2;
    }
    return tfr_run(&opt);
}
