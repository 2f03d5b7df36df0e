/*
 * host_internal.h — the run state shared by host.c (lifecycle, batches, dispatch) and
 * host_table.c (the smart_host callbacks a module calls). Not part of any public interface.
 */
#ifndef SMART_HOST_HOST_INTERNAL_H
#define SMART_HOST_HOST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config/node_config.h"
#include "input/event_input.h"
#include "input/event_parse.h"
#include "ledger/ledger.h"
#include "modules/module_loader.h"
#include "output/output_writer.h"
#include "run/clock.h"
#include "run/host.h"
#include "util/strbuf.h"

/* An event a module posted for itself; delivered on a later loop turn. */
typedef struct posted_event {
    struct posted_event *next;
    loaded_module *module; /* the poster, the only module it is delivered to */
    char *topic;           /* owned */
    char *data_json;       /* owned, compact one-line JSON object text */
    size_t data_len;
} posted_event;

/* Where a hot reload stands (host_reload.c). Modules are reloaded one at a time, in load order;
 * the input is paused from the request until the last one is done. */
typedef enum reload_step {
    RELOAD_NEXT,        /* pick the next module and open its new image */
    RELOAD_WAITING_OLD, /* the old instance is shutting down; its done callback wakes us */
    RELOAD_OLD_DONE     /* the old instance is gone: initialise the new one */
} reload_step;

typedef struct reload_state {
    bool active;
    bool again;  /* a SIGHUP came during a reload: reload every module once more */
    size_t only; /* index of the one module to reload, or SIZE_MAX for all */
    size_t next; /* the module being (or next to be) reloaded */
    reload_step step;
    module_image fresh;  /* the new image for modules[next], until it is initialised */
    uint64_t started_ns; /* uv_hrtime() when the old instance's shutdown began */
    bool abandoned;      /* the host began shutting down while the old instance was stopping */
    char trigger[300];   /* "SIGHUP", or the input line of the host.reload event */
} reload_state;

typedef enum host_phase {
    HOST_STARTING,      /* loading modules */
    HOST_RUNNING,       /* reading input */
    HOST_SHUTTING_DOWN, /* waiting for modules' shutdown done callbacks */
    HOST_FINISHED       /* host.stopped written, handles closing */
} host_phase;

/* The run's state. Owned by the loop thread: every field is read and written there only, except
 * `input_label`, which is set before the input starts and then only read, also by the input
 * lines' parse on the libuv threadpool (host.c prepare_lines, event_parse.h). */
typedef struct host_state {
    const host_options *options;
    uv_loop_t loop;
    node_config *config;
    host_clock clock;
    ledger *ledger;
    int ledger_lock_fd;      /* holds "<ledger>.lock" (station_lock.h) for the whole run, or -1 */
    bool ledger_was_missing; /* no ledger file before this start (ledger_open created it) */
    struct checkpointer *checkpoints; /* signs the ledger (signing_key), or NULL */
    int alerts_fd;
    const char *input_label; /* "stdin" or the events path, for "<label>:<line>" */

    loaded_module *modules; /* array of module_count, never moved (tables point into it) */
    size_t module_count;
    size_t shutdowns_pending;

    event_input *input;
    bool input_done;
    uv_idle_t idle;     /* runs posted events and the shutdown steps on a later loop turn */
    uv_check_t check;   /* ends a batch left open by module work outside one (its timers) */
    uv_signal_t sigint; /* SIGINT/SIGTERM end the input early, then shut down cleanly */
    uv_signal_t sigterm;
    uv_signal_t sighup; /* SIGHUP reloads every module */
    bool idle_ready;
    bool check_ready;
    bool signals_ready;

    reload_state reload;

    posted_event *posted_head;
    posted_event *posted_tail;

    strbuf outputs;        /* this batch's output lines, printed once durable */
    output_writer *writer; /* prints them (standard output) on its own thread */
    strbuf alert_lines;    /* this batch's alert lines, for the alerts file */
    strbuf parse_scratch;  /* an input line parsed on the loop thread (no prepared parse) */
    strbuf scratch;        /* working text inside a callback (emitted data, alert text) */
    strbuf metadata;       /* per-call ledger metadata text */
    bool batch_dirty;      /* something happened that end_batch must make durable */

    host_phase phase;
    bool failed; /* fail-stop: nothing more is written or acknowledged */
    int exit_code;
} host_state;

