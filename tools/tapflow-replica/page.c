/* page.c — the live status page (GET /). */
#include "daemon.h"

const char tfr_status_page[] = "<!doctype html><title>tapflow</title>";
