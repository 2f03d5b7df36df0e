/* event_input.c — line reader over uv_fs_read or a uv stream; see event_input.h. */
#include "input/event_input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/strbuf.h"

/* Bytes asked for per read: large enough that a batch holds thousands of typical events. */
#define READ_CHUNK (256 * 1024)
/* The first reads are READ_CHUNK / 2^steps, doubling up to READ_CHUNK. */
#define READ_RAMP_STEPS 4
/* A partial line never exceeds EVENT_INPUT_LINE_MAX after a scan, so this always leaves room
 * for one more chunk. */
#define BUFFER_SIZE (READ_CHUNK + EVENT_INPUT_LINE_MAX + 1)
/* What a pipe is asked to hold (the default, 64 KiB, is a quarter of a read): the lines a
 * producer wrote while the loop took the batch before are then there for the next read, which
 * takes up to READ_CHUNK of them into one batch as a file read does. /proc/sys/fs/pipe-max-size
 * is 1 MiB by default, so an unprivileged process gets it. */
#define PIPE_WANTED (1024 * 1024)

/* One batch: the complete lines of (part of) one read, copied out of the read buffer so the
 * next read can go on while this batch is prepared and taken. Owned by the loop thread, except
 * while its preparation runs: then only the worker touches lines[], text and prepared, and the
 * loop thread touches nothing of it until after_prepare. */
typedef struct batch {
    struct batch *next;
    event_input *in;
    uv_work_t work;
    strbuf text;       /* the lines' bytes; lines[].text point into it once sealed */
    input_line *lines; /* EVENT_INPUT_BATCH_MAX entries */
    size_t count;      /* lines held */
    size_t taken;      /* lines already taken by the lines callback */
    void *prepared;    /* from begin_prepare, filled by prepare */
    bool ready;        /* prepared (or no preparation): may be handed over */
    bool work_queued;  /* its preparation was handed to the threadpool */
} batch;

struct event_input {
    uv_loop_t *loop;
    input_lines_cb on_lines;
    input_end_cb on_end;
    input_begin_prepare_cb begin_prepare;
    input_prepare_cb prepare;
    input_release_cb release_prepared;
    void *arg;
    const char *label;

    int fd;
    bool owns_fd;
    bool is_stream;
    int64_t offset; /* next file offset to read, or -1 to read at the current position */
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_pipe_t pipe;
        uv_tty_t tty;
    } stream;
    bool stream_reading; /* uv_read_start is in effect */
    bool stream_closed;  /* the stream handle's close callback ran (or it has none) */
    /* Batches are handed over one per loop turn: between two, the loop runs the reads and
     * parses that completed meanwhile, so the pipeline refills while the lines callback works
     * (taking every ready batch at once would leave nothing read or parsed behind them). */
    uv_idle_t pump_idle;
    bool pump_idle_closed; /* its close callback ran (or it was never initialised) */
    uv_fs_t read_req;
    bool read_pending;

    char *buf;       /* BUFFER_SIZE bytes: the partial line carried over, then new data */
    size_t len;      /* bytes held */
    bool discarding; /* skipping the rest of a too-long line up to its newline */
    uint64_t line_no;
    unsigned reads; /* file reads started (counted up to READ_RAMP_STEPS) */

    batch *building;    /* the batch lines are being added to, not yet queued */
    batch *head, *tail; /* queued batches, in input order */
    size_t queued;      /* how many */
    size_t preparing;   /* works queued and not yet completed */
    batch *spare;       /* one emptied batch kept for reuse */

    /* The end of input, seen by the reader; reported once every batch before it is taken. */
    bool end_seen;
    int end_status;
    bool end_has_message;
    char end_message[256];

    bool stopped;
    bool paused;
    bool pumping; /* inside pump(): a nested call returns at once */
    bool closing;
    input_closed_cb closed;
    void *closed_arg;
};

static void pump(event_input *in);

/* ---- batches ---------------------------------------------------------------------------- */

static void batch_free(event_input *in, batch *b)
{
    if (b == NULL)
        return;
    if (b->prepared != NULL && in->release_prepared != NULL)
        in->release_prepared(in->arg, b->prepared);
    strbuf_free(&b->text);
    free(b->lines);
    free(b);
}

