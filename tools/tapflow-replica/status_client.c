/* status_client.c — a blocking HTTP/1.0 GET of a flow's /status, bounded
 * by a timeout: the daemon's endpoint answers in one write and closes. */
#include "status_client.h"

#include <bson/bson.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define STATUS_MAX_BYTES (4u << 20)
#define STATUS_TIMEOUT_MS 5000

static void say(char *why, size_t why_cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t why_cap, const char *fmt, ...)
{
    if (!why || !why_cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_cap, fmt, ap);
    va_end(ap);
}

static int connect_to(const char *host, uint16_t port, char *why, size_t why_cap)
{
    char port_text[8];
    snprintf(port_text, sizeof port_text, "%u", port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, port_text, &hints, &res);
    if (rc != 0) {
        say(why, why_cap, "cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        say(why, why_cap, "nothing listens on %s:%u (%s)", host, port, strerror(errno));
    return fd;
}

char *tfr_status_get(const char *host, uint16_t port, char *why, size_t why_cap)
{
    int fd = connect_to(host, port, why, why_cap);
    if (fd < 0)
        return NULL;
    char req[320];
    int n = snprintf(req, sizeof req,
                     "GET /status HTTP/1.0\r\nHost: %.200s:%u\r\nConnection: close\r\n\r\n", host,
                     port);
    if (write(fd, req, (size_t)n) != n) {
        say(why, why_cap, "sending to %s:%u: %s", host, port, strerror(errno));
        close(fd);
        return NULL;
    }
    bson_string_t *resp = bson_string_new(NULL);
    char buf[16384];
    bool failed = false;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, STATUS_TIMEOUT_MS) <= 0) {
            say(why, why_cap, "%s:%u did not answer within %d s", host, port,
                STATUS_TIMEOUT_MS / 1000);
            failed = true;
            break;
        }
        ssize_t r = read(fd, buf, sizeof buf - 1);
        if (r < 0) {
            say(why, why_cap, "reading from %s:%u: %s", host, port, strerror(errno));
            failed = true;
            break;
        }
        if (r == 0)
            break;
        buf[r] = '\0';
        bson_string_append(resp, buf);
        if (resp->len >= STATUS_MAX_BYTES)
            break;
    }
    close(fd);
    char *out = bson_string_free(resp, false);
    const char *body = strstr(out, "\r\n\r\n");
    if (!failed && (strncmp(out, "HTTP/1.", 7) != 0 || strncmp(out + 8, " 200", 4) != 0 || !body)) {
        say(why, why_cap, "%s:%u did not answer a tapflow status", host, port);
        failed = true;
    }
    if (failed) {
        bson_free(out);
        return NULL;
    }
    memmove(out, body + 4, strlen(body + 4) + 1);
    return out;
}
