/* event_input.c — line reader over uv_fs_read or a uv stream; see event_input.h. */
#include "event_input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Bytes asked for per read: large enough that a batch holds thousands of typical events. */
#define READ_CHUNK (256 * 1024)
/* A partial line never exceeds EVENT_INPUT_LINE_MAX after a scan, so this always leaves room
 * for one more chunk. */
#define BUFFER_SIZE (READ_CHUNK + EVENT_INPUT_LINE_MAX + 1)

struct event_input {
    uv_loop_t *loop;
    input_lines_cb on_lines;
    input_end_cb on_end;
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
    uv_fs_t read_req;
    bool read_pending;

    char *buf;       /* BUFFER_SIZE bytes: the partial line carried over, then new data */
    size_t len;      /* bytes held */
    bool discarding; /* skipping the rest of a too-long line up to its newline */
    uint64_t line_no;
    input_line lines[EVENT_INPUT_BATCH_MAX];
    size_t line_count;

    bool stopped;
    bool closing;
    input_closed_cb closed;
    void *closed_arg;

    /* Pausing (the host reloads a module between two lines). Nothing read is dropped: the
     * lines not taken, the unscanned rest of the buffer, a file read that completed and the
     * end of input are all kept here and taken up again, in that order, on resume. */
    bool paused;
    size_t held_first; /* lines[held_first, line_count) were not taken yet */
    bool scan_pending; /* process() stopped early; it goes on from these positions */
    size_t scan_line_start;
    size_t scan_pos;
    bool read_deferred; /* a file read completed while paused, with this result */
    ssize_t deferred_result;
    bool end_pending; /* the input ended while lines were held */
    int end_status;
    bool end_has_message;
    char end_message[256];
};

static void pause_reading(event_input *in)
{
    in->paused = true;
    if (in->is_stream)
        uv_read_stop(&in->stream.stream);
}

/* Hand the collected lines over. Returns false when the reader was stopped, or paused because
 * the callback took fewer than it was given: the caller must then add and scan no further. */
static bool deliver(event_input *in)
{
    if (in->paused)
        return false;
    size_t count = in->line_count - in->held_first;
    if (count > 0 && !in->stopped) {
        size_t taken = in->on_lines(in->arg, in->lines + in->held_first, count);
        if (!in->stopped && taken < count) {
            in->held_first += taken;
            pause_reading(in);
            return false;
        }
    }
    in->line_count = 0;
    in->held_first = 0;
    return !in->stopped && !in->paused;
}

/* Returns false when a delivery (the batch was full) paused or stopped the reader. */
static bool add_line(event_input *in, const char *text, size_t len, bool too_long)
{
    input_line *line = &in->lines[in->line_count++];
    line->text = too_long ? "" : text;
    line->len = too_long ? 0 : len;
    line->line_no = ++in->line_no;
    line->too_long = too_long;
    if (in->line_count == EVENT_INPUT_BATCH_MAX)
        return deliver(in);
    return true;
}

/* Split the buffered bytes into lines, from `pos` (the first unscanned byte) with the current
 * line starting at `line_start`. When a delivery pauses the reader, the positions are kept so
 * that resuming goes on from there: held lines point into the buffer, which is therefore
 * neither compacted nor refilled until the scan completes. */
static void process(event_input *in, size_t line_start, size_t pos)
{
    bool going = true;
    char *newline;
    while (going && (newline = memchr(in->buf + pos, '\n', in->len - pos)) != NULL) {
        size_t end = (size_t)(newline - in->buf);
        if (in->discarding)
            in->discarding = false; /* the too-long line was reported when it overflowed */
        else
            going = add_line(in, in->buf + line_start, end - line_start,
                             end - line_start > EVENT_INPUT_LINE_MAX);
        line_start = pos = end + 1;
    }
    if (going)
        going = deliver(in);
    if (!going) {
        if (!in->stopped) {
            in->scan_pending = true;
            in->scan_line_start = line_start;
            in->scan_pos = pos;
        }
        return;
    }
    size_t rest = in->len - line_start;
    bool too_long = !in->discarding && rest > EVENT_INPUT_LINE_MAX;
    if (in->discarding || too_long)
        rest = 0;
    memmove(in->buf, in->buf + line_start, rest);
    in->len = rest;
    if (too_long) {
        in->discarding = true;
        /* Its text is a constant, so holding it does not pin the buffer. */
        if (add_line(in, NULL, 0, true))
            deliver(in);
    }
}

static void end_input(event_input *in, int status, const char *message)
{
    in->stopped = true;
    in->on_end(in->arg, status, message);
}

static void finish(event_input *in, int status, const char *message)
{
    if (in->stopped)
        return;
    bool going = true;
    if (status == 0 && in->len > 0 && !in->discarding)
        going = add_line(in, in->buf, in->len, false); /* a last line without its newline */
    in->len = 0; /* nothing is read after the end, so a held last line stays intact */
    if (going)
        going = deliver(in);
    if (!going) {
        if (!in->stopped) {
            in->end_pending = true;
            in->end_status = status;
            in->end_has_message = message != NULL;
            snprintf(in->end_message, sizeof in->end_message, "%s", message ? message : "");
        }
        return;
    }
    end_input(in, status, message);
}

static void release(event_input *in)
{
    if (in->owns_fd && in->fd >= 0)
        close(in->fd);
    input_closed_cb closed = in->closed;
    void *arg = in->closed_arg;
    free(in->buf);
    free(in);
    if (closed != NULL)
        closed(arg);
}

