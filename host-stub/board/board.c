/* board.c — the board's server glue: libwebsockets on the host's libuv loop, the routes,
 * the bearer token, the WebSocket clients and their bounded queues; see board.h. */
#include "board/board.h"

#include <errno.h>
#include <libwebsockets.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "board/board_api.h"
#include "board/board_assets.h"
#include "board/board_queue.h"
#include "output/diag.h"
#include "util/strbuf.h"

#define BOARD_MAX_ARGS 8
#define BOARD_ARG_MAX  256
#define BOARD_CHUNK    16384

/* One connection's state (libwebsockets allocates it zeroed, per_session_data_size): an HTTP
 * answer being written, or a WebSocket client. */
typedef struct session {
    struct lws *wsi;
    /* HTTP */
    strbuf body; /* LWS_PRE bytes of headroom, then the answer's body */
    size_t sent; /* body bytes written so far */
    bool answering;
    bool close_after; /* not a GET: the connection is closed after the answer */
    bool await_body;  /* a request body comes first: the answer waits until it is read */
    /* WebSocket */
    bool client;  /* counted in the board's clients */
    bool dropped; /* fell behind: closed without another message */
    bool deflate; /* asked /ws?deflate=1: each batch deflated, in a binary message */
    board_queue queue;
    uint64_t progress_ms; /* loop time of its last write, or of its queue's filling from empty */
    struct session *prev, *next;
} session;

/* A batch handed over by the host's thread: its lines the board takes in (board_line_wanted),
 * or, when the hand-over queue was full, none and `lost` (every client must resync). */
typedef struct handoff {
    struct handoff *next;
    uint64_t seq;
    int64_t now_ms;
    bool lost;
    size_t len;
    char lines[];
} handoff;

struct board {
    const node_config *config;
    pthread_t thread;
    /* Shared with the host's thread, under `lock`. */
    pthread_mutex_t lock;
    pthread_cond_t started_cond;
    handoff *head, *tail; /* batches handed over, oldest first */
    size_t handoff_bytes;
    bool lost;       /* a batch was not handed over: the next one says so */
    bool stop_asked; /* board_close: flush and stop */
    bool started;    /* the thread has said how its start went (start_rc, start_msg) */
    int start_rc;
    char start_msg[512];
    /* The host's thread only. */
    bool thread_running;
    bool closed;
    /* The board's thread only (its port is set before `started`). */
    uv_loop_t loop;
    uv_async_t wake;             /* a batch handed over, or the stop asked */
    uv_timer_t tick;             /* while stopping: checks the flush */
    struct lws_context *context; /* NULL once destroyed (lws clears it through pcontext) */
    board_state *state;
    session *clients; /* the WebSocket clients, newest first */
    size_t client_count;
    size_t http_count; /* HTTP answers in flight */
    int port;
    uint64_t behind_ms;  /* a message waiting longer than this: the client is behind */
    uint64_t flush_ms;   /* at a stop, how long queued messages may take to go */
    uint64_t stop_at_ms; /* loop time the flush gives up at (while stopping) */
    uv_check_t turn;     /* writes the clients' queues each loop turn (on_turn) */
    bool stopping;       /* flushing: no new batches, no new clients */
    bool finishing;      /* the flush is over: closing */
};

static void take_handoffs(board *b);
static void finish(board *b);
static void on_tick(uv_timer_t *timer);

/* libwebsockets' own log lines, errors and warnings only, as the host's diagnostics. */
static void lws_log(int level, const char *line)
{
    (void)level;
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    host_diag("board: libwebsockets: %.*s", (int)len, line);
}

static bool authorized(board *b, struct lws *wsi)
{
    const char *token = b->config->dashboard_token;
    if (token == NULL)
        return true;
    char given[512];
    int n = lws_hdr_copy(wsi, given, sizeof given, WSI_TOKEN_HTTP_AUTHORIZATION);
    size_t want = strlen(token);
    if (n < 7 || strncasecmp(given, "Bearer ", 7) != 0 || (size_t)n - 7 != want)
        return false;
    return CRYPTO_memcmp(given + 7, token, want) == 0; /* the token's bytes in constant time */
}

static void session_free_body(board *b, session *ss)
{
    if (ss->answering) {
        ss->answering = false;
        b->http_count--;
    }
    strbuf_free(&ss->body);
    ss->sent = 0;
}

