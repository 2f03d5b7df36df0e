/*
 * board_bench.c — the status board's cost to the gate (issue 16); see board_bench.h.
 *
 * Each run feeds the generated events through a FIFO, so that the time measured is from the
 * first event written to the host's exit in both modes (the start-up, and in the board mode the
 * clients' connecting, come before it; the host's exit comes after the board has sent what it
 * queued). In the board mode, NODE-board.json is NODE.json with
 * "dashboard": {"listen": "127.0.0.1:0"}; the port is read from the host's "board at" line, then
 * a process of its own (client_process) connects the clients as the page does (/ws?deflate=1):
 * one libwebsockets client that inflates each message and counts the events, N-1 raw TCP
 * readers that only count bytes (so that what is measured is the host's work, not a reader's:
 * every raw reader must get the same bytes), and one that never reads after its upgrade: the
 * host must not wait for it. The host's CPU time (wait4) is printed beside events/s, and the
 * client process's apart.
 */
#include "board_bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

extern char **environ;

#define MAX_RUNS 100

typedef struct conn {
    struct client_set *set;
    bool stalled;
    bool counter; /* the one reader that inflates its messages and counts their events */
    bool established;
    bool closed;
    long messages; /* WebSocket messages received (the hello, then one a batch) */
    long events;   /* the counter: events in them (each has one "last": key; the hello counts 1) */
    long long bytes;
    unsigned char *msg; /* the counter: the message being received */
    size_t msg_len, msg_cap;
} conn;

typedef struct client_set {
    int port;
    int count; /* readers + 1 stalled */
    conn *conns;
    struct lws_context *context;
    int established, ended;
    int readers_ended; /* the stalled one never notices its end: it does not read */
} client_set;

/* What the client process reports of each connection when they have ended. */
typedef struct conn_figures {
    long messages, events;
    long long bytes;
    bool established;
} conn_figures;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The counter's message, whole: its events, counted by their "last": keys, after inflating a
 * binary one. */
static void count_events(conn *c, bool binary)
{
    unsigned char *text = c->msg;
    size_t len = c->msg_len;
    unsigned char *inflated = NULL;
    if (binary) {
        z_stream z;
        memset(&z, 0, sizeof z);
        size_t cap = len * 16 + 1024;
        inflated = malloc(cap);
        if (inflated == NULL || inflateInit(&z) != Z_OK) {
            free(inflated);
            return;
        }
        z.next_in = c->msg;
        z.avail_in = (uInt)len;
        int rc = Z_OK;
        while (rc == Z_OK) {
            z.next_out = inflated + z.total_out;
            z.avail_out = (uInt)(cap - z.total_out);
            rc = inflate(&z, Z_NO_FLUSH);
            if (rc == Z_OK && z.avail_out == 0) {
                unsigned char *more = realloc(inflated, cap * 2);
                if (more == NULL)
                    break;
                inflated = more;
                cap *= 2;
            }
        }
        len = z.total_out;
        inflateEnd(&z);
        text = inflated;
    }
    static const char key[] = "\"last\":";
    for (const unsigned char *q = text; (q = memmem(q, len - (size_t)(q - text), key, 7)); q += 7)
        c->events++;
    if (len >= 11 && memmem(text, len, "board.hello", 11) != NULL)
        c->events++;
    free(inflated);
}

static int client_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                           size_t len)
{
    (void)user;
    conn *c = lws_get_opaque_user_data(wsi);
    if (c == NULL)
        return 0;
    client_set *s = c->set;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->established = true;
        if (c->stalled)
            lws_rx_flow_control(wsi, 0); /* never reads again */
        s->established++;
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        /* Raw bytes, not parsed: what the host sent is what is measured, not this reader. */
        c->bytes += (long long)len;
        if (c->counter) {
            if (c->msg_len + len > c->msg_cap) {
                size_t cap = (c->msg_len + len) * 2;
                unsigned char *more = realloc(c->msg, cap);
                if (more == NULL)
                    return -1;
                c->msg = more;
                c->msg_cap = cap;
            }
            memcpy(c->msg + c->msg_len, in, len);
            c->msg_len += len;
        }
        if (lws_is_final_fragment(wsi)) {
            c->messages++;
            if (c->counter)
                count_events(c, lws_frame_is_binary(wsi));
            c->msg_len = 0;
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c->closed)
            return 0;
        c->closed = true;
        lws_set_opaque_user_data(wsi, NULL);
        s->ended++;
        s->readers_ended += !c->stalled;
        return 0;
    default: return 0;
    }
}

