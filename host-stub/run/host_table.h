/*
 * host_table.h — the smart_host callbacks modules call (clock, ledger, alerts, output events,
 * posted events, log) and the queue of events modules posted for themselves.
 *
 * Each loaded module's table has host_data = its loaded_module and loaded_module.owner = the
 * host_table it was initialised with. The callbacks write through the batch (batch.h) and call
 * nothing above it; a posted event wakes the run through the `wake` callback. Everything here
 * runs on the loop thread: a callback a module calls from another thread refuses (SMART_EBUSY,
 * or the value smart_plugin.h names for the callbacks that cannot fail), touching nothing but
 * the module's wrong_thread_reported, and reports the module's name once.
 */
#ifndef SMART_HOST_HOST_TABLE_H
#define SMART_HOST_HOST_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "config/node_config.h"
#include "modules/module_loader.h"
#include "run/batch.h"
#include "smart_plugin.h"
#include "util/json_check.h"
#include "util/strbuf.h"

/* An event a module posted for itself; delivered on a later loop turn. */
typedef struct posted_event {
    struct posted_event *next;
    loaded_module *module; /* the poster, the only module it is delivered to */
    char *topic;           /* owned */
    char *data_json;       /* owned, compact one-line JSON object text */
    size_t data_len;
} posted_event;

typedef struct host_table {
    /* Set by the run before the first module is initialised; borrowed. */
    host_batch *batch;
    uv_loop_t *loop;
    const node_config *config;
    smart_log_level log_level; /* module log lines above this level are dropped */
    void (*wake)(void *arg);   /* a posted event is queued: run it on a later loop turn */
    void *wake_arg;

    uv_thread_t loop_thread;   /* the thread host_table_init ran on, the loop's: every callback
                                  called from another is refused (smart_plugin.h, "Threads") */
    bool posts_open;           /* post_event is accepted (the run clears it when it shuts down) */
    posted_event *posted_head; /* owned, in posting order */
    posted_event *posted_tail;
    strbuf scratch;       /* working text inside a callback (emitted data, alert text) */
    strbuf metadata;      /* a module's ledger metadata text */
    json_checker checker; /* checks outputs and alerts (json_check.h) */
    /* The last alert text taken as it was handed over: a module records an alert with its
     * text as the record's metadata, and the same bytes are not checked twice. */
    strbuf alert_taken;
} host_table;

/* A table with nothing set (posts open), for callbacks on the calling thread, which must be the
 * one that runs the loop: fill the borrowed fields, then use it. */
void host_table_init(host_table *t);

/* Free the queued events and the buffers. */
void host_table_free(host_table *t);

/* Fill `table` with this host's callbacks and identity (host_data is set per module by
 * module_init, whose `owner` must be `t`). */
void host_table_prepare(host_table *t, smart_host *table);

/* Take the posted queue's first event (caller owns it; free with host_posted_free), or NULL. */
posted_event *host_posted_pop(host_table *t);

/* Free one posted event. Safe on NULL. */
void host_posted_free(posted_event *event);

/* Drop the events posted after `mark` (the queue's tail as it was, NULL when it was empty):
 * a call that failed keeps none of them. */
void host_posted_drop_after(host_table *t, posted_event *mark);

/* Free every queued posted event. */
void host_posted_clear(host_table *t);

#endif /* SMART_HOST_HOST_TABLE_H */
