/*
 * event_parse.h — the clock-free part of reading one input line: JSON parse, envelope checks,
 * the event's time parsed, and `data` dumped as compact text ready for the modules.
 *
 * It needs no host state, so the reader runs it on a libuv threadpool thread for a whole
 * batch while the loop thread is still dispatching the batch before it (event_input.h,
 * input_prepare_cb). What depends on the run's state stays on the loop thread, in line order:
 * the clock check (a time earlier than the clock), host.reload's module lookup, dispatch.
 *
 * Threads: every function here may run on any thread; a parsed_batch belongs to one thread at
 * a time (the worker that builds it, then the loop thread that reads and frees it; the
 * hand-over is ordered by libuv's after_work callback). Uses jansson on objects of its own
 * only: call json_object_seed() once on the main thread before the first parse.
 */
#ifndef SMART_HOST_EVENT_PARSE_H
#define SMART_HOST_EVENT_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event_input.h"
#include "strbuf.h"

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
    const char *data;      /* PARSED_EVENT: `data` as compact JSON object text ("{}" if absent) */
    size_t data_len;
    /* offsets into the arena while the batch is built (internal) */
    size_t off_source, off_topic, off_message, off_time_text, off_data;
} parsed_line;

/* The parsed lines of one batch: lines[i] belongs to the i-th input line given. */
typedef struct parsed_batch {
    parsed_line *lines;
    size_t count;
    strbuf text; /* every string the lines point into */
} parsed_batch;

/* [any thread] Parse `count` lines (borrowed) named "<label>:<line_no>" (`label` borrowed)
 * into a new batch, and point each line's `prepared` at its parsed_line. Returns the batch
 * (caller-owned; event_parse_free), or NULL when out of memory (the lines' `prepared` are then
 * left NULL). */
parsed_batch *event_parse_batch(const char *label, input_line *lines, size_t count);

/* [any thread] Free a batch from event_parse_batch. NULL is ignored. */
void event_parse_free(parsed_batch *batch);

/* [any thread] Parse one line into *out, its strings in `arena` (emptied first; caller-owned,
 * valid until the arena is changed). Used when a line arrives without a prepared parse.
 * Returns 0, or -ENOMEM with out->kind PARSED_NOMEM. */
int event_parse_one(const char *label, const input_line *line, strbuf *arena, parsed_line *out);

#endif /* SMART_HOST_EVENT_PARSE_H */
