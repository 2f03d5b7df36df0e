/*
 * host_reload.h — hot reload of modules, on SIGHUP or a `host.reload` input event.
 *
 * The run (host.c) owns a host_reload and drives it from its idle handle; the reload writes
 * through the batch (batch.h), initialises modules with the host table (host_table.h), and
 * calls nothing above them: when it must be driven again (an old instance's shutdown is done)
 * it calls `wake`. Everything here runs on the loop thread, never from inside a module's code.
 */
#ifndef SMART_HOST_HOST_RELOAD_H
#define SMART_HOST_HOST_RELOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/node_config.h"
#include "modules/module_loader.h"
#include "run/batch.h"
#include "run/host_table.h"

/* Where a reload stands. Modules are reloaded one at a time, in load order; the input is
 * paused from the request until the last one is done. */
typedef enum reload_step {
    RELOAD_NEXT,        /* pick the next module and open its new image */
    RELOAD_WAITING_OLD, /* the old instance is shutting down; its done callback wakes us */
    RELOAD_OLD_DONE     /* the old instance is gone: initialise the new one */
} reload_step;

typedef struct host_reload {
    /* Set by the run before the first request; borrowed. */
    host_batch *batch;
    host_table *table;
    struct host_watchdog *watchdog; /* watches the old shutdown and the new init; may be NULL */
    struct crash_guard *guard;      /* names a module crashing in them; may be NULL */
    const node_config *config;
    loaded_module *modules; /* the run's array of module_count, never moved */
    size_t module_count;
    void (*wake)(void *arg); /* run host_reload_run again on a later loop turn */
    void *wake_arg;

    bool active;
    bool again;  /* a SIGHUP came during a reload: reload every module once more */
    size_t only; /* index of the one module to reload, or SIZE_MAX for all */
    size_t next; /* the module being (or next to be) reloaded */
    reload_step step;
    loaded_module *stopping; /* the old instance whose shutdown is awaited, or NULL */
    module_image fresh;      /* the new image for modules[next], until it is initialised */
    uint64_t started_ns;     /* uv_hrtime() when the old instance's shutdown began */
    bool abandoned;          /* the host began shutting down while the old instance stopped */
    char trigger[300];       /* "SIGHUP", or the input line of the host.reload event */
} host_reload;

/* Ask for a reload of modules[only] (SIZE_MAX: every running module). `trigger` (borrowed;
 * copied) names the cause for the ledger. The caller has already paused the input (SIGHUP:
 * event_input_pause; host.reload: by taking no line after it), so the events after the request
 * go to the new instances. The work runs from the idle handle: see host_reload_run. */
void host_reload_request(host_reload *r, size_t only, const char *trigger);

/* [idle] Advance the reload as far as it can go without waiting. Returns true while it waits for
 * an old instance's shutdown done callback (which calls `wake`), false once the reload is over
 * (r->active is false: the caller resumes the input) or the batch has failed. */
bool host_reload_run(host_reload *r);

/* The host is shutting down (end of input after a failure, fail-stop): give up the reload. An
 * old instance still shutting down stays shutdown_started and not shutdown_done until its done
 * callback runs; a new image never initialised is closed. */
void host_reload_abandon(host_reload *r);

#endif /* SMART_HOST_HOST_RELOAD_H */