/* An empty batch (the spare one when there is one), or NULL when out of memory. */
static batch *batch_new(event_input *in)
{
    batch *b = in->spare;
    if (b != NULL) {
        in->spare = NULL;
        return b;
    }
    b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->lines = malloc(EVENT_INPUT_BATCH_MAX * sizeof *b->lines);
    if (b->lines == NULL) {
        free(b);
        return NULL;
    }
    b->in = in;
    b->work.data = b;
    return b;
}

/* A batch fully taken: release its preparation and keep it as the spare, or free it. */
static void batch_done(event_input *in, batch *b)
{
    if (b->prepared != NULL && in->release_prepared != NULL)
        in->release_prepared(in->arg, b->prepared);
    b->prepared = NULL;
    b->count = 0;
    b->taken = 0;
    b->ready = false;
    b->work_queued = false;
    b->next = NULL;
    strbuf_truncate(&b->text, 0);
    if (in->spare == NULL)
        in->spare = b;
    else
        batch_free(in, b);
}

/* [threadpool] */
static void prepare_work(uv_work_t *work)
{
    batch *b = work->data;
    b->in->prepare(b->in->arg, b->prepared, b->lines, b->count);
}

static void after_prepare(uv_work_t *work, int status);

/* Batches are prepared one at a time, in input order: the batch the lines callback needs next
 * never shares the second core with the ones after it. */
static void prepare_next(event_input *in)
{
    for (batch *b = in->head; b != NULL && in->preparing == 0; b = b->next) {
        if (b->ready || b->work_queued)
            continue;
        b->work_queued = true;
        in->preparing++;
        if (uv_queue_work(in->loop, &b->work, prepare_work, after_prepare) < 0) {
            in->preparing--;
            b->ready = true; /* handed over unprepared */
        }
    }
}

static void after_prepare(uv_work_t *work, int status)
{
    (void)status; /* cancelled: handed over unprepared (or freed, when closing) */
    batch *b = work->data;
    event_input *in = b->in;
    in->preparing--;
    b->ready = true;
    if (!in->closing)
        prepare_next(in);
    pump(in);
}

/* Queue the batch being built: point its lines at their text and start its preparation (a
 * batch whose preparation cannot be queued is handed over unprepared). */
static void seal(event_input *in)
{
    batch *b = in->building;
    if (b == NULL || b->count == 0)
        return;
    in->building = NULL;
    for (size_t i = 0; i < b->count; i++) {
        input_line *line = &b->lines[i];
        line->text = line->too_long ? "" : b->text.data + (size_t)(uintptr_t)line->text;
        line->prepared = NULL;
    }
    if (in->tail != NULL)
        in->tail->next = b;
    else
        in->head = b;
    in->tail = b;
    in->queued++;
    b->prepared = in->prepare != NULL ? in->begin_prepare(in->arg) : NULL;
    b->ready = b->prepared == NULL;
    prepare_next(in);
}

/* Returns false when out of memory (the reader then ends with an error). */
static bool add_line(event_input *in, const char *text, size_t len, bool too_long)
{
    if (in->building == NULL && (in->building = batch_new(in)) == NULL)
        return false;
    batch *b = in->building;
    input_line *line = &b->lines[b->count];
    /* Until the batch is sealed, text holds the offset into b->text (it may still move). */
    line->text = (const char *)(uintptr_t)b->text.len;
    line->len = too_long ? 0 : len;
    line->too_long = too_long;
    if (!too_long && strbuf_append(&b->text, text, len) < 0)
        return false;
    line->line_no = ++in->line_no;
    b->count++;
    if (b->count == EVENT_INPUT_BATCH_MAX)
        seal(in);
    return true;
}

/* ---- reading ---------------------------------------------------------------------------- */

/* Note the end of input (status 0) or a read error; reported once the batches before it are
 * taken. */
static void note_end(event_input *in, int status, const char *message)
{
    if (in->end_seen)
        return;
    in->end_seen = true;
    in->end_status = status;
    in->end_has_message = message != NULL;
    snprintf(in->end_message, sizeof in->end_message, "%s", message ? message : "");
}

static void out_of_memory(event_input *in)
{
    char message[256];
    snprintf(message, sizeof message, "%s: out of memory while reading", in->label);
    note_end(in, UV_ENOMEM, message);
}

/* Split the new bytes (from `scan_from`) into lines, copying the complete ones into batches,
 * and keep the partial last line at the front of the buffer. */