/* ---- regular files ---------------------------------------------------------------------- */

static void issue_read(event_input *in);

static void handle_read(event_input *in, ssize_t result)
{
    if (result < 0) {
        char message[256];
        snprintf(message, sizeof message, "%s: read failed: %s", in->label,
                 uv_strerror((int)result));
        finish(in, (int)result, message);
        return;
    }
    if (result == 0) {
        finish(in, 0, NULL);
        return;
    }
    if (in->offset >= 0)
        in->offset += result;
    size_t scan_from = in->len;
    in->len += (size_t)result;
    process(in, 0, scan_from);
    if (!in->stopped && !in->paused)
        issue_read(in);
}

static void on_fs_read(uv_fs_t *req)
{
    event_input *in = req->data;
    ssize_t result = req->result;
    uv_fs_req_cleanup(req);
    in->read_pending = false;
    if (in->closing) {
        release(in);
        return;
    }
    if (in->stopped)
        return;
    if (in->paused) { /* paused from outside while this read was in flight */
        in->read_deferred = true;
        in->deferred_result = result;
        return;
    }
    handle_read(in, result);
}

static void issue_read(event_input *in)
{
    uv_buf_t buf = uv_buf_init(in->buf + in->len, READ_CHUNK);
    in->read_req.data = in;
    int rc = uv_fs_read(in->loop, &in->read_req, in->fd, &buf, 1, in->offset, on_fs_read);
    if (rc < 0) {
        char message[256];
        snprintf(message, sizeof message, "%s: read failed: %s", in->label, uv_strerror(rc));
        finish(in, rc, message);
        return;
    }
    in->read_pending = true;
}

/* ---- pipes and terminals ---------------------------------------------------------------- */

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    event_input *in = handle->data;
    *buf = uv_buf_init(in->buf + in->len, READ_CHUNK);
}

static void on_stream_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    event_input *in = stream->data;
    if (in->stopped || nread == 0)
        return;
    if (nread == UV_EOF) {
        uv_read_stop(stream);
        finish(in, 0, NULL);
        return;
    }
    if (nread < 0) {
        uv_read_stop(stream);
        char message[256];
        snprintf(message, sizeof message, "%s: read failed: %s", in->label,
                 uv_strerror((int)nread));
        finish(in, (int)nread, message);
        return;
    }
    /* libuv calls no read callback after uv_read_stop, so a paused reader gets none. */
    size_t scan_from = in->len;
    in->len += (size_t)nread;
    process(in, 0, scan_from);
}

static void on_stream_closed(uv_handle_t *handle)
{
    release(handle->data);
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
            rc = uv_pipe_open(&in->stream.pipe, in->fd);
        }
    }
    /* A pipe or terminal is read from where it stands; a file from its start (or, for a
     * redirected stdin, from its current position). */
    if (in->is_stream)
        in->offset = -1;
    in->stream.handle.data = in;
    if (rc < 0) {
        snprintf(msg, msg_size, "%s: cannot read: %s", in->label, uv_strerror(rc));
        if (in->is_stream) {
            /* The handle was initialised, so it must be closed through the loop. */
            uv_close(&in->stream.handle, on_stream_closed);
        } else {
            release(in);
        }
        return rc;
    }
    *out = in;
    return 0;
}

int event_input_start(event_input *in, char *msg, size_t msg_size)
{
    if (!in->is_stream) {
        issue_read(in);
        return 0;
    }
    int rc = uv_read_start(&in->stream.stream, on_alloc, on_stream_read);
    if (rc < 0)
        snprintf(msg, msg_size, "%s: cannot read: %s", in->label, uv_strerror(rc));
    return rc;
}

void event_input_stop(event_input *in)
{
    in->stopped = true;
    if (in->is_stream)
        uv_read_stop(&in->stream.stream);
}

void event_input_pause(event_input *in)
{
    if (!in->stopped && !in->closing)
        pause_reading(in);
}

void event_input_resume(event_input *in)
{
    if (!in->paused || in->stopped || in->closing)
        return;
    in->paused = false;
    if (!deliver(in)) /* the held lines first */
        return;
    if (in->scan_pending) {
        in->scan_pending = false;
        process(in, in->scan_line_start, in->scan_pos);
        if (in->stopped || in->paused)
            return;
    }
    if (in->end_pending) {
        in->end_pending = false;
        end_input(in, in->end_status, in->end_has_message ? in->end_message : NULL);
        return;
    }
    if (in->read_deferred) {
        in->read_deferred = false;
        handle_read(in, in->deferred_result);
        return;
    }
    if (!in->is_stream) {
        if (!in->read_pending)
            issue_read(in);
        return;
    }
    int rc = uv_read_start(&in->stream.stream, on_alloc, on_stream_read);
    if (rc < 0) {
        char message[256];
        snprintf(message, sizeof message, "%s: cannot read: %s", in->label, uv_strerror(rc));
        finish(in, rc, message);
    }
}

void event_input_close(event_input *in, input_closed_cb closed, void *arg)
{
    event_input_stop(in);
    in->closing = true;
    in->closed = closed;
    in->closed_arg = arg;
    if (in->is_stream)
        uv_close(&in->stream.handle, on_stream_closed);
    else if (!in->read_pending)
        release(in);
    /* else on_fs_read releases it when the pending read completes */
}
