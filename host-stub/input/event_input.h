/*
 * event_input.h — read input events, one JSON object a line, on the libuv loop.
 *
 * A regular file (named, or redirected to stdin) is read in chunks with uv_fs_read; a pipe or
 * terminal is read as a stream (uv_pipe_open / uv_tty_init + uv_read_start). A pipe is asked to
 * hold 1 MiB (F_SETPIPE_SZ, best effort), so that a read of it, like a file's, takes a whole
 * chunk of the lines the producer wrote meanwhile, not the default pipe's 64 KiB. Each read's
 * complete lines are handed over as one batch (at most EVENT_INPUT_BATCH_MAX lines; more are
 * split), which is what the host groups into one durable batch (or several, once a batch
 * holds many MiB of answers: run/batch.h). A line may span reads. A line
 * longer than EVENT_INPUT_LINE_MAX is not buffered: it is reported once, flagged too_long,
 * and skipped up to its newline.
 *
 * Pipelining (optional, event_input_set_prepare): each batch's lines are copied out of the read
 * buffer and handed to a `prepare` callback on a libuv threadpool thread (a uv_work_t), while
 * the loop thread is still taking the batch before it; the reader reads on meanwhile, at most
 * EVENT_INPUT_PIPELINE batches ahead of the one being taken. Batches are prepared one at a
 * time, in input order, and handed over strictly in input order, one per loop turn (so that
 * the reads and preparations that completed meanwhile are taken in between), each only once
 * its preparation is done.
 *
 * Threads: everything here runs on the loop thread and every callback is called there, except
 * `prepare`, which runs on a threadpool thread and may touch only the lines it is given (and
 * what it reaches from `arg` that no other thread changes meanwhile). The file reads
 * (uv_fs_read) also run on the threadpool, into the reader's buffer, which the loop thread
 * leaves alone while a read is in flight.
 */
#ifndef SMART_HOST_EVENT_INPUT_H
#define SMART_HOST_EVENT_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define EVENT_INPUT_LINE_MAX  (1024 * 1024)
#define EVENT_INPUT_BATCH_MAX 4096
/* Batches read (and prepared) but not yet fully taken, at most; reading waits beyond it. */
#define EVENT_INPUT_PIPELINE 3

typedef struct input_line {
    const char *text;     /* borrowed: valid only during the lines callback; not NUL-terminated */
    size_t len;           /* without the newline */
    uint64_t line_no;     /* 1-based */
    bool too_long;        /* the line exceeded EVENT_INPUT_LINE_MAX; text is empty */
    const void *prepared; /* what the prepare callback attached (NULL: none, or it failed) */
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

/* [loop] A batch is about to be prepared: return what its preparation will fill (and the
 * release callback free), or NULL to hand it over unprepared (out of memory). Whatever the
 * preparation needs of the run's state is taken here, on the loop thread. */
typedef void *(*input_begin_prepare_cb)(void *arg);

/* [threadpool thread] Prepare a batch before it is handed over, into `prepared` (from
 * begin_prepare): may set each line's `prepared` (lines[i].text stays valid until the batch
 * is released). */
typedef void (*input_prepare_cb)(void *arg, void *prepared, input_line *lines, size_t count);

/* [loop] Free what begin_prepare returned, prepared or not (a preparation may be cancelled):
 * the batch was taken whole, or the reader is closing. */
typedef void (*input_release_cb)(void *arg, void *prepared);

typedef struct event_input event_input;

/* Open `path` (borrowed; NULL or "-" for stdin) for reading on `loop`. Nothing is read until
 * event_input_start. Returns 0 and the reader in *out (owned by the caller; release with
 * event_input_close), or a negative libuv error with `msg` (caller-owned) naming the path. */
int event_input_open(event_input **out, uv_loop_t *loop, const char *path, input_lines_cb on_lines,
                     input_end_cb on_end, void *arg, char *msg, size_t msg_size);

/* Prepare each batch on the threadpool with `prepare` (see above) before it is handed over;
 * `begin` makes what it fills, `release` frees it. Call before event_input_start. When a
 * preparation cannot run (begin returned NULL, the work could not be queued, or was cancelled)
 * the batch is handed over with every `prepared` NULL, so the lines callback must handle lines
 * without one. */
void event_input_set_prepare(event_input *in, input_begin_prepare_cb begin,
                             input_prepare_cb prepare, input_release_cb release);

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
 * from a later loop turn for a stream, a file with a read in flight or a preparation still
 * running (a queued one is cancelled), before this returns otherwise. `in` is invalid after
 * this call. */
void event_input_close(event_input *in, input_closed_cb closed, void *arg);

#endif /* SMART_HOST_EVENT_INPUT_H */