static void take_bytes(event_input *in, size_t scan_from)
{
    size_t line_start = 0, pos = scan_from;
    char *newline;
    while ((newline = memchr(in->buf + pos, '\n', in->len - pos)) != NULL) {
        size_t end = (size_t)(newline - in->buf);
        if (in->discarding) {
            in->discarding = false; /* the too-long line was reported when it overflowed */
        } else {
            bool too_long = end - line_start > EVENT_INPUT_LINE_MAX;
            if (!add_line(in, in->buf + line_start, end - line_start, too_long)) {
                out_of_memory(in);
                return;
            }
        }
        line_start = pos = end + 1;
    }
    size_t rest = in->len - line_start;
    bool too_long = !in->discarding && rest > EVENT_INPUT_LINE_MAX;
    if (in->discarding || too_long)
        rest = 0;
    memmove(in->buf, in->buf + line_start, rest);
    in->len = rest;
    if (too_long) {
        in->discarding = true;
        if (!add_line(in, NULL, 0, true)) {
            out_of_memory(in);
            return;
        }
    }
    seal(in);
}

/* The input ended (status 0) or failed: queue what is left, then note the end. */
static void take_end(event_input *in, int status, const char *message)
{
    if (status == 0 && in->len > 0 && !in->discarding &&
        !add_line(in, in->buf, in->len, false)) { /* a last line without its newline */
        out_of_memory(in);
        return;
    }
    in->len = 0;
    seal(in);
    note_end(in, status, message);
}

static void on_fs_read(uv_fs_t *req);

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    event_input *in = handle->data;
    *buf = uv_buf_init(in->buf + in->len, READ_CHUNK);
}

static void on_stream_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

/* Read on while the pipeline has room. */
static void read_more(event_input *in)
{
    bool room = in->queued < EVENT_INPUT_PIPELINE;
    if (in->stopped || in->closing || in->end_seen)
        room = false;
    if (in->is_stream) {
        if (room && !in->stream_reading) {
            int rc = uv_read_start(&in->stream.stream, on_alloc, on_stream_read);
            if (rc < 0) {
                char message[256];
                snprintf(message, sizeof message, "%s: cannot read: %s", in->label,
                         uv_strerror(rc));
                note_end(in, rc, message);
                return;
            }
            in->stream_reading = true;
        } else if (!room && in->stream_reading) {
            uv_read_stop(&in->stream.stream);
            in->stream_reading = false;
        }
        return;
    }
    if (!room || in->read_pending)
        return;
    /* The first reads are small and grow: the loop thread waits for the first batch's parse,
     * and each later one is parsed while the loop takes the one before it. */
    size_t chunk = READ_CHUNK;
    if (in->reads < READ_RAMP_STEPS)
        chunk = READ_CHUNK >> (READ_RAMP_STEPS - in->reads++);
    uv_buf_t buf = uv_buf_init(in->buf + in->len, chunk);
    in->read_req.data = in;
    int rc = uv_fs_read(in->loop, &in->read_req, in->fd, &buf, 1, in->offset, on_fs_read);
    if (rc < 0) {
        char message[256];
        snprintf(message, sizeof message, "%s: read failed: %s", in->label, uv_strerror(rc));
        note_end(in, rc, message);
        return;
    }
    in->read_pending = true;
}

static void release(event_input *in)
{
    if (in->owns_fd && in->fd >= 0)
        close(in->fd);
    batch_free(in, in->building);
    while (in->head != NULL) {
        batch *b = in->head;
        in->head = b->next;
        batch_free(in, b);
    }
    batch_free(in, in->spare);
    input_closed_cb closed = in->closed;
    void *arg = in->closed_arg;
    free(in->buf);
    free(in);
    if (closed != NULL)
        closed(arg);
}

/* Free the reader once nothing of it is in flight any more. */
static void release_when_idle(event_input *in)
{
    if (in->pumping || in->read_pending || in->preparing > 0 || !in->stream_closed ||
        !in->pump_idle_closed)
        return;
    release(in);
}

static void on_pump_idle(uv_idle_t *idle)
{
    uv_idle_stop(idle);
    pump(idle->data);
}

static void on_pump_idle_closed(uv_handle_t *handle)
{
    event_input *in = handle->data;
    in->pump_idle_closed = true;
    release_when_idle(in);
}

/* Hand the ready batches over, in order; then read on, and report the end when everything
 * before it was taken. Every path that changes what can move next ends here. */
