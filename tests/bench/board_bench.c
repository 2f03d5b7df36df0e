/*
 * board_bench.c — the status board's cost to the gate (issue 16); see board_bench.h.
 *
 * Each run feeds the generated events through a FIFO, so that the time measured is from the
 * first event written to the host's exit in both modes (the start-up, and in the board mode the
 * clients' connecting, come before it). In the board mode, NODE-board.json is NODE.json with
 * "dashboard": {"listen": "127.0.0.1:0"}; the port is read from the host's "board at" line, then
 * N clients connect with libwebsockets' client (a context of its own on a thread of this
 * process) and count what they receive, and one more connects and never reads
 * (lws_rx_flow_control off): the host must drop it, not wait for it.
 */
#include "board_bench.h"

#include <errno.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_RUNS 100

typedef struct conn {
    struct client_set *set;
    bool stalled;
    bool established;
    bool closed;
    long messages; /* events received (each message is the hello or an array of events) */
    long long bytes;
    char tail[8]; /* the last bytes of the previous fragment, so a key split across two counts */
} conn;

typedef struct client_set {
    int port;
    int count; /* readers + 1 stalled */
    conn *conns;
    struct lws_context *context;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int established, ended;
    int readers_ended; /* the stalled one never notices its end: it does not read */
    volatile int stop;
} client_set;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int client_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                           size_t len)
{
    (void)user;
    (void)in;
    conn *c = lws_get_opaque_user_data(wsi);
    if (c == NULL)
        return 0;
    client_set *s = c->set;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->established = true;
        if (c->stalled)
            lws_rx_flow_control(wsi, 0); /* never reads again */
        pthread_mutex_lock(&s->lock);
        s->established++;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        /* Every event has one "last": key (the hello, none: it counts as one). The key is
         * looked for in the last bytes of the fragment before and this one together, so one
         * split between two fragments counts once (the tail is too short to hold a whole one). */
        static const char key[] = "\"last\":";
        enum { K = sizeof key - 1 };
        c->bytes += (long long)len;
        size_t t = strlen(c->tail);
        char *all = malloc(t + len);
        if (all == NULL)
            return -1;
        memcpy(all, c->tail, t);
        memcpy(all + t, in, len);
        for (const char *q = all; (q = memmem(q, t + len - (size_t)(q - all), key, K)); q += K)
            c->messages++;
        if (len >= 11 && memmem(in, len, "board.hello", 11) != NULL)
            c->messages++;
        size_t keep = t + len < K - 1 ? t + len : K - 1;
        memcpy(c->tail, all + t + len - keep, keep);
        c->tail[keep] = '\0';
        free(all);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c->closed)
            return 0;
        c->closed = true;
        lws_set_opaque_user_data(wsi, NULL);
        pthread_mutex_lock(&s->lock);
        s->ended++;
        s->readers_ended += !c->stalled;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        return 0;
    default: return 0;
    }
}