/* Fill `table` with this host's callbacks and identity (host_data is set per module). */
void host_table_prepare(host_state *h, smart_host *table);

/* Free every queued posted event. */
void host_posted_clear(host_state *h);

/* Take the posted queue's first event (caller owns it; free with host_posted_free), or NULL. */
posted_event *host_posted_pop(host_state *h);

/* Free one posted event. */
void host_posted_free(posted_event *event);

/* Append a host-written ledger record (module "smart-host", user "system"). `metadata_json`
 * may be NULL for {}. Fail-stops the host when the ledger has failed. Returns 0 or negative. */
int host_record(host_state *h, const char *action, const char *target, const char *details,
                const char *metadata_json);

/* Record a refused input: message on stderr and an input.rejected ledger record.
 * `by` is the rejecting module (NULL: the host); `line_no` 0 means no line; `topic` may be NULL.
 */
void host_reject(host_state *h, const loaded_module *by, const char *source, uint64_t line_no,
                 const char *topic, const char *message);

/* Stop acknowledging anything, say why on stderr, shut down, exit status 4. */
void host_fail_stop(host_state *h, const char *message);

/* The same with another exit status (HOST_EXIT_LEDGER_BROKEN: a module found the ledger short
 * of what its store committed through). */
void host_fail_stop_code(host_state *h, int exit_code, const char *message);

/* Start the idle handle so posted events or shutdown steps run on the next loop turn. */
void host_wake(host_state *h);

/* Make the batch durable (ledger, alerts, module commits), then print its outputs. */
void host_end_batch(host_state *h);

/* Shut every running module down, then stop (host.c). */
void host_begin_shutdown(host_state *h);

/* Queue an output line {"topic":T,"data":D} for the end of the batch; `data` is one-line JSON
 * object text. Returns 0 or -ENOMEM. */
int host_output(host_state *h, const char *topic, const char *data, size_t len);

/* Whether any module instance is running (initialised and not shutting down). */
bool host_any_module_running(const host_state *h);

/* ---- hot reload (host_reload.c) ---------------------------------------------------------- */

/* Ask for a reload of modules[only] (SIZE_MAX: every running module). `trigger` (borrowed;
 * copied) names the cause for the ledger. The caller has already paused the input (SIGHUP:
 * event_input_pause; host.reload: by taking no line after it), so the events after the request
 * go to the new instances. The work runs from the idle handle: see host_reload_run. */
void host_reload_request(host_state *h, size_t only, const char *trigger);

/* [idle] Advance the reload as far as it can go without waiting. Returns true while it waits for
 * an old instance's shutdown done callback (which wakes the idle handle), false once the reload
 * is over (the caller resumes the input) or was abandoned. */
bool host_reload_run(host_state *h);

/* The host is shutting down (end of input after a failure, fail-stop): give up the reload. An
 * old instance still shutting down is counted in shutdowns_pending; a new image never
 * initialised is closed. */
void host_reload_abandon(host_state *h);

/* ---- signed checkpoints (host_checkpoint.c, ledger/checkpoint.h) ------------------------- */

/* [start] Open the checkpointer when NODE.json names a signing_key. Returns 0 or a negative
 * errno with `msg`. */
int host_checkpoint_open(host_state *h, char *msg, size_t msg_size);

/* [end of batch, before the ledger's flush] Sign when due: the ledger.checkpoint record and
 * output. Fail-stops on error. */
void host_checkpoint_before_flush(host_state *h);

/* [end of batch, after the ledger's flush] Append the checkpoint to the checkpoints file.
 * Returns 0, or a negative errno after fail-stopping. */
int host_checkpoint_after_flush(host_state *h);

/* An input line: when it is a ledger.checkpoint event, handle it (ask for a checkpoint at the
 * end of the batch, or reject it) and return true. */
bool host_checkpoint_event(host_state *h, const parsed_line *p, uint64_t line_no,
                           int64_t clock_before);

/* Sign at the next end of batch (shutdown). */
void host_checkpoint_at_shutdown(host_state *h);

void host_checkpoint_close(host_state *h);

#endif /* SMART_HOST_HOST_INTERNAL_H */
