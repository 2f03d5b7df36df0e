/*
 * batch.h — one batch of the run: the ledger records, alert lines and output lines it made, made
 * durable together (ledger, alerts file, module commits) before its outputs are printed, and
 * the fail-stop that ends the run when that cannot be done.
 *
 * The lowest part of the run: host_table.c, host_reload.c and host.c write through it; it calls
 * none of them (the fail-stop tells the run through the `on_fail` callback it was given).
 * Everything here runs on the loop thread.
 */
#ifndef SMART_HOST_BATCH_H
#define SMART_HOST_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/node_config.h"
#include "ledger/ledger.h"
#include "modules/module_loader.h"
#include "output/output_writer.h"
#include "run/clock.h"
#include "util/strbuf.h"

/* The answers a batch holds (its output and alert lines, kept in memory until the batch is
 * durable) at which the run ends it, between two events, and starts the next: a batch is
 * bounded by the bytes it holds as well as by the lines one read brings (event_input.h). Ending
 * a batch early is always safe (each is made durable before it is acknowledged); it costs one
 * more round of syncs for what is many MiB of answers. */
#define HOST_BATCH_BYTES_MAX (4u * 1024 * 1024)

typedef struct host_batch {
    /* Set by the run before the first record; borrowed, outlive the batch. */
    const node_config *config;      /* node_id, alerts_path */
    host_clock *clock;              /* the time of every record (real clock: read, so not const) */
    ledger *ledger;                 /* NULL until opened */
    int alerts_fd;                  /* -1 until opened */
    output_writer *writer;          /* NULL until started */
    struct host_watchdog *watchdog; /* watches each module's commit; may be NULL */
    struct crash_guard *guard;      /* names a module crashing in its commit; may be NULL */
    /* Called once, by the first fail-stop, after the batch has dropped what it held: the run
     * stops its input and shuts its modules down, and exits with `exit_code`. */
    void (*on_fail)(void *arg, int exit_code);
    void *on_fail_arg;
    /* Called with the batch's output lines once they are durable (after every sync, before they
     * are printed), the ledger seq they are durable through and the clock's time: the status
     * board (board/board.h board_durable). May be NULL. */
    void (*on_durable)(void *arg, const char *lines, size_t len, uint64_t seq, int64_t now_ms);
    void *on_durable_arg;

    /* Owned. */
    struct checkpointer *checkpoints;  /* signs the ledger (signing_key), or NULL: opened and
                                          closed by the run (host_checkpoint.h) */
    strbuf outputs;                    /* this batch's output lines, printed once durable */
    strbuf alert_lines;                /* this batch's alert lines, for the alerts file */
    strbuf reject_meta;                /* an input.rejected record's metadata text */
    struct sync_worker *alerts_syncer; /* writes and syncs the alert lines while the ledger is
                                          flushed (started at the first alerts; NULL: none yet,
                                          or it could not start, and the loop thread does it) */
    bool dirty;  /* something happened that host_batch_end must make durable */
    bool failed; /* fail-stop: nothing more is written or acknowledged */
} host_batch;

/* A batch with nothing set: fill the borrowed fields, then use it; free with host_batch_free. */
void host_batch_init(host_batch *b);

/* Free what the batch owns (its pending lines are dropped). */
void host_batch_free(host_batch *b);

/* Make the batch durable (the ledger and the alerts file, whose syncs run together: the alert
 * lines on the alerts syncer's thread while the loop thread flushes the ledger), then, once
 * both are on disk, let each running module of `modules` (`count`, borrowed) commit (the
 * ledger stays ahead of every store), then hand the outputs to the writer. Does nothing when
 * failed or clean. Any failure is a fail-stop. */
void host_batch_end(host_batch *b, loaded_module *modules, size_t count);

/* Whether the batch holds HOST_BATCH_BYTES_MAX of answers or more: the run ends it before the
 * next event. */
bool host_batch_full(const host_batch *b);

/* Stop acknowledging anything, say why on stderr, drop the batch, call on_fail with
 * HOST_EXIT_IO. Only the first fail-stop counts. */
void host_batch_fail_stop(host_batch *b, const char *message);

/* The same with another exit status (HOST_EXIT_LEDGER_BROKEN: a module found the ledger short
 * of what its store committed through). */
void host_batch_fail_stop_code(host_batch *b, int exit_code, const char *message);

/* Append a ledger record at the clock's time; `metadata_json` (`metadata_len` bytes) is one
 * line of JSON object text or NULL. Marks the batch dirty. Returns 0 or the ledger's negative
 * errno with `msg` (caller-owned) saying why; the caller decides whether that is fatal. */
int host_batch_append(host_batch *b, const char *module, const char *action, const char *target,
                      const char *details, const char *user_id, const char *metadata_json,
                      size_t metadata_len, char *msg, size_t msg_size);

/* Append a host-written ledger record (module "smart-host", user "system"). `metadata_json`
 * may be NULL for {}. Fail-stops when the ledger has failed. Returns 0 or negative. */
int host_batch_record(host_batch *b, const char *action, const char *target, const char *details,
                      const char *metadata_json);

/* Record a refused input: message on stderr and an input.rejected ledger record. `by` is the
 * rejecting module's name (NULL: the host); `line_no` 0 means no line; `topic` may be NULL. */
void host_batch_reject(host_batch *b, const char *by, const char *source, uint64_t line_no,
                       const char *topic, const char *message);

/* Queue an output line {"topic":T,"data":D} for the end of the batch; `data` is one-line JSON
 * object text. Returns 0 or -ENOMEM (nothing queued) or -EINVAL (topic not UTF-8). */
int host_batch_output(host_batch *b, const char *topic, const char *data, size_t len);

/* An output line that reports on what is already durable elsewhere (ledger.shipped): printed
 * now, after every line handed over before it, when no batch is open; with an open batch, after
 * that batch's lines. Returns as host_batch_output, or the writer's negative errno (then a
 * fail-stop). Nothing is printed once the batch has failed. */
int host_batch_output_now(host_batch *b, const char *topic, const char *data, size_t len);

/* The same for `data` already escaped (json_text_append_escaped: what take_object leaves), so
 * that a module's output is not scanned and copied a second time. */
int host_batch_output_escaped(host_batch *b, const char *topic, const char *data, size_t len);

/* Where the batch's outputs and alerts stand, to drop what one module call added. */
typedef struct host_batch_mark {
    size_t outputs;
    size_t alert_lines;
} host_batch_mark;

/* The batch's outputs and alerts as they stand now. */
host_batch_mark host_batch_mark_now(const host_batch *b);

/* Drop the outputs and alerts queued since `mark` (a call that failed keeps none of them). */
void host_batch_drop_since(host_batch *b, host_batch_mark mark);

/* Queue an alert: one line of JSON object text for the alerts file and an "alert" output.
 * Returns 0 or -ENOMEM (nothing queued). */
int host_batch_alert(host_batch *b, const char *alert, size_t len);

#endif /* SMART_HOST_BATCH_H */
