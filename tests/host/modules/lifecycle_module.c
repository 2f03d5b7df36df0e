/*
 * lifecycle_module.c — a module that breaks the shutdown contract (issue 11, defect 3); written
 * only against plugin-api/smart_plugin.h. Config {"mode": M}:
 *   "never_done"        shutdown never calls done;
 *   "never_done_timer"  the same, with a repeating timer of its own left running;
 *   "done_twice"        shutdown calls done twice;
 *   "timer_after_done"  shutdown calls done, then starts a timer whose callback is in this image;
 *   "null_self"         init returns 0 without an instance.
 * "life.ping" answers "life.pong".
 */
#include <stdio.h>
#include <string.h>

#include "smart_plugin.h"

typedef struct life {
    const smart_host *host;
    char mode[32];
    uv_timer_t timer;
} life;

static life the_life; /* one instance per image: a test module */

static void on_timer(uv_timer_t *timer)
{
    (void)timer;
}

static int life_init(const smart_host *host, const char *config_json, size_t config_len,
                     void **self, smart_error *err)
{
    (void)config_len;
    (void)err;
    the_life.host = host;
    const char *p = strstr(config_json, "\"mode\"");
    the_life.mode[0] = '\0';
    if (p != NULL && sscanf(p, "\"mode\" : \"%31[a-z_]\"", the_life.mode) != 1 &&
        sscanf(p, "\"mode\":\"%31[a-z_]\"", the_life.mode) != 1)
        the_life.mode[0] = '\0';
    if (strcmp(the_life.mode, "null_self") == 0) {
        *self = NULL;
        return 0;
    }
    if (strcmp(the_life.mode, "never_done_timer") == 0) {
        uv_timer_init(host->loop, &the_life.timer);
        uv_timer_start(&the_life.timer, on_timer, 10, 10);
    }
    *self = &the_life;
    return 0;
}

static int life_on_event(void *self, const smart_event *event, smart_error *err)
{
    life *l = self;
    if (strcmp(event->topic, "life.ping") != 0)
        return SMART_ENOTSUP;
    return l->host->emit_event(l->host, "life.pong", "{}", 2, err);
}

static int life_commit(void *self, smart_error *err)
{
    (void)self;
    (void)err;
    return 0;
}

static void life_shutdown(void *self, smart_shutdown_done done, void *arg)
{
    life *l = self;
    if (strncmp(l->mode, "never_done", 10) == 0)
        return;
    done(arg);
    if (strcmp(l->mode, "done_twice") == 0)
        done(arg);
    if (strcmp(l->mode, "timer_after_done") == 0) {
        uv_timer_init(l->host->loop, &l->timer);
        uv_timer_start(&l->timer, on_timer, 1, 1);
    }
}

static const smart_plugin life_plugin = {
    .struct_size = sizeof(smart_plugin),
    .abi_major = SMART_ABI_MAJOR,
    .abi_minor = SMART_ABI_MINOR,
    .name = "test-lifecycle",
    .version = "1.0.0",
    .init = life_init,
    .on_event = life_on_event,
    .commit = life_commit,
    .shutdown = life_shutdown,
};

SMART_EXPORT const smart_plugin *smart_plugin_entry(void)
{
    return &life_plugin;
}