static const struct lws_protocols client_protocols[] = {
    {"smart-board-bench", client_callback, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* The counting reader: a libwebsockets client on a thread of the client process. */
static void *counter_thread(void *arg)
{
    client_set *set = arg;
    while (set->readers_ended < 1)
        lws_service(set->context, 0);
    return NULL;
}

/* A raw reader: a TCP connection that asks for the WebSocket and then only counts the bytes it
 * reads (the frames are not parsed: the host's cost is measured, not a client's). */
typedef struct raw_reader {
    int fd;
    long long bytes;
    bool upgraded; /* the 101 answer and the hello after it read: the host counts it a client */
    bool ended;
    unsigned char first[1024]; /* the first bytes read, until `upgraded` */
    unsigned char last[8];     /* the last bytes read (debugging) */
    int error;                 /* how its connection ended: 0 (closed) or an errno */
} raw_reader;

/* Whether `first` holds the 101 answer and the whole hello frame after it (the hello is queued
 * once the host has taken the client in, so nothing later can miss it). */
static bool raw_upgraded(const raw_reader *r)
{
    size_t n = r->bytes < (long long)sizeof r->first ? (size_t)r->bytes : sizeof r->first;
    const unsigned char *end = memmem(r->first, n, "\r\n\r\n", 4);
    if (end == NULL)
        return false;
    size_t at = (size_t)(end - r->first) + 4;
    return n >= at + 2 && n >= at + 2 + (r->first[at + 1] & 0x7f);
}

static int raw_connect(int port, bool stalled)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (stalled) { /* a small receive buffer: it fills at once */
        int size = 4096;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    static const char request[] = "GET /ws?deflate=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                  "Sec-WebSocket-Version: 13\r\n\r\n";
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        write(fd, request, sizeof request - 1) != (ssize_t)(sizeof request - 1)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Read what is there (blocking until some is). Returns false at the end of the connection. */
static bool raw_read(raw_reader *r, char *buf, size_t size)
{
    ssize_t n = read(r->fd, buf, size);
    if (n < 0 && errno == EINTR)
        return true;
    if (n <= 0) {
        r->error = n < 0 ? errno : 0;
        return false;
    }
    if (!r->upgraded && r->bytes < (long long)sizeof r->first) {
        size_t room = sizeof r->first - (size_t)r->bytes;
        memcpy(r->first + r->bytes, buf, (size_t)n < room ? (size_t)n : room);
    }
    r->bytes += n;
    if (n >= 8)
        memcpy(r->last, buf + n - 8, 8);
    if (!r->upgraded)
        r->upgraded = raw_upgraded(r);
    return true;
}

/* The client process: one reader that counts events (libwebsockets' client, inflating each
 * message as the page does), readers-1 raw readers and one raw connection that never reads
 * after its upgrade; says on `ready_fd` how many are connected, reads until every reader's
 * connection has ended (the host's exit), then writes each one's figures to `result_fd`. A
 * process of its own, so that its work is neither the host's nor the bench's, only the cores'. */
static int client_process(int port, int readers, int ready_fd, int result_fd)
{
    lws_set_log_level(getenv("BENCH_LWS_LOG") ? atoi(getenv("BENCH_LWS_LOG")) : LLL_ERR, NULL);
    client_set set = {.port = port, .count = 1};
    set.conns = calloc(1, sizeof *set.conns);
    raw_reader *raw = calloc((size_t)readers + 1, sizeof *raw); /* [0] unused, [readers] stalled */
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = client_protocols;
    info.gid = (gid_t)-1;
    info.uid = (uid_t)-1;
    set.context = set.conns && raw ? lws_create_context(&info) : NULL;
    if (set.context == NULL)
        return 1;
    conn *c = &set.conns[0];
    c->set = &set;
    c->counter = true;
    struct lws_client_connect_info cc;
    memset(&cc, 0, sizeof cc);
    cc.context = set.context;
    cc.address = "127.0.0.1";
    cc.port = port;
    cc.path = "/ws?deflate=1";
    cc.host = "127.0.0.1";
    cc.origin = "127.0.0.1";
    cc.opaque_user_data = c;
    if (lws_client_connect_via_info(&cc) == NULL)
        return 1;
    while (set.ended < 1 && c->messages < 1) /* its hello: the host counts it a client */
        lws_service(set.context, 0);
    int established = set.established;
    char *buf = malloc(1 << 18);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (buf == NULL || ep < 0)
        return 1;
    for (int i = 1; i <= readers; i++) {
        raw[i].fd = raw_connect(port, i == readers);
        while (raw[i].fd >= 0 && !raw[i].upgraded &&
               raw_read(&raw[i], buf, i == readers ? 1 : 4096))
            ;
        established += raw[i].upgraded;
        if (!raw[i].upgraded) {
            raw[i].ended = true;
            continue;
        }
        if (i < readers) {
            struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
            epoll_ctl(ep, EPOLL_CTL_ADD, raw[i].fd, &ev);
        }
    }
    if (write(ready_fd, &established, sizeof established) != (ssize_t)sizeof established)
        return 1;
    close(ready_fd);
    pthread_t counter;
    pthread_create(&counter, NULL, counter_thread, &set);
    int open_readers = 0;
    for (int i = 1; i < readers; i++)
        open_readers += !raw[i].ended;
    while (open_readers > 0) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, -1);
        for (int k = 0; k < n; k++) {
            raw_reader *r = &raw[evs[k].data.u32];
            if (!raw_read(r, buf, 1 << 18)) {
                r->ended = true;
                epoll_ctl(ep, EPOLL_CTL_DEL, r->fd, NULL);
                open_readers--;
            }
        }
    }
    pthread_join(counter, NULL);
    for (int i = 1; i < readers && getenv("BENCH_DEBUG"); i++) {
        if (raw[i].error != 0)
            fprintf(stderr, "reader %d: its connection ended: %s\n", i, strerror(raw[i].error));
        else if (raw[i].bytes != raw[1].bytes || memcmp(raw[i].last, raw[1].last, 8) != 0)
            fprintf(stderr,
                    "reader %d: %lld bytes, last %02x%02x%02x%02x%02x%02x%02x%02x; reader 1 "
                    "%lld, last %02x%02x%02x%02x%02x%02x%02x%02x\n",
                    i, raw[i].bytes, raw[i].last[0], raw[i].last[1], raw[i].last[2], raw[i].last[3],
                    raw[i].last[4], raw[i].last[5], raw[i].last[6], raw[i].last[7], raw[1].bytes,
                    raw[1].last[0], raw[1].last[1], raw[1].last[2], raw[1].last[3], raw[1].last[4],
                    raw[1].last[5], raw[1].last[6], raw[1].last[7]);
    }
    for (int i = 0; i <= readers; i++) {
        conn_figures f = {0};
        if (i == 0) {
            f = (conn_figures){.messages = c->messages,
                               .events = c->events,
                               .bytes = c->bytes,
                               .established = c->established};
        } else {
            f = (conn_figures){.bytes = raw[i].bytes, .established = raw[i].upgraded};
        }
        if (write(result_fd, &f, sizeof f) != (ssize_t)sizeof f)
            return 1;
    }
    lws_context_destroy(set.context);
    return 0;
}

typedef struct err_drain {
    FILE *in;
    FILE *out;
    long dropped; /* "fell behind" lines */
} err_drain;

static void *drain_thread(void *arg)
{
    err_drain *d = arg;
    char line[4096];
    while (fgets(line, sizeof line, d->in)) {
        fputs(line, d->out);
        if (strstr(line, "fell behind"))
            d->dropped++;
    }
    return NULL;
}

typedef struct run_figures {
    double seconds;
    double host_cpu; /* the host's user + system time: its own cost, whatever the clients take */
    long messages;   /* the messages the counting reader got */
    long long min_bytes, max_bytes; /* over the raw readers */
    long events;                    /* events the counting reader got (the hello counts one) */
    double clients_cpu;             /* the client process's CPU time */
    long stalled_messages;
    long dropped;
    int readers_closed_early;
    bool ok;
} run_figures;

static bool write_board_node(const char *dir)
{
    char path[4096], text[8192];
    snprintf(path, sizeof path, "%s/NODE.json", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *cut = strstr(text, "  \"modules\"");
    if (!cut)
        return false;
    snprintf(path, sizeof path, "%s/NODE-board.json", dir);
    f = fopen(path, "w");
    if (!f)
        return false;
    fprintf(f, "%.*s  \"dashboard\": {\"listen\": \"127.0.0.1:0\"},\n%s", (int)(cut - text), text,
            cut);
    return fclose(f) == 0;
}

#define STATUS_LINE "{\"topic\":\"status\","

/* Wait (polling the output file, at most 60 s) for its first status line: the host's
 * start-up batch is durable. */
static bool wait_for_start(const char *out)
{
    for (int i = 0; i < 12000; i++) {
        FILE *f = fopen(out, "r");
        char line[256];
        bool found = false, whole = true;
        while (f && !found && fgets(line, sizeof line, f)) {
            found = whole && strncmp(line, STATUS_LINE, strlen(STATUS_LINE)) == 0;
            whole = strchr(line, '\n') != NULL;
        }
        if (f)
            fclose(f);
        if (found)
            return true;
        nanosleep(&(struct timespec){.tv_nsec = 5000000}, NULL);
    }
    return false;
}

static bool run_one(const char *host, const char *dir, const char *clock_text, bool board,
                    int readers, run_figures *r)
{
    memset(r, 0, sizeof *r);
    char node[4096], fifo[4096], out[4096], errp[4096], events[4096];
    snprintf(node, sizeof node, "%s/%s", dir, board ? "NODE-board.json" : "NODE.json");
    snprintf(fifo, sizeof fifo, "%s/events.fifo", dir);
    snprintf(out, sizeof out, "%s/board-output.jsonl", dir);
    snprintf(errp, sizeof errp, "%s/board-stderr.txt", dir);
    snprintf(events, sizeof events, "%s/events.jsonl", dir);
    unlink(fifo);
    if (mkfifo(fifo, 0600) != 0) {
        fprintf(stderr, "smart-bench: mkfifo %s: %s\n", fifo, strerror(errno));
        return false;
    }
    int errpipe[2];
    if (pipe(errpipe) != 0)
        return false;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, errpipe[1], STDERR_FILENO);
    posix_spawn_file_actions_addclose(&fa, errpipe[0]);
    char *argv[] = {(char *)host,       "run", node, "--events", fifo, "--clock",
                    (char *)clock_text, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, host, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(errpipe[1]);
    if (rc != 0) {
        fprintf(stderr, "smart-bench: %s: %s\n", host, strerror(rc));
        return false;
    }
    err_drain drain = {.in = fdopen(errpipe[0], "r"), .out = fopen(errp, "w")};
    int fd = open(fifo, O_WRONLY); /* waits for the host to open its input */
    int port = 0;
    if (board) { /* the host says where the board listens once it does */
        char line[4096];
        while (port == 0 && fgets(line, sizeof line, drain.in)) {
            fputs(line, drain.out);
            const char *at = strstr(line, "board at http://127.0.0.1:");
            if (at)
                port = atoi(at + strlen("board at http://127.0.0.1:"));
        }
        if (port == 0) {
            fprintf(stderr, "smart-bench: the host did not start its board; see %s\n", errp);
            return false;
        }
    }
    /* The host's start-up batch (with the board, it ends with the status the host asks for)
     * is durable before any client connects: every client gets the same batches. */
    if (board && !wait_for_start(out)) {
        fprintf(stderr, "smart-bench: the host's start-up status never came; see %s\n", out);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return false;
    }
    /* The clients' process, forked before this one starts a thread of its own. */
    int ready[2] = {-1, -1}, results[2] = {-1, -1};
    pid_t clients = -1;
    bool ok = fd >= 0;
    if (board && ok) {
        ok = pipe(ready) == 0 && pipe(results) == 0;
        clients = ok ? fork() : -1;
        if (clients == 0) {
            close(fd); /* the host's input must end when this process's parent closes it */
            close(fileno(drain.in));
            close(ready[0]);
            close(results[0]);
            _exit(client_process(port, readers, ready[1], results[1]));
        }
        ok = clients > 0;
        if (ready[1] >= 0)
            close(ready[1]);
        if (results[1] >= 0)
            close(results[1]);
    }
    pthread_t drainer;
    pthread_create(&drainer, NULL, drain_thread, &drain);
    if (board && ok) {
        /* Every client connected before the first event. */
        int established = 0;
        ok = read(ready[0], &established, sizeof established) == (ssize_t)sizeof established &&
             established == readers + 1;
        if (!ok)
            fprintf(stderr, "smart-bench: only %d of %d clients connected\n", established,
                    readers + 1);
    }
    double t0 = now_s();
    int in = open(events, O_RDONLY);
    char buf[1 << 16];
    ssize_t n;
    while (ok && in >= 0 && (n = read(in, buf, sizeof buf)) > 0) {
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            if (w < 0) {
                ok = false;
                break;
            }
            off += w;
        }
    }
    if (in >= 0)
        close(in);
    if (fd >= 0)
        close(fd);
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
        ;
    r->seconds = now_s() - t0;
    r->host_cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                  (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (clients > 0) {
        /* The host's exit closed every connection; the client process reports and ends. */
        r->min_bytes = -1;
        for (int i = 0; i <= readers; i++) {
            conn_figures f;
            if (read(results[0], &f, sizeof f) != (ssize_t)sizeof f) {
                ok = false;
                break;
            }
            if (i == 0) {
                r->events = f.events;
                r->messages = f.messages;
                continue;
            }
            if (i == readers)
                continue; /* the stalled one */
            if (r->min_bytes < 0 || f.bytes < r->min_bytes)
                r->min_bytes = f.bytes;
            if (f.bytes > r->max_bytes)
                r->max_bytes = f.bytes;
        }
        int cstatus;
        struct rusage cru;
        while (wait4(clients, &cstatus, 0, &cru) < 0 && errno == EINTR)
            ;
        r->clients_cpu = (double)cru.ru_utime.tv_sec + cru.ru_utime.tv_usec / 1e6 +
                         (double)cru.ru_stime.tv_sec + cru.ru_stime.tv_usec / 1e6;
        ok = ok && WIFEXITED(cstatus) && WEXITSTATUS(cstatus) == 0;
    }
    for (int i = 0; i < 2; i++) {
        if (ready[i] >= 0 && i == 0)
            close(ready[i]);
        if (results[i] >= 0 && i == 0)
            close(results[i]);
    }
    pthread_join(drainer, NULL);
    fclose(drain.in);
    fclose(drain.out);
    r->dropped = drain.dropped;
    unlink(fifo);
    if (!ok)
        fprintf(stderr, "smart-bench: a board run failed (exit status %d); see %s\n",
                WIFEXITED(status) ? WEXITSTATUS(status) : -1, errp);
    r->ok = ok;
    return ok;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The board's events in the run's output file; with `after_start`, only those after its first
 * status line (the board run's start-up batch, durable before the clients connect): what each
 * reading client should receive (+ the hello). */
static long board_events(const char *dir, bool after_start)
{
    char path[4096], line[1 << 16];
    snprintf(path, sizeof path, "%s/board-output.jsonl", dir);
    FILE *f = fopen(path, "r");
    long n = 0;
    static const char *const topics[] = {"{\"topic\":\"status.changed\"",
                                         "{\"topic\":\"gate.decision\"", "{\"topic\":\"alert\"",
                                         "{\"topic\":\"ledger.checkpoint\""};
    bool whole = true; /* at the start of a line */
    bool counting = !after_start;
    while (f && fgets(line, sizeof line, f)) {
        if (whole && counting)
            for (int k = 0; k < 4; k++)
                n += strncmp(line, topics[k], strlen(topics[k])) == 0;
        if (whole && !counting)
            counting = strncmp(line, STATUS_LINE, strlen(STATUS_LINE)) == 0;
        whole = strchr(line, '\n') != NULL;
    }
    if (f)
        fclose(f);
    return n;
}

bool board_bench(const char *host, const char *dir, const char *clock_text, long events,
                 int clients, int runs, void (*reset)(const char *dir))
{
    signal(SIGPIPE, SIG_IGN);
    /* A client that takes nothing for 1 s is behind (the host's default is 10 s): the one that
     * never reads is dropped within a run, and a stop does not wait for it. */
    setenv("SMART_BOARD_BEHIND_MS", "1000", 1);
    lws_set_log_level(getenv("BENCH_LWS_LOG") ? atoi(getenv("BENCH_LWS_LOG")) : LLL_ERR, NULL);
    if (!write_board_node(dir)) {
        fprintf(stderr, "smart-bench: cannot write %s/NODE-board.json\n", dir);
        return false;
    }
    double secs[2][MAX_RUNS], cpu[2][MAX_RUNS];
    bool all_ok = true;
    long expected = 0;
    run_figures last = {0};
    for (int k = 0; k < runs && k < MAX_RUNS; k++) {
        for (int mode = 0; mode < 2; mode++) {
            run_figures r;
            reset(dir);
            bool ok = run_one(host, dir, clock_text, mode == 1, clients, &r);
            all_ok &= ok;
            secs[mode][k] = r.seconds;
            cpu[mode][k] = r.host_cpu;
            if (mode == 0) {
                expected = board_events(dir, false);
                printf("run %d without the board: %.3f s, %.0f events/s, host CPU %.3f s (%ld "
                       "board events)\n",
                       k + 1, r.seconds, (double)events / r.seconds, r.host_cpu, expected);
            } else {
                long sent = board_events(dir, true); /* after the start-up batch */
                printf("run %d with the board, %d clients reading and 1 that never reads: %.3f s, "
                       "%.0f events/s, host CPU %.3f s (the clients' process %.3f s); the "
                       "counting reader got %ld events of %ld in %ld messages, the raw readers "
                       "%lld to %lld bytes each; %ld client(s) dropped\n",
                       k + 1, clients, r.seconds, (double)events / r.seconds, r.host_cpu,
                       r.clients_cpu, r.events, sent + 1, r.messages, r.min_bytes, r.max_bytes,
                       r.dropped);
                if (r.events != sent + 1 || (clients > 1 && r.min_bytes != r.max_bytes)) {
                    printf("  a reader did not get every event\n");
                    all_ok = false;
                }
                last = r;
            }
            fflush(stdout);
        }
    }
    double without = (double)events / median(secs[0], runs);
    double with = (double)events / median(secs[1], runs);
    printf("board cost: %.0f events/s without the board, %.0f with %d clients and 1 that never "
           "reads (%+.1f %%); median of %d runs each, alternating\n",
           without, with, clients, 100.0 * (with - without) / without, runs);
    /* The clients run in a process of their own, on the same cores: the host's own CPU time
     * tells what the board costs it, apart from what reading 200 copies costs the clients. */
    double cpu_without = median(cpu[0], runs), cpu_with = median(cpu[1], runs);
    printf("host CPU time: %.3f s without the board, %.3f s with it (%+.1f %%); median of %d "
           "runs\n",
           cpu_without, cpu_with, 100.0 * (cpu_with - cpu_without) / cpu_without, runs);
    printf("with the board: %.2f x the events/s without it, host CPU %.2f x\n", with / without,
           cpu_with / cpu_without);
    if (last.dropped < 1) {
        printf("the client that never reads was not dropped (the events fit its socket's "
               "buffers and its queue)\n");
    }
    return all_ok;
}
