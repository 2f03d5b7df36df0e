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
};

static void deliver(event_input *in) {
    if (in->line_count > 0 && !in->stopped)
        in->on_lines(in->arg, in->lines, in->line_count);
    in->line_count = 0;
}

static void add_line(event_input *in, const char *text, size_t len, bool too_long) {
    input_line *line = &in->lines[in->line_count++];
    line->text = too_long ? "" : text;
    line->len = too_long ? 0 : len;
    line->line_no = ++in->line_no;
    line->too_long = too_long;
    if (in->line_count == EVENT_INPUT_BATCH_MAX)
        deliver(in);
}

/* Split the buffered bytes into lines; `scan_from` is where new (unscanned) bytes start. */
static void process(event_input *in, size_t scan_from) {
    size_t line_start = 0;
    size_t pos = scan_from;
    char *newline;
    while (!in->stopped && (newline = memchr(in->buf + pos, '\n', in->len - pos)) != NULL) {
        size_t end = (size_t)(newline - in->buf);
        if (in->discarding)
            in->discarding = false; /* the too-long line was reported when it overflowed */
        else
            add_line(in, in->buf + line_start, end - line_start,
                     end - line_start > EVENT_INPUT_LINE_MAX);
        line_start = pos = end + 1;
    }
    deliver(in);
    if (in->stopped)
        return;
    size_t rest = in->len - line_start;
    if (in->discarding) {
        rest = 0;
    } else if (rest > EVENT_INPUT_LINE_MAX) {
        add_line(in, NULL, 0, true);
        deliver(in);
        in->discarding = true;
        rest = 0;
    }
    memmove(in->buf, in->buf + line_start, rest);
    in->len = rest;
}

static void finish(event_input *in, int status, const char *message) {
    if (in->stopped)
        return;
    if (status == 0 && in->len > 0 && !in->discarding)
        add_line(in, in->buf, in->len, false); /* a last line without its newline */
    in->len = 0;
    deliver(in);
    if (in->stopped)
        return;
    in->stopped = true;
    in->on_end(in->arg, status, message);
}

static void release(event_input *in) {
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

static void on_fs_read(uv_fs_t *req) {
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
    process(in, scan_from);
    if (!in->stopped)
        issue_read(in);
}

static void issue_read(event_input *in) {
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

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    event_input *in = handle->data;
    *buf = uv_buf_init(in->buf + in->len, READ_CHUNK);
}

static void on_stream_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
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
    size_t scan_from = in->len;
    in->len += (size_t)nread;
    process(in, scan_from);
}

static void on_stream_closed(uv_handle_t *handle) { release(handle->data); }

/* ---- public ----------------------------------------------------------------------------- */

int event_input_open(event_input **out, uv_loop_t *loop, const char *path, input_lines_cb on_lines,
                     input_end_cb on_end, void *arg, char *msg, size_t msg_size) {
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

int event_input_start(event_input *in, char *msg, size_t msg_size) {
    if (!in->is_stream) {
        issue_read(in);
        return 0;
    }
    int rc = uv_read_start(&in->stream.stream, on_alloc, on_stream_read);
    if (rc < 0)
        snprintf(msg, msg_size, "%s: cannot read: %s", in->label, uv_strerror(rc));
    return rc;
}

void event_input_stop(event_input *in) {
    in->stopped = true;
    if (in->is_stream)
        uv_read_stop(&in->stream.stream);
}

void event_input_close(event_input *in, input_closed_cb closed, void *arg) {
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
