/*
 * host.h — the node host's run loop: load modules, feed them events, make every batch durable
 * before acknowledging it, and shut down cleanly.
 *
 * One run (README "Running the host stub"):
 *   start-up  read NODE.json, open the ledger (verify; recover a torn tail), open the alerts
 *             file, load and initialise each module (a bad one is refused, reported on stderr
 *             and as module.refused, and the others run on; with none left, exit 5), record
 *             host.started;
 *   batches   the complete lines of one read (<= 4096), or the events modules posted, are
 *             parsed, checked, moved through the clock and dispatched to the modules; at the
 *             end of a batch the ledger and alerts are written and fdatasync'd, each module
 *             commits, and only then the batch's output lines are printed;
 *   reload    on SIGHUP or a host.reload event, between two events, each module is replaced by
 *             a fresh copy of its file (host_reload.c); the input waits meanwhile;
 *   shutdown  at end of input, posted events are drained, every module is shut down (waiting
 *             for its done callback), host.stopped is recorded, every handle is closed.
 * Everything runs on one thread, the loop's, except the clock-free parse of input lines
 * (event_parse.h), which runs on the libuv threadpool one batch ahead of the loop thread, and
 * the writing of output lines already durable (output_writer.h), one batch behind it.
 */
#ifndef SMART_HOST_HOST_H
#define SMART_HOST_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "smart_plugin.h"

/* Process exit statuses (README "Running the host stub" names them too). */
enum {
    HOST_EXIT_OK = 0,
    HOST_EXIT_VERIFY_FAILED = 1, /* `ledger verify` found a bad record */
    HOST_EXIT_USAGE = 2,         /* usage or configuration error */
    HOST_EXIT_LEDGER_BROKEN = 3, /* the ledger's chain is broken at start-up */
    HOST_EXIT_IO = 4,            /* a write or sync failed: fail-stop */
    HOST_EXIT_MODULE = 5,        /* no module could be loaded and initialised */
    HOST_EXIT_BUSY = 6,          /* another process runs this station (holds the ledger's lock) */
    HOST_EXIT_MODULE_BROKE = 7,  /* a module broke the shutdown contract: no done within the
                                    deadline, or handles left open after it */
    HOST_EXIT_WATCHDOG = 8       /* module code held the loop past the watchdog's limit, or past a
                                    stop signal's grace (watchdog.h) */
};

typedef struct host_options {
    const char *config_path; /* NODE.json; borrowed for the run */
    const char *events_path; /* input file; NULL or "-" for standard input */
    bool simulated_clock;    /* true: start the clock at clock_start_ms and let events move it */
    int64_t clock_start_ms;
    const char *module_search_path;  /* $SMART_MODULE_PATH (may be NULL) */
    const char *fallback_module_dir; /* searched after it: "<dir of smart-host>/../plugin" and
                                        the install directory (colon separated; may be NULL) */
    smart_log_level log_level;       /* module log lines above this level are dropped */
    uint64_t shutdown_timeout_ms;    /* how long a module's shutdown may take before the host
                                        stops without it ($SMART_HOST_SHUTDOWN_MS) */
    uint64_t watchdog_warn_ms;       /* a module call longer than this is reported */
    uint64_t watchdog_limit_ms;      /* one longer than this ends the host (exit 8) */
} host_options;

/* Run the node until its input ends or a fatal error. Output events go to stdout; messages,
 * each prefixed "smart-host: ", to stderr. `options` is borrowed for the call. Returns the
 * process exit status (HOST_EXIT_*). */
int host_run(const host_options *options);

#endif /* SMART_HOST_HOST_H */