static const struct lws_protocols client_protocols[] = {
    {"smart-board-bench", client_callback, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void *client_thread(void *arg)
{
    client_set *s = arg;
    for (int i = 0; i < s->count; i++) {
        struct lws_client_connect_info cc;
        memset(&cc, 0, sizeof cc);
        cc.context = s->context;
        cc.address = "127.0.0.1";
        cc.port = s->port;
        cc.path = "/ws";
        cc.host = "127.0.0.1";
        cc.origin = "127.0.0.1";
        cc.opaque_user_data = &s->conns[i];
        if (lws_client_connect_via_info(&cc) == NULL) {
            pthread_mutex_lock(&s->lock);
            s->conns[i].closed = true;
            s->ended++;
            pthread_cond_broadcast(&s->cond);
            pthread_mutex_unlock(&s->lock);
        }
    }
    while (!s->stop)
        lws_service(s->context, 0);
    return NULL;
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
    long min_messages, max_messages; /* over the clients that read */
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
    pthread_t drainer;
    pthread_create(&drainer, NULL, drain_thread, &drain);

    client_set set = {.port = port, .count = readers + 1};
    pthread_mutex_init(&set.lock, NULL);
    pthread_cond_init(&set.cond, NULL);
    pthread_t clients;
    bool ok = fd >= 0;
    if (board && ok) {
        set.conns = calloc((size_t)set.count, sizeof *set.conns);
        for (int i = 0; i < set.count; i++) {
            set.conns[i].set = &set;
            set.conns[i].stalled = i == readers;
        }
        struct lws_context_creation_info info;
        memset(&info, 0, sizeof info);
        info.port = CONTEXT_PORT_NO_LISTEN;
        info.protocols = client_protocols;
        info.gid = (gid_t)-1;
        info.uid = (uid_t)-1;
        set.context = lws_create_context(&info);
        ok = set.context != NULL;
        if (ok)
            pthread_create(&clients, NULL, client_thread, &set);
        /* Every client connected before the first event. */
        pthread_mutex_lock(&set.lock);
        while (ok && set.established + set.ended < set.count)
            pthread_cond_wait(&set.cond, &set.lock);
        ok = ok && set.established == set.count;
        pthread_mutex_unlock(&set.lock);
        if (!ok)
            fprintf(stderr, "smart-bench: only %d of %d clients connected\n", set.established,
                    set.count);
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
    if (board && set.context != NULL) {
        /* The host's exit closed every connection; the client thread sees them end. */
        pthread_mutex_lock(&set.lock);
        while (set.readers_ended < readers)
            pthread_cond_wait(&set.cond, &set.lock);
        pthread_mutex_unlock(&set.lock);
        set.stop = 1;
        lws_cancel_service(set.context);
        pthread_join(clients, NULL);
        lws_context_destroy(set.context);
        r->min_messages = -1;
        for (int i = 0; i < readers; i++) {
            long m = set.conns[i].messages;
            if (r->min_messages < 0 || m < r->min_messages)
                r->min_messages = m;
            if (m > r->max_messages)
                r->max_messages = m;
        }
        r->stalled_messages = set.conns[readers].messages;
        free(set.conns);
    }
    pthread_join(drainer, NULL);
    fclose(drain.in);
    fclose(drain.out);
    r->dropped = drain.dropped;
    pthread_mutex_destroy(&set.lock);
    pthread_cond_destroy(&set.cond);
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

/* The board's events in an output file: what each reading client should receive (+ hello). */
static long board_events(const char *dir)
{
    char path[4096], line[1 << 16];
    snprintf(path, sizeof path, "%s/board-output.jsonl", dir);
    FILE *f = fopen(path, "r");
    long n = 0;
    static const char *const topics[] = {"{\"topic\":\"status.changed\"",
                                         "{\"topic\":\"gate.decision\"", "{\"topic\":\"alert\"",
                                         "{\"topic\":\"ledger.checkpoint\""};
    bool whole = true; /* at the start of a line */
    while (f && fgets(line, sizeof line, f)) {
        if (whole)
            for (int k = 0; k < 4; k++)
                n += strncmp(line, topics[k], strlen(topics[k])) == 0;
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
    /* A client that takes nothing for 3 s is behind (the host's default is 10 s): the one that
     * never reads is dropped within a run. */
    setenv("SMART_BOARD_BEHIND_MS", "3000", 1);
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
                expected = board_events(dir);
                printf("run %d without the board: %.3f s, %.0f events/s, host CPU %.3f s (%ld "
                       "board events)\n",
                       k + 1, r.seconds, (double)events / r.seconds, r.host_cpu, expected);
            } else {
                printf("run %d with the board, %d clients reading and 1 that never reads: %.3f s, "
                       "%.0f events/s, host CPU %.3f s; each reader got %ld to %ld of %ld "
                       "messages; the stalled one %ld, %ld client(s) dropped for falling behind\n",
                       k + 1, clients, r.seconds, (double)events / r.seconds, r.host_cpu,
                       r.min_messages, r.max_messages, expected + 1, r.stalled_messages, r.dropped);
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
    /* The clients run in this process, on the same cores: the host's own CPU time tells what the
     * board costs it, apart from what reading 200 copies costs the clients. */
    double cpu_without = median(cpu[0], runs), cpu_with = median(cpu[1], runs);
    printf("host CPU time: %.3f s without the board, %.3f s with it (%+.1f %%); median of %d "
           "runs\n",
           cpu_without, cpu_with, 100.0 * (cpu_with - cpu_without) / cpu_without, runs);
    if (last.dropped < 1) {
        printf("the client that never reads was not dropped (the events fit its socket's "
               "buffers and its queue)\n");
    }
    return all_ok;
}
