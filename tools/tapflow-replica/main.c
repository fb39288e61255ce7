/* main.c — tapflow-replica: keeps a flow's MongoDB wide table in step with
 * its MySQL/MariaDB tables (run.c), and `status NAME` asks a running one
 * how it does (status_http.c). */
#include "daemon.h"
#include "verify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fputs("usage: tapflow-replica --flow FILE [--config FILE] [--gtid-resume] [--resnapshot]\n"
          "                       [--status-listen HOST:PORT]\n"
          "       tapflow-replica status NAME [--config FILE]\n"
          "       tapflow-replica verify --flow FILE [--config FILE] [--counts | --sample N]\n"
          "                              [--repair] (see verify --help)\n"
          "\n"
          "Runs the flow of FILE (the guide's Tap Shell language: Flow, read_from, lookup,\n"
          "write_to): a consistent snapshot of its tables builds the documents, then the\n"
          "source's binlog keeps them exact. A checkpoint (GTID position and view state)\n"
          "is kept in the target database (tapflow_checkpoints, tapflow_state).\n"
          "\n"
          "  --flow FILE      the flow file\n"
          "  --config FILE    datasources and settings (see config.c for the format);\n"
          "                   default: env TAPFLOW_CONFIG, else ~/.tapflow/tapflow.conf\n"
          "  --gtid-resume    continue from the flow's checkpoint without re-reading the\n"
          "                   source tables (first run: takes the snapshot)\n"
          "  --resnapshot     ignore the checkpoint and build the documents again\n"
          "  --status-listen HOST:PORT  the status endpoint, over status_listen of the config\n"
          "\n"
          "status NAME prints `job current status is: running, qps is: N, total rows: N,\n"
          "delay is: Nms` from the flow's status endpoint: the port in HOME/run/NAME.json\n"
          "when tap started the flow (HOME: home in [tapflow], else env TAPFLOW_HOME, else\n"
          "~/.tapflow), else status_listen in [tapflow] (default 127.0.0.1:7470).\n"
          "\n"
          "SIGTERM or SIGINT: flush documents, write a checkpoint, exit 0.\n"
          "--version prints the release and the git revision.\n",
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
    char default_path[4096];
    if (!config) {
        /* The default file is optional here: without it, the defaults. */
        config = tfr_config_default_path(default_path, sizeof default_path);
        if (access(config, F_OK) != 0)
            config = NULL;
    }
    tf_error err = {0};
    if (config) {
        bson_free(cfg.status_host);
        if (!tfr_config_load(config, &cfg, &err)) {
            fprintf(stderr, "tapflow-replica status: %s\n", err.message);
            return 1;
        }
    }
    char *home = tfr_config_home(&cfg);
    tfr_run_file rf;
    bool found = false;
    if (!tfr_run_file_read(home, name, &rf, &found, &err)) {
        fprintf(stderr, "tapflow-replica status: %s\n", err.message);
        bson_free(home);
        tfr_config_cleanup(&cfg);
        return 1;
    }
    bson_free(home);
    int rc = found ? tfr_status_client(name, TFR_DEFAULT_STATUS_HOST, rf.status_port)
                   : tfr_status_client(name, cfg.status_host, cfg.status_port);
    tfr_config_cleanup(&cfg);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("tapflow-replica %s\n", tf_version());
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "status") == 0)
        return status_command(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "verify") == 0)
        return tfr_verify_command(argc, argv);
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
        } else if (strcmp(argv[i], "--status-listen") == 0 && i + 1 < argc) {
            opt.status_listen = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "tapflow-replica: unknown or incomplete option %s\n\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!opt.flow_file) {
        fprintf(stderr, "tapflow-replica: --flow is required\n\n");
        usage(stderr);
        return 2;
    }
    char default_path[4096];
    if (!opt.config_file) {
        opt.config_file = tfr_config_default_path(default_path, sizeof default_path);
        if (access(opt.config_file, R_OK) != 0) {
            fprintf(stderr,
                    "tapflow-replica: no --config, and the default config %s cannot be read "
                    "(%s)\n",
                    opt.config_file, strerror(errno));
            return 2;
        }
    }
    if (opt.gtid_resume && opt.resnapshot) {
        fprintf(stderr, "tapflow-replica: --gtid-resume and --resnapshot exclude each other\n");
        return 2;
    }
    return tfr_run(&opt);
}