/* Write the status line and headers of an answer whose body is in ss->body, and ask to write
 * the body. Returns 0, or -1 to close the connection. */
static int begin_answer(board *b, struct lws *wsi, session *ss, unsigned int status,
                        const char *content_type)
{
    unsigned char headers[LWS_PRE + 1024];
    unsigned char *start = headers + LWS_PRE, *p = start, *end = headers + sizeof headers - 1;
    size_t len = ss->body.len - LWS_PRE;
    static const char csp[] = "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
                              "frame-ancestors 'none'";
    if (lws_add_http_common_headers(wsi, status, content_type, len, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
                                    (const unsigned char *)"nosniff", 7, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"content-security-policy:",
                                    (const unsigned char *)csp, (int)strlen(csp), &p, end))
        return -1;
    if (status == HTTP_STATUS_UNAUTHORIZED &&
        lws_add_http_header_by_name(wsi, (const unsigned char *)"www-authenticate:",
                                    (const unsigned char *)"Bearer realm=\"smart-board\"", 26, &p,
                                    end))
        return -1;
    if (ss->close_after && lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
                                                       (const unsigned char *)"close", 5, &p, end))
        return -1;
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    if (!ss->answering) {
        ss->answering = true;
        b->http_count++;
    }
    if (!ss->await_body)
        lws_callback_on_writable(wsi);
    (void)b;
    return 0;
}

/* An error answer: {"error": why}. */
static int answer_error(board *b, struct lws *wsi, session *ss, unsigned int status,
                        const char *why)
{
    strbuf_truncate(&ss->body, 0);
    char pre[LWS_PRE] = {0};
    if (strbuf_append(&ss->body, pre, LWS_PRE) < 0 ||
        strbuf_appendf(&ss->body, "{\"error\":\"%s\"}", why) < 0)
        return -1;
    return begin_answer(b, wsi, ss, status, "application/json");
}

/* The query's name=value parts (URL-decoded by libwebsockets) into `args`. Returns their number,
 * or -1 when there are too many or one is too long. */
