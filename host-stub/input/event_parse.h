/*
 * event_parse.h — the clock-free part of reading one input line: JSON parse, envelope checks,
 * the event's time parsed, and where `data` lies in the line, so that modules get it as
 * written. The line is scanned with yajl's streaming parser, which checks all of it (UTF-8
 * included) without building a tree: the modules build their own of the data.
 *
 * It needs no host state, so the reader runs it on a libuv threadpool thread for a whole
 * batch while the loop thread is still dispatching the batch before it (event_input.h,
 * input_prepare_cb). What depends on the run's state stays on the loop thread, in line order:
 * the clock check (a time earlier than the clock), host.reload's module lookup, dispatch.
 *
 * A batch also has the modules that decode events ahead (smart_plugin.decode_event, ABI 1.1)
 * decode each event there, so that their parse of it is done off the loop thread too.
 *
 * Threads: a parsed_batch belongs to one thread at a time (the loop thread that makes it, the
 * worker that fills it, then the loop thread that reads and frees it; the hand-overs are
 * ordered by libuv's queue_work and after_work). Uses jansson on objects of its own only:
 * call json_object_seed() once on the main thread before the first parse.
 */
#ifndef SMART_HOST_EVENT_PARSE_H
#define SMART_HOST_EVENT_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "input/event_input.h"
#include "run/watchdog.h"
#include "smart_plugin.h"
#include "util/strbuf.h"

typedef enum parsed_kind {
    PARSED_BLANK,  /* nothing but blanks: skipped without a word */
    PARSED_REJECT, /* refused before the clock: `message` says why */
    PARSED_EVENT,  /* well formed: the loop thread checks the time against the clock */
    PARSED_NOMEM   /* out of memory while parsing: the host fail-stops */
} parsed_kind;

/* One parsed line. Strings are NUL-terminated and owned by the batch (or the arena given to
 * event_parse_one); NULL when absent. */
typedef struct parsed_line {
    parsed_kind kind;
    const char *source;    /* "<label>:<line>" as the host names the line */
    const char *topic;     /* the topic when it is a string (also in a rejection), else NULL */
    const char *message;   /* PARSED_REJECT: the whole message, "<field>: <why>" */
    bool host_topic;       /* PARSED_EVENT: a host.* topic (only host.reload gets this far) */
    bool has_time;         /* PARSED_EVENT: the event carries a (valid) time */
    int64_t time_ms;       /* its time, when has_time */
    const char *time_text; /* its time as written, when has_time */
    const char *data;      /* PARSED_EVENT: `data`'s JSON object text as written ("{}" if absent) */
    size_t data_len;
    /* PARSED_EVENT in a filled batch: the batch, and one decoding per decoder (each may be
     * NULL); both NULL otherwise. Read with event_parse_decoded. */
    const struct parsed_batch *batch;
    void **decoded;
    /* offsets into the arena while the batch is built (internal) */
    size_t off_source, off_topic, off_message, off_time_text, off_data;
} parsed_line;

/* A module that decodes events ahead, as it was when a batch was made. `pin` is a reference to
 * its image (module_pin_image) held by the batch: a reload or a shutdown meanwhile cannot unmap
 * the code that must release the decodings. */
typedef struct event_decoder {
    size_t module_index;        /* the module's position in load order */
    const smart_plugin *plugin; /* its descriptor, in the pinned image */
    void *pin;                  /* dlclose'd when the batch is freed */
} event_decoder;

/* The parsed lines of one batch: lines[i] belongs to the i-th input line given. */
typedef struct parsed_batch {
    parsed_line *lines;
    size_t count;
    strbuf text; /* every string the lines point into */
    event_decoder *decoders;
    size_t decoder_count;
    void **decoded;            /* count * decoder_count decodings, line by line */
    host_watchdog *watchdog;   /* watches each decode_event call, or NULL; borrowed */
    struct crash_guard *guard; /* names a crash in one (crash_guard.h), or NULL; borrowed */
} parsed_batch;

/* [loop] An empty batch to be filled on a worker, decoding with `decoders` (copied; the batch
 * takes over their pins, also on failure), each decode_event call watched by `watchdog`
 * (watchdog_enter_worker) and described to `guard` (crash_guard_enter_decode); both borrowed,
 * they must outlive the batch's filling; NULL: not watched, not described. Returns the batch
 * (caller-owned; event_parse_free) or NULL when out of memory. */
parsed_batch *event_parse_batch_new(const event_decoder *decoders, size_t decoder_count,
                                    host_watchdog *watchdog, struct crash_guard *guard);

/* [any thread] Parse `count` lines (borrowed) named "<label>:<line_no>" (`label` borrowed)
 * into `batch` (new, filled once), have each decoder decode each event, and point each line's
 * `prepared` at its parsed_line. Out of memory leaves the lines' `prepared` NULL (and the
 * batch empty). */
void event_parse_batch_fill(parsed_batch *batch, const char *label, input_line *lines,
                            size_t count);

/* The line's decoding for the module at `module_index` running `plugin`, or NULL: only a
 * decoding made by that very image counts (after a reload the new image decodes for itself). */
void *event_parse_decoded(const parsed_line *line, size_t module_index, const smart_plugin *plugin);

/* [loop] Free a batch: its decodings (each by its decoder's release_decoded), then the pins.
 * NULL is ignored. */
void event_parse_free(parsed_batch *batch);

/* [any thread] Parse one line into *out, its strings in `arena` (emptied first; caller-owned,
 * valid until the arena is changed). Used when a line arrives without a prepared parse.
 * Returns 0, or -ENOMEM with out->kind PARSED_NOMEM. */
int event_parse_one(const char *label, const input_line *line, strbuf *arena, parsed_line *out);

#endif /* SMART_HOST_EVENT_PARSE_H */
