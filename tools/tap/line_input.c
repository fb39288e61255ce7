/* line_input.c — the interactive prompt: libedit's readline interface for
 * line editing, with the history kept in HOME/history across sessions. */
#include "tap.h"

#include <bson/bson.h>
#include <editline/readline.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HISTORY_MAX 1000

struct tap_line_input {
    char *history_path;
};

tap_line_input *tap_line_input_open(const char *home)
{
    tap_line_input *li = bson_malloc0(sizeof *li);
    mkdir(home, 0700);
    li->history_path = bson_strdup_printf("%s/history", home);
    using_history();
    stifle_history(HISTORY_MAX);
    read_history(li->history_path);
    return li;
}

char *tap_line_input_read(tap_line_input *li, const char *prompt)
{
    (void)li;
    return readline(prompt);
}

void tap_line_input_remember(tap_line_input *li, const char *text)
{
    /* A datasource added with a URI may carry user:password@: not kept. */
    if (strstr(text, "datasource") && strchr(text, '@'))
        return;
    add_history(text);
    write_history(li->history_path);
}

void tap_line_input_close(tap_line_input *li)
{
    if (!li)
        return;
    write_history(li->history_path);
    bson_free(li->history_path);
    bson_free(li);
}