static int query_args(struct lws *wsi, char store[BOARD_MAX_ARGS][BOARD_ARG_MAX],
                      const char *args[BOARD_MAX_ARGS])
{
    int n = 0;
    for (int i = 0;; i++) {
        int flen = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (flen <= 0)
            return n;
        if (n == BOARD_MAX_ARGS || flen >= BOARD_ARG_MAX ||
            lws_hdr_copy_fragment(wsi, store[n], BOARD_ARG_MAX, WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
            return -1;
        args[n] = store[n];
        n++;
    }
}

static int on_http(board *b, struct lws *wsi, session *ss, const char *uri, size_t uri_len)
{
    ss->wsi = wsi;
    take_handoffs(b); /* an answer covers every batch durable before the request */
    char path[256];
    snprintf(path, sizeof path, "%.*s", (int)(uri_len < sizeof path ? uri_len : sizeof path - 1),
             uri);
    bool get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
    if (b->http_count >= BOARD_MAX_HTTP) {
        ss->close_after = true;
        return answer_error(b, wsi, ss, HTTP_STATUS_SERVICE_UNAVAILABLE, "too many requests");
    }
    if (!authorized(b, wsi)) {
        host_diag("board: 401 %s: no valid bearer token", path);
        ss->close_after = !get;
        return answer_error(b, wsi, ss, HTTP_STATUS_UNAUTHORIZED,
                            "this board needs Authorization: Bearer TOKEN");
    }
    if (!get) {
        /* Read-only: nothing over HTTP changes the station. */
        host_diag("board: 405 %s: only GET is served", path);
        ss->close_after = true;
        ss->await_body = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0;
        return answer_error(b, wsi, ss, HTTP_STATUS_METHOD_NOT_ALLOWED, "only GET is served");
    }
    const board_asset *asset = board_asset_find(path);
    char pre[LWS_PRE] = {0};
    strbuf_truncate(&ss->body, 0);
    if (strbuf_append(&ss->body, pre, LWS_PRE) < 0)
        return -1;
    if (asset != NULL) {
        if (strbuf_append(&ss->body, (const char *)asset->data, asset->len) < 0)
            return -1;
        return begin_answer(b, wsi, ss, HTTP_STATUS_OK, asset->content_type);
    }
    char store[BOARD_MAX_ARGS][BOARD_ARG_MAX];
    const char *args[BOARD_MAX_ARGS];
    int nargs = query_args(wsi, store, args);
    if (nargs < 0) {
        host_diag("board: 400 %s: too many or too long query parameters", path);
        return answer_error(b, wsi, ss, HTTP_STATUS_BAD_REQUEST,
                            "too many or too long query parameters");
    }
    board_answer answer;
    if (board_state_answer(b->state, path, args, (size_t)nargs, &ss->body, &answer) < 0)
        return answer_error(b, wsi, ss, HTTP_STATUS_INTERNAL_SERVER_ERROR, "out of memory");
    if (answer.status != 200) {
        char shown[300];
        host_diag_escape(answer.why, strlen(answer.why), shown, sizeof shown);
        host_diag("board: %d GET %s: %s", answer.status, path, shown);
    }
    return begin_answer(b, wsi, ss, (unsigned int)answer.status, answer.content_type);
}

static int on_http_writeable(board *b, struct lws *wsi, session *ss)
{
    if (!ss->answering)
        return 0;
    size_t total = ss->body.len - LWS_PRE;
    size_t n = total - ss->sent < BOARD_CHUNK ? total - ss->sent : BOARD_CHUNK;
    bool last = ss->sent + n == total;
    /* The LWS_PRE bytes before each chunk are headroom or bytes already sent. */
    unsigned char *at = (unsigned char *)ss->body.data + LWS_PRE + ss->sent;
    if (lws_write(wsi, at, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
        return -1;
    ss->sent += n;
    if (!last) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    bool close_after = ss->close_after;
    session_free_body(b, ss);
    if (close_after || lws_http_transaction_completed(wsi))
        return -1;
    return 0;
}

/* Before the upgrade to a WebSocket: only /ws, with the token, while there is room. Returns 0
 * to let it proceed, 1 when an answer was written instead (there is no session yet: the plain
 * status answer of libwebsockets). */
static int confirm_upgrade(board *b, struct lws *wsi)
{
    char uri[64];
    int n = lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
    unsigned int status = 0;
    if (!authorized(b, wsi)) {
        host_diag("board: 401 WebSocket upgrade: no valid bearer token");
        status = HTTP_STATUS_UNAUTHORIZED;
    } else if (n < 0 || strcmp(uri, "/ws") != 0) {
        host_diag("board: 404 WebSocket upgrade on a path other than /ws");
        status = HTTP_STATUS_NOT_FOUND;
    } else if (b->client_count >= BOARD_MAX_CLIENTS) {
        host_diag("board: 503 WebSocket upgrade: %d clients already connected", BOARD_MAX_CLIENTS);
        status = HTTP_STATUS_SERVICE_UNAVAILABLE;
    }
    if (status == 0)
        return 0;
    /* The whole answer at once: it is short, and libwebsockets keeps what the socket does not
     * take yet. */
    static const char body[] = "{\"error\":\"refused: see the host's standard error\"}";
    unsigned char buf[LWS_PRE + 1024];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
    if (lws_add_http_common_headers(wsi, status, "application/json", sizeof body - 1, &p, end) ||
        (status == HTTP_STATUS_UNAUTHORIZED &&
         lws_add_http_header_by_name(wsi, (const unsigned char *)"www-authenticate:",
                                     (const unsigned char *)"Bearer realm=\"smart-board\"", 26, &p,
                                     end)) ||
        lws_finalize_http_header(wsi, &p, end))
        return -1;
    if ((size_t)(end - p) < sizeof body)
        return -1;
    memcpy(p, body, sizeof body - 1);
    p += sizeof body - 1;
    if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_FINAL) != (int)(p - start))
        return -1;
    return 1;
}

static void client_unlink(board *b, session *ss)
{
    if (!ss->client)
        return;
    ss->client = false;
    if (ss->prev)
        ss->prev->next = ss->next;
    else
        b->clients = ss->next;
    if (ss->next)
        ss->next->prev = ss->prev;
    ss->prev = ss->next = NULL;
    b->client_count--;
}

/* A client that fell behind: nothing more is queued for it, and it is closed on the next
 * service (it cannot be written to: it is not reading). */
static void client_drop(board *b, session *ss)
{
    host_diag("board: a WebSocket client fell behind (%zu messages, %zu bytes waiting); dropped, "
              "it must resync with ?since=",
              ss->queue.count, ss->queue.bytes);
    ss->dropped = true;
    board_queue_clear(&ss->queue);
    client_unlink(b, ss);
    lws_set_timeout(ss->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static int on_established(board *b, struct lws *wsi, session *ss)
{
    ss->wsi = wsi;
    session_free_body(b, ss);
    if (board_queue_init(&ss->queue, BOARD_QUEUE_MAX, BOARD_QUEUE_BYTES) < 0)
        return -1;
    /* Every batch durable before the client was taken in is behind its hello (which says
     * through which seq), whichever the loop saw first. */
    take_handoffs(b);
    if (b->stopping)
        return -1; /* the host is stopping: nothing more will come */
    char store[BOARD_MAX_ARGS][BOARD_ARG_MAX];
    const char *args[BOARD_MAX_ARGS];
    int nargs = query_args(wsi, store, args);
    for (int i = 0; i < nargs; i++)
        ss->deflate |= strcmp(args[i], "deflate=1") == 0;
    board_msg *hello = board_state_hello(b->state, uv_now(&b->loop));
    if (hello == NULL || board_queue_push(&ss->queue, hello) < 0) {
        board_msg_unref(hello);
        return -1;
    }
    board_msg_unref(hello);
    ss->client = true;
    ss->progress_ms = uv_now(&b->loop);
    ss->next = b->clients;
    if (b->clients)
        b->clients->prev = ss;
    b->clients = ss;
    b->client_count++;
    lws_callback_on_writable(wsi);
    return 0;
}

/* Write queued messages until the kernel takes one only in part (lws keeps the rest, and
 * lws_partial_buffered says so): the socket's send buffer bounds a turn's writes, and one
 * message a turn would leave every client behind a batch of thousands of events. Returns 0, or
 * -1 to close the connection. */
static int write_queued(board *b, struct lws *wsi, session *ss)
{
    while (!lws_partial_buffered(wsi)) {
        board_msg *m = board_queue_pop(&ss->queue);
        if (m == NULL)
            return 0;
        int n =
            lws_write(wsi, m->data + m->pre, m->len, m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
        size_t len = m->len;
        board_msg_unref(m);
        if (n < (int)len)
            return -1;
        ss->progress_ms = uv_now(&b->loop);
    }
    if (ss->queue.count > 0)
        lws_callback_on_writable(wsi);
    return 0;
}

static int on_ws_writeable(board *b, struct lws *wsi, session *ss)
{
    if (ss->dropped)
        return -1;
    return write_queued(b, wsi, ss);
}

/* While stopping: whether every client still served has nothing left to write (what the
 * kernel holds of it, it sends after the close). */
static bool all_written(board *b)
{
    for (session *ss = b->clients; ss != NULL; ss = ss->next)
        if (!ss->dropped && (ss->queue.count > 0 || lws_partial_buffered(ss->wsi)))
            return false;
    return true;
}

/* Every loop turn, after its poll: each client with messages waiting is written to. With the
 * libuv event library of libwebsockets 4.1 on a foreign loop, a writable request made between
 * two services (the batch's hook runs in the host's idle phase) was seen to wait until lws
 * serviced something else on that connection, seconds later, so every client fell behind a
 * burst; what lws holds of a write taken in part likewise waited for a POLLOUT service it did
 * not ask for. So each turn: a held remainder is flushed by a POLLOUT service of the socket
 * when it is writable (lws_service_fd, as an external poll loop does), and otherwise the queue
 * is written directly, safe while lws holds nothing (lws_partial_buffered). While stopping, a
 * client that took nothing for a quarter of the flush's time is given up, and once all is written
 * (or the flush's deadline passed) the board closes. */
static void on_turn(uv_check_t *check)
{
    board *b = check->data;
    if (b->finishing)
        return;
    uint64_t now = uv_now(&b->loop);
    for (session *ss = b->clients, *next; ss != NULL; ss = next) {
        next = ss->next;
        if (ss->dropped || (ss->queue.count == 0 && !lws_partial_buffered(ss->wsi)))
            continue;
        if (b->stopping && now - ss->progress_ms > b->flush_ms / 4) {
            client_drop(b, ss);
            continue;
        }
        if (lws_partial_buffered(ss->wsi)) {
            struct pollfd p = {.fd = lws_get_socket_fd(ss->wsi), .events = POLLOUT};
            if (p.fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & POLLOUT)) {
                ss->progress_ms = now;
                struct lws_pollfd lp = {.fd = p.fd, .events = POLLOUT, .revents = POLLOUT};
                lws_service_fd(b->context, &lp); /* may close it: `next` is already taken */
            }
            continue;
        }
        if (write_queued(b, ss->wsi, ss) < 0)
            client_drop(b, ss);
    }
    if (b->stopping && (now >= b->stop_at_ms || all_written(b)))
        finish(b);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct lws_context *context = lws_get_context(wsi);
    board *b = context ? lws_context_user(context) : NULL;
    session *ss = user;
    bool http_or_ws = reason == LWS_CALLBACK_HTTP || reason == LWS_CALLBACK_HTTP_WRITEABLE ||
                      reason == LWS_CALLBACK_ESTABLISHED || reason == LWS_CALLBACK_SERVER_WRITEABLE;
    if (http_or_ws && (ss == NULL || b == NULL))
        return -1; /* no session of ours: nothing to serve it with */
    switch (reason) {
    case LWS_CALLBACK_HTTP: return on_http(b, wsi, ss, in, len);
    case LWS_CALLBACK_HTTP_BODY:
        return 0; /* a body is read and dropped: the answer is 405 and the connection closed */
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (ss != NULL && ss->await_body) {
            ss->await_body = false;
            lws_callback_on_writable(wsi);
        }
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE: return on_http_writeable(b, wsi, ss);
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: return confirm_upgrade(b, wsi);
    case LWS_CALLBACK_CLOSED_HTTP:
        if (ss != NULL)
            session_free_body(b, ss);
        return 0;
    case LWS_CALLBACK_ESTABLISHED: return on_established(b, wsi, ss);
    case LWS_CALLBACK_SERVER_WRITEABLE: return on_ws_writeable(b, wsi, ss);
    case LWS_CALLBACK_RECEIVE: return 0; /* clients have nothing to say: read and ignored */
    case LWS_CALLBACK_CLOSED:
        if (ss == NULL)
            return 0;
        client_unlink(b, ss);
        board_queue_free(&ss->queue);
        session_free_body(b, ss);
        return 0;
    default: return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols protocols[] = {
    /* rx 1024: clients send nothing; tx: a whole message a send(), not 1024 (lws limits
     * each send to rx_buffer_size when tx_packet_size is 0, and buffers the rest) */
    {"smart-board", callback, sizeof(session), 1024, 0, NULL, 1u << 20},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void queue_batch(board *b, const handoff *h)
{
    if (h->lost) {
        host_diag("board: a batch could not be handed over to the board (out of memory, or the "
                  "board's thread behind by %u MiB); clients must resync",
                  (unsigned)(BOARD_HANDOFF_BYTES >> 20));
        for (session *ss = b->clients, *next; ss != NULL; ss = next) {
            next = ss->next;
            client_drop(b, ss);
        }
        return;
    }
    unsigned forms = 0;
    for (session *ss = b->clients; ss != NULL; ss = ss->next)
        forms |= ss->deflate ? BOARD_FORM_DEFLATE : BOARD_FORM_TEXT;
    board_msg *msgs[2];
    uint64_t loop_ms = uv_now(&b->loop);
    if (board_state_durable(b->state, h->lines, h->len, h->seq, h->now_ms, loop_ms, forms, msgs) <
        0) {
        host_diag("board: out of memory: this batch's events are not on the board; clients "
                  "must resync");
        for (session *ss = b->clients, *next; ss != NULL; ss = next) {
            next = ss->next;
            client_drop(b, ss);
        }
        return;
    }
    if (msgs[0] == NULL && msgs[1] == NULL)
        return;
    for (session *ss = b->clients, *next; ss != NULL; ss = next) {
        next = ss->next;
        board_msg *m = msgs[ss->deflate ? 1 : 0];
        if (m == NULL)
            continue;
        /* Behind: more than its bounds still waiting, or nothing taken for behind_ms while
         * messages wait (a reader that is merely slow makes progress every turn). */
        bool queued = !board_queue_behind(&ss->queue) &&
                      !(ss->queue.count > 0 && loop_ms - ss->progress_ms > b->behind_ms);
        if (queued && ss->queue.count == 0)
            ss->progress_ms = loop_ms;
        if (queued)
            queued = board_queue_push(&ss->queue, m) == 0;
        if (queued)
            lws_callback_on_writable(ss->wsi);
        else
            client_drop(b, ss);
    }
    board_msg_unref(msgs[0]);
    board_msg_unref(msgs[1]);
}

/* Take in every batch handed over so far, in order (the board's thread). */
static void take_handoffs(board *b)
{
    pthread_mutex_lock(&b->lock);
    handoff *h = b->head;
    b->head = b->tail = NULL;
    b->handoff_bytes = 0;
    bool stop = b->stop_asked;
    pthread_mutex_unlock(&b->lock);
    while (h != NULL) {
        handoff *next = h->next;
        if (!b->finishing)
            queue_batch(b, h);
        free(h);
        h = next;
    }
    if (stop && !b->stopping) {
        size_t waiting = 0, messages = 0;
        for (session *ss = b->clients; ss != NULL; ss = ss->next) {
            bool held = !ss->dropped && (ss->queue.count > 0 || lws_partial_buffered(ss->wsi));
            waiting += held;
            messages += held ? ss->queue.count : 0;
        }
        if (b->client_count > 0)
            host_diag("board: stopping: %zu of %zu clients have messages waiting (%zu queued, "
                      "and what the sockets have not taken), sent first for at most %llu ms",
                      waiting, b->client_count, messages, (unsigned long long)b->flush_ms);
        b->stopping = true;
        b->stop_at_ms = uv_now(&b->loop) + b->flush_ms;
        /* The check runs each turn; the tick makes turns while the flush waits on sockets. */
        uv_timer_start(&b->tick, on_tick, BOARD_FLUSH_TICK_MS, BOARD_FLUSH_TICK_MS);
    }
}

static void on_wake(uv_async_t *async)
{
    take_handoffs(async->data);
}

static void on_tick(uv_timer_t *timer)
{
    (void)timer; /* its turn runs on_turn, which checks the flush */
}

/* The flush is over: close every connection and handle; the loop then ends. */
static void finish(board *b)
{
    if (b->finishing)
        return;
    b->finishing = true;
    uv_timer_stop(&b->tick);
    uv_close((uv_handle_t *)&b->tick, NULL);
    uv_close((uv_handle_t *)&b->turn, NULL);
    uv_close((uv_handle_t *)&b->wake, NULL);
    if (b->context != NULL)
        lws_context_destroy(b->context); /* closes lws's handles as the loop runs on */
}

static const struct lws_protocols protocols[];

/* Why `host`:`port` cannot be listened on, found by binding it (a socket of our own, closed at
 * once) after libwebsockets could not: its own log says it only as errno numbers. Returns `buf`
 * holding the reason, or NULL when the bind works now. */
static const char *bind_failure(const char *host, int port, char *buf, size_t size)
{
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(host, service, &hints, &ai);
    if (gai != 0) {
        snprintf(buf, size, "%s", gai_strerror(gai));
        return buf;
    }
    const char *why = NULL;
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1) < 0) {
        snprintf(buf, size, "%s", strerror(errno));
        why = buf;
    }
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return why;
}

/* Make the libwebsockets context on the board's loop, listening. Returns 0, or -1 with
 * b->start_msg set. */
static int start_context(board *b)
{
    const node_config *config = b->config;
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    void *loops[1] = {&b->loop};
    info.foreign_loops = loops;
    info.port = config->dashboard_port;
    info.iface = config->dashboard_host;
    info.protocols = protocols;
    info.user = b;
    info.pcontext = &b->context;
    info.gid = (gid_t)-1;
    info.uid = (uid_t)-1;
    info.vhost_name = "smart-board";
    info.max_http_header_data = BOARD_MAX_HEADER;
    info.max_http_header_pool = 32;
    info.timeout_secs = 10;
    info.keepalive_timeout = 5;
    /* libuv: the board's own loop; no signal handlers of lws's (the host has its own, and its
     * crash guard). Without FAIL_UPON_UNABLE_TO_BIND an address in use or not this machine's
     * only logs, and the host would run with no board (issue 16). */
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN |
                   LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
    if (strchr(config->dashboard_host, ':') == NULL)
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    /* The vhost apart: when the context itself fails on a foreign loop, lws unloads its libuv
     * event library before the loop has run its handles closed; a context that failed only
     * to make its vhost is freed as any other (board_main). */
    info.options |= LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    b->context = lws_create_context(&info);
    struct lws_vhost *vhost = b->context != NULL ? lws_create_vhost(b->context, &info) : NULL;
    b->port = vhost != NULL ? lws_get_vhost_listen_port(vhost) : -1;
    if (b->port > 0)
        return 0;
    /* A context without its listening vhost: the first destroy closes lws's handles, board_main
     * frees it once its loop has run them closed. */
    if (b->context != NULL)
        lws_context_destroy(b->context);
    bool v6 = strchr(config->dashboard_host, ':') != NULL;
    char buf[128];
    const char *why = bind_failure(config->dashboard_host, config->dashboard_port, buf, sizeof buf);
    if (why != NULL)
        snprintf(b->start_msg, sizeof b->start_msg,
                 "%s: dashboard.listen: cannot listen on %s%s%s:%d: %s", config->file_path,
                 v6 ? "[" : "", config->dashboard_host, v6 ? "]" : "", config->dashboard_port, why);
    else
        snprintf(b->start_msg, sizeof b->start_msg,
                 "%s: dashboard.listen: cannot serve the board on %s%s%s:%d (libwebsockets "
                 "said why above; is its libuv event library libwebsockets-evlib-uv missing?)",
                 config->file_path, v6 ? "[" : "", config->dashboard_host, v6 ? "]" : "",
                 config->dashboard_port);
    return -1;
}

/* The board's thread: its loop, libwebsockets on it, until the stop's flush is over. */
static void *board_main(void *arg)
{
    board *b = arg;
    int rc = uv_loop_init(&b->loop);
    bool loop_ready = rc == 0;
    if (rc == 0 && (rc = uv_async_init(&b->loop, &b->wake, on_wake)) < 0)
        uv_loop_close(&b->loop), loop_ready = false;
    if (rc < 0) {
        snprintf(b->start_msg, sizeof b->start_msg, "board: cannot start its loop: %s",
                 uv_strerror(rc));
    } else {
        b->wake.data = b;
        uv_timer_init(&b->loop, &b->tick);
        uv_check_init(&b->loop, &b->turn);
        b->turn.data = b;
        if (start_context(b) < 0) {
            rc = -EADDRNOTAVAIL;
            b->finishing = true;
            uv_close((uv_handle_t *)&b->tick, NULL);
            uv_close((uv_handle_t *)&b->turn, NULL);
            uv_close((uv_handle_t *)&b->wake, NULL);
        } else {
            uv_check_start(&b->turn, on_turn);
        }
    }
    pthread_mutex_lock(&b->lock);
    b->start_rc = rc;
    b->started = true;
    pthread_cond_broadcast(&b->started_cond);
    pthread_mutex_unlock(&b->lock);
    if (loop_ready) {
        uv_run(&b->loop, UV_RUN_DEFAULT);
        /* With a foreign loop the first destroy closes lws's handles; once the loop has run
         * them closed, a second one frees the context (lws clears b->context through
         * pcontext). */
        if (b->context != NULL)
            lws_context_destroy(b->context);
        uv_run(&b->loop, UV_RUN_DEFAULT);
        uv_loop_close(&b->loop);
    }
    return NULL;
}

int board_start(const node_config *config, board **out, char *msg, size_t msg_size)
{
    *out = NULL;
    board *b = calloc(1, sizeof *b);
    if (b == NULL || board_state_new(config->ledger_path, LWS_PRE, &b->state) < 0) {
        free(b);
        snprintf(msg, msg_size, "board: out of memory");
        return -ENOMEM;
    }
    b->config = config;
    b->behind_ms = BOARD_BEHIND_MS;
    b->flush_ms = BOARD_FLUSH_MS;
    static const char *const names[2] = {"SMART_BOARD_BEHIND_MS", "SMART_BOARD_FLUSH_MS"};
    uint64_t *values[2] = {&b->behind_ms, &b->flush_ms};
    for (int i = 0; i < 2; i++) {
        const char *text = getenv(names[i]);
        if (text != NULL && *text != '\0') {
            char *end;
            unsigned long long v = strtoull(text, &end, 10);
            if (*end == '\0' && v > 0)
                *values[i] = v;
        }
    }
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->started_cond, NULL);
    int rc = pthread_create(&b->thread, NULL, board_main, b);
    if (rc != 0) {
        snprintf(msg, msg_size, "board: cannot start its thread: %s", strerror(rc));
        board_state_free(b->state);
        pthread_mutex_destroy(&b->lock);
        pthread_cond_destroy(&b->started_cond);
        free(b);
        return -rc;
    }
    b->thread_running = true;
    pthread_mutex_lock(&b->lock);
    while (!b->started)
        pthread_cond_wait(&b->started_cond, &b->lock);
    rc = b->start_rc;
    pthread_mutex_unlock(&b->lock);
    if (rc < 0) {
        snprintf(msg, msg_size, "%s", b->start_msg);
        pthread_join(b->thread, NULL); /* it ends its loop at once: nothing to stop */
        b->thread_running = false;
        board_free(b);
        return rc;
    }
    bool v6 = strchr(config->dashboard_host, ':') != NULL;
    host_diag("board at http://%s%s%s:%d/%s", v6 ? "[" : "", config->dashboard_host, v6 ? "]" : "",
              b->port, config->dashboard_token ? " (bearer token required)" : "");
    *out = b;
    return 0;
}

void board_durable(void *arg, const char *lines, size_t len, uint64_t seq, int64_t now_ms)
{
    board *b = arg;
    if (b == NULL || b->closed)
        return;
    /* Only what the board takes in is copied (most of a busy station's output is not). */
    size_t want = 0;
    for (const char *p = lines, *end = lines + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (board_line_wanted(p, l))
            want += l + 1;
        p += l + 1;
    }
    pthread_mutex_lock(&b->lock);
    bool full = b->handoff_bytes + want > BOARD_HANDOFF_BYTES;
    pthread_mutex_unlock(&b->lock);
    handoff *h = full ? NULL : malloc(sizeof *h + want);
    bool lost = h == NULL;
    if (h == NULL)
        h = calloc(1, sizeof *h); /* a lost batch: say so */
    if (h == NULL) {
        pthread_mutex_lock(&b->lock);
        b->lost = true;
        pthread_mutex_unlock(&b->lock);
        uv_async_send(&b->wake);
        return;
    }
    h->next = NULL;
    h->seq = seq;
    h->now_ms = now_ms;
    h->lost = lost;
    h->len = 0;
    if (!lost) {
        for (const char *p = lines, *end = lines + len; p < end;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
            if (board_line_wanted(p, l)) {
                memcpy(h->lines + h->len, p, l);
                h->lines[h->len + l] = '\n';
                h->len += l + 1;
            }
            p += l + 1;
        }
    }
    pthread_mutex_lock(&b->lock);
    h->lost |= b->lost;
    b->lost = false;
    if (b->tail)
        b->tail->next = h;
    else
        b->head = h;
    b->tail = h;
    b->handoff_bytes += h->len;
    pthread_mutex_unlock(&b->lock);
    uv_async_send(&b->wake);
}

int board_port(const board *b)
{
    return b->port;
}

void board_close(board *b)
{
    if (b == NULL || b->closed)
        return;
    b->closed = true;
    if (!b->thread_running)
        return;
    pthread_mutex_lock(&b->lock);
    b->stop_asked = true;
    pthread_mutex_unlock(&b->lock);
    uv_async_send(&b->wake);
    pthread_join(b->thread, NULL);
    b->thread_running = false;
}

void board_free(board *b)
{
    if (b == NULL)
        return;
    if (b->thread_running) {
        b->closed = false;
        board_close(b);
    }
    for (handoff *h = b->head, *next; h != NULL; h = next) {
        next = h->next;
        free(h);
    }
    board_state_free(b->state);
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->started_cond);
    free(b);
}
