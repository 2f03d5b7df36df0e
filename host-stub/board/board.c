/* board.c — the board's server glue: libwebsockets on the host's libuv loop, the routes,
 * the bearer token, the WebSocket clients and their bounded queues; see board.h. */
#include "board/board.h"

#include <errno.h>
#include <libwebsockets.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    board_queue queue;
    uint64_t progress_ms; /* loop time of its last write, or of its queue's filling from empty */
    struct session *prev, *next;
} session;

struct board {
    uv_loop_t *loop;
    const node_config *config;
    struct lws_context *context; /* NULL once destroyed (lws clears it through pcontext) */
    board_state *state;
    session *clients; /* the WebSocket clients, newest first */
    size_t client_count;
    size_t http_count; /* HTTP answers in flight */
    int port;
    uint64_t behind_ms; /* a message waiting longer than this: the client is behind */
    uv_check_t turn;    /* writes the clients' queues each loop turn (on_turn) */
    bool turn_ready;
    bool closed;
};

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
    board_msg *hello = board_state_hello(b->state, uv_now(b->loop));
    if (hello == NULL || board_queue_push(&ss->queue, hello) < 0) {
        board_msg_unref(hello);
        return -1;
    }
    board_msg_unref(hello);
    ss->client = true;
    ss->progress_ms = uv_now(b->loop);
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
        int n = lws_write(wsi, m->data + m->pre, m->len, LWS_WRITE_TEXT);
        size_t len = m->len;
        board_msg_unref(m);
        if (n < (int)len)
            return -1;
        ss->progress_ms = uv_now(b->loop);
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

/* Every loop turn, after its poll: each client with messages waiting is written to. With the
 * libuv event library of libwebsockets 4.1 on a foreign loop, a writable request made between
 * two services (the batch's hook runs in the host's idle phase) was seen to wait until lws
 * serviced something else on that connection, seconds later, so every client fell behind a
 * burst; what lws holds of a write taken in part likewise waited for a POLLOUT service it did
 * not ask for. So each turn: a held remainder is flushed by a POLLOUT service of the socket
 * when it is writable (lws_service_fd, as an external poll loop does), and otherwise the queue
 * is written directly, safe while lws holds nothing (lws_partial_buffered). */
static void on_turn(uv_check_t *check)
{
    board *b = check->data;
    for (session *ss = b->clients, *next; ss != NULL; ss = next) {
        next = ss->next;
        if (ss->dropped || ss->queue.count == 0)
            continue;
        if (lws_partial_buffered(ss->wsi)) {
            struct pollfd p = {.fd = lws_get_socket_fd(ss->wsi), .events = POLLOUT};
            if (p.fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & POLLOUT)) {
                struct lws_pollfd lp = {.fd = p.fd, .events = POLLOUT, .revents = POLLOUT};
                lws_service_fd(b->context, &lp); /* may close it: `next` is already taken */
            }
            continue;
        }
        if (write_queued(b, ss->wsi, ss) < 0)
            client_drop(b, ss);
    }
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

int board_start(uv_loop_t *loop, const node_config *config, board **out, char *msg, size_t msg_size)
{
    *out = NULL;
    board *b = calloc(1, sizeof *b);
    if (b == NULL || board_state_new(config->ledger_path, LWS_PRE, &b->state) < 0) {
        free(b);
        snprintf(msg, msg_size, "board: out of memory");
        return -ENOMEM;
    }
    b->loop = loop;
    b->config = config;
    b->behind_ms = BOARD_BEHIND_MS;
    const char *behind = getenv("SMART_BOARD_BEHIND_MS");
    if (behind != NULL && *behind != '\0') {
        char *end;
        unsigned long long v = strtoull(behind, &end, 10);
        if (*end == '\0' && v > 0)
            b->behind_ms = v;
    }
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    void *loops[1] = {loop};
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
    /* libuv: the host's loop; no signal handlers of lws's (the host has its own, and its crash
     * guard). */
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN |
                   LWS_SERVER_OPTION_VALIDATE_UTF8;
    if (strchr(config->dashboard_host, ':') == NULL)
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    b->context = lws_create_context(&info);
    if (b->context == NULL) {
        snprintf(msg, msg_size,
                 "%s: dashboard.listen: cannot serve the board on %s:%d (the address is in use "
                 "or not this machine's, or libwebsockets' libuv event library "
                 "libwebsockets-evlib-uv is missing; libwebsockets said why above)",
                 config->file_path, config->dashboard_host, config->dashboard_port);
        board_state_free(b->state);
        free(b);
        return -EADDRNOTAVAIL;
    }
    if (uv_check_init(loop, &b->turn) == 0) {
        b->turn_ready = true;
        b->turn.data = b;
        uv_check_start(&b->turn, on_turn);
        uv_unref((uv_handle_t *)&b->turn); /* it must not keep the loop alive */
    }
    struct lws_vhost *vhost = lws_get_vhost_by_name(b->context, "smart-board");
    b->port = vhost ? lws_get_vhost_listen_port(vhost) : config->dashboard_port;
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
    board_msg **msgs;
    size_t count;
    uint64_t loop_ms = uv_now(b->loop);
    if (board_state_durable(b->state, lines, len, seq, now_ms, loop_ms, &msgs, &count) < 0) {
        host_diag("board: out of memory: this batch's events are not on the board; clients "
                  "must resync");
        for (session *ss = b->clients, *next; ss != NULL; ss = next) {
            next = ss->next;
            client_drop(b, ss);
        }
        return;
    }
    for (session *ss = b->clients, *next; ss != NULL; ss = next) {
        next = ss->next;
        if (count == 0)
            continue;
        /* Still holding more than its bounds from the batches before: it is not keeping up. */
        /* Behind: more than its bounds still waiting, or nothing taken for behind_ms while
         * messages wait (a reader that is merely slow makes progress every turn). */
        bool queued = !board_queue_behind(&ss->queue) &&
                      !(ss->queue.count > 0 && loop_ms - ss->progress_ms > b->behind_ms);
        if (queued && ss->queue.count == 0)
            ss->progress_ms = loop_ms;
        for (size_t i = 0; i < count && queued; i++)
            queued = board_queue_push(&ss->queue, msgs[i]) == 0;
        if (queued)
            lws_callback_on_writable(ss->wsi);
        else
            client_drop(b, ss);
    }
    for (size_t i = 0; i < count; i++)
        board_msg_unref(msgs[i]);
    free(msgs);
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
    if (b->turn_ready && !uv_is_closing((uv_handle_t *)&b->turn))
        uv_close((uv_handle_t *)&b->turn, NULL);
    if (b->context != NULL)
        lws_context_destroy(b->context);
}

void board_free(board *b)
{
    if (b == NULL)
        return;
    if (!b->closed)
        board_close(b);
    /* With a foreign loop the first destroy closes lws's handles; once the loop has run them
     * closed, a second one frees the context (lws clears b->context through pcontext). */
    if (b->context != NULL)
        lws_context_destroy(b->context);
    board_state_free(b->state);
    free(b);
}