static void pump(event_input *in)
{
    if (in->closing) {
        release_when_idle(in);
        return;
    }
    if (in->pumping)
        return;
    in->pumping = true;
    for (;;) {
        while (!in->stopped && !in->paused && in->head != NULL && in->head->ready) {
            batch *b = in->head;
            size_t count = b->count - b->taken;
            size_t taken = in->on_lines(in->arg, b->lines + b->taken, count);
            if (in->stopped || in->closing)
                break;
            b->taken += taken < count ? taken : count;
            if (b->taken < b->count) {
                in->paused = true; /* the rest is held until event_input_resume */
                break;
            }
            in->head = b->next;
            if (in->head == NULL)
                in->tail = NULL;
            in->queued--;
            batch_done(in, b);
            if (in->head != NULL && in->head->ready) {
                uv_idle_start(&in->pump_idle, on_pump_idle); /* the next one, next turn */
                break;
            }
        }
        if (in->closing)
            break;
        bool was_end_seen = in->end_seen;
        read_more(in);
        if (!in->stopped && !in->paused && in->head == NULL && in->end_seen) {
            in->stopped = true;
            if (in->is_stream && in->stream_reading) {
                uv_read_stop(&in->stream.stream);
                in->stream_reading = false;
            }
            in->on_end(in->arg, in->end_status, in->end_has_message ? in->end_message : NULL);
            break;
        }
        if (was_end_seen == in->end_seen)
            break; /* read_more ended nothing: wait for a read or a preparation */
    }
    in->pumping = false;
    if (in->closing)
        release_when_idle(in);
}

/* ---- regular files ---------------------------------------------------------------------- */

static void on_fs_read(uv_fs_t *req)
{
    event_input *in = req->data;
    ssize_t result = req->result;
    uv_fs_req_cleanup(req);
    in->read_pending = false;
    if (in->closing) {
        release_when_idle(in);
        return;
    }
    if (in->stopped)
        return;
    if (result < 0) {
        char message[256];
        snprintf(message, sizeof message, "%s: read failed: %s", in->label,
                 uv_strerror((int)result));
        take_end(in, (int)result, message);
    } else if (result == 0) {
        take_end(in, 0, NULL);
    } else {
        if (in->offset >= 0)
            in->offset += result;
        size_t scan_from = in->len;
        in->len += (size_t)result;
        take_bytes(in, scan_from);
    }
    pump(in);
}

/* ---- pipes and terminals ---------------------------------------------------------------- */

static void on_stream_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    event_input *in = stream->data;
    if (in->stopped || nread == 0)
        return;
    if (nread == UV_EOF) {
        take_end(in, 0, NULL);
    } else if (nread < 0) {
        char message[256];
        snprintf(message, sizeof message, "%s: read failed: %s", in->label,
                 uv_strerror((int)nread));
        take_end(in, (int)nread, message);
    } else {
        size_t scan_from = in->len;
        in->len += (size_t)nread;
        take_bytes(in, scan_from);
    }
    pump(in); /* also stops reading at the end, or while the pipeline is full */
}

static void on_stream_closed(uv_handle_t *handle)
{
    event_input *in = handle->data;
    in->stream_closed = true;
    release_when_idle(in);
}

/* Make a pipe hold PIPE_WANTED bytes (READ_CHUNK when that is refused), never less than it
 * holds: with the default 64 KiB a piped producer got a batch, and so a sync of the ledger,
 * alerts and store, for every quarter of what a file read takes. Best effort: a pipe left as it
 * is still works, in smaller batches. */
static void enlarge_pipe(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode))
        return;
    int size = fcntl(fd, F_GETPIPE_SZ);
    if (size < 0 || size >= PIPE_WANTED)
        return;
    if (fcntl(fd, F_SETPIPE_SZ, PIPE_WANTED) < 0 && size < READ_CHUNK)
        (void)fcntl(fd, F_SETPIPE_SZ, READ_CHUNK);
}

/* ---- public ----------------------------------------------------------------------------- */

