/*
 * event_input.h — read input events, one JSON object a line, on the libuv loop.
 *
 * A regular file (named, or redirected to stdin) is read in chunks with uv_fs_read; a pipe or
 * terminal is read as a stream (uv_pipe_open / uv_tty_init + uv_read_start). Each read's
 * complete lines are handed over as one batch (at most EVENT_INPUT_BATCH_MAX lines; more are
 * split), which is what the host groups into one durable batch. A line may span reads. A line
 * longer than EVENT_INPUT_LINE_MAX is not buffered: it is reported once, flagged too_long,
 * and skipped up to its newline.
 */
#ifndef SMART_HOST_EVENT_INPUT_H
#define SMART_HOST_EVENT_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define EVENT_INPUT_LINE_MAX  (1024 * 1024)
#define EVENT_INPUT_BATCH_MAX 4096

typedef struct input_line {
    const char *text; /* borrowed: valid only during the lines callback; not NUL-terminated */
    size_t len;       /* without the newline */
    uint64_t line_no; /* 1-based */
    bool too_long;    /* the line exceeded EVENT_INPUT_LINE_MAX; text is empty */
} input_line;

/* [loop] A batch of complete lines, in order. Returns how many it took, from the front. Taking
 * fewer than `count`, or calling event_input_pause, pauses the reader: the lines not taken are
 * held (their text stays valid) and handed over again, first, by event_input_resume. May call
 * event_input_stop. */
typedef size_t (*input_lines_cb)(void *arg, const input_line *lines, size_t count);

/* [loop] Reading ended: status 0 at end of input (after the last line was delivered), or a
 * negative libuv error with `message` (borrowed for the call) describing it. Called once,
 * unless event_input_stop was called first. */
typedef void (*input_end_cb)(void *arg, int status, const char *message);

/* [loop] The input's handles are closed and its memory freed. */
typedef void (*input_closed_cb)(void *arg);

typedef struct event_input event_input;

/* Open `path` (borrowed; NULL or "-" for stdin) for reading on `loop`. Nothing is read until
 * event_input_start. Returns 0 and the reader in *out (owned by the caller; release with
 * event_input_close), or a negative libuv error with `msg` (caller-owned) naming the path. */
int event_input_open(event_input **out, uv_loop_t *loop, const char *path, input_lines_cb on_lines,
                     input_end_cb on_end, void *arg, char *msg, size_t msg_size);

/* Start reading. Returns 0 or a negative libuv error with `msg` set. */
int event_input_start(event_input *in, char *msg, size_t msg_size);

/* Stop reading: no more callbacks after this returns (safe inside a lines callback). */
void event_input_stop(event_input *in);

/* Pause: no lines callback until event_input_resume. Data already read, or a read already in
 * flight, is kept, never lost. Inside a lines callback it pauses after the lines the callback
 * takes (needed when it takes them all). No effect on a stopped reader. */
void event_input_pause(event_input *in);

/* Resume a paused reader: the held lines are handed over first, then reading goes on. Must
 * not be called from inside a lines callback (the host resumes from its idle handle). No
 * effect unless paused. */
void event_input_resume(event_input *in);

/* Stop, close every handle and free the reader; `closed` (may be NULL) runs once that is done:
 * from a later loop turn for a stream or a file with a read in flight, before this returns
 * otherwise. `in` is invalid after this call. */
void event_input_close(event_input *in, input_closed_cb closed, void *arg);

#endif /* SMART_HOST_EVENT_INPUT_H */