int event_input_open(event_input **out, uv_loop_t *loop, const char *path, input_lines_cb on_lines,
                     input_end_cb on_end, void *arg, char *msg, size_t msg_size)
{
    *out = NULL;
    bool is_stdin = path == NULL || strcmp(path, "-") == 0;
    event_input *in = calloc(1, sizeof *in);
    char *buf = malloc(BUFFER_SIZE);
    if (in == NULL || buf == NULL) {
        free(in);
        free(buf);
        snprintf(msg, msg_size, "%s: out of memory", is_stdin ? "stdin" : path);
        return UV_ENOMEM;
    }
    in->loop = loop;
    in->on_lines = on_lines;
    in->on_end = on_end;
    in->arg = arg;
    in->label = is_stdin ? "stdin" : path;
    in->buf = buf;
    in->fd = 0;
    in->offset = -1;
    in->stream_closed = true;
    in->pump_idle_closed = true;
    if (!is_stdin) {
        in->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (in->fd < 0) {
            int rc = uv_translate_sys_error(errno);
            snprintf(msg, msg_size, "%s: cannot open: %s", path, strerror(errno));
            free(buf);
            free(in);
            return rc;
        }
        in->owns_fd = true;
        in->offset = 0;
    }
    uv_handle_type type = uv_guess_handle(in->fd);
    int rc = 0;
    if (type == UV_TTY) {
        rc = uv_tty_init(loop, &in->stream.tty, in->fd, 1);
        in->is_stream = rc == 0;
    } else if (type == UV_NAMED_PIPE || type == UV_TCP) {
        rc = uv_pipe_init(loop, &in->stream.pipe, 0);
        if (rc == 0) {
            in->is_stream = true;
            enlarge_pipe(in->fd);
            rc = uv_pipe_open(&in->stream.pipe, in->fd);
        }
    }
    /* A pipe or terminal is read from where it stands; a file from its start (or, for a
     * redirected stdin, from its current position). */
    if (in->is_stream) {
        in->offset = -1;
        in->stream_closed = false;
    }
    in->stream.handle.data = in;
    if (rc < 0) {
        snprintf(msg, msg_size, "%s: cannot read: %s", in->label, uv_strerror(rc));
        in->closing = true;
        if (in->is_stream) {
            /* The handle was initialised, so it must be closed through the loop. */
            uv_close(&in->stream.handle, on_stream_closed);
        } else {
            release(in);
        }
        return rc;
    }
    uv_idle_init(loop, &in->pump_idle); /* cannot fail on a valid loop */
    in->pump_idle.data = in;
    in->pump_idle_closed = false;
    *out = in;
    return 0;
}

void event_input_set_prepare(event_input *in, input_begin_prepare_cb begin,
                             input_prepare_cb prepare, input_release_cb release)
{
    in->begin_prepare = begin;
    in->prepare = prepare;
    in->release_prepared = release;
}

int event_input_start(event_input *in, char *msg, size_t msg_size)
{
    if (in->is_stream) {
        int rc = uv_read_start(&in->stream.stream, on_alloc, on_stream_read);
        if (rc < 0) {
            snprintf(msg, msg_size, "%s: cannot read: %s", in->label, uv_strerror(rc));
            return rc;
        }
        in->stream_reading = true;
        return 0;
    }
    pump(in); /* issues the first read; a failure to issue it ends the input with its error */
    return 0;
}

void event_input_stop(event_input *in)
{
    in->stopped = true;
    if (!in->pump_idle_closed)
        uv_idle_stop(&in->pump_idle);
    if (in->is_stream && in->stream_reading) {
        uv_read_stop(&in->stream.stream);
        in->stream_reading = false;
    }
}

void event_input_pause(event_input *in)
{
    if (!in->stopped && !in->closing)
        in->paused = true;
}

void event_input_resume(event_input *in)
{
    if (!in->paused || in->stopped || in->closing)
        return;
    in->paused = false;
    pump(in);
}

void event_input_close(event_input *in, input_closed_cb closed, void *arg)
{
    event_input_stop(in);
    in->closing = true;
    in->closed = closed;
    in->closed_arg = arg;
    /* A preparation not yet started is cancelled (its after_prepare still runs); a batch
     * still waiting for its turn is never prepared. */
    for (batch *b = in->head; b != NULL; b = b->next) {
        if (b->ready)
            continue;
        if (b->work_queued)
            uv_cancel((uv_req_t *)&b->work);
        else
            b->ready = true;
    }
    if (!in->pump_idle_closed && !uv_is_closing((uv_handle_t *)&in->pump_idle))
        uv_close((uv_handle_t *)&in->pump_idle, on_pump_idle_closed);
    if (in->is_stream)
        uv_close(&in->stream.handle, on_stream_closed);
    else
        release_when_idle(in);
}
