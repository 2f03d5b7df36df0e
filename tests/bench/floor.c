/*
 * floor.c — smart-floor, the least work any host must do for the events smart-bench feeds
 * smart-host, done as directly as C allows: the floor the host's time is compared with
 * (smart-bench --floor).
 *
 *   smart-floor EVENTS|- DIR [ANSWERS]
 *
 * The same batching as smart-host (host-stub/input/event_input.c): a file is read in chunks of
 * 16, 32, 64, 128 KiB, then 256 KiB; a pipe (enlarged to 1 MiB, as the host does) in reads of
 * up to 256 KiB; the complete lines of one read, at most 4,096, are one batch. Per event: the
 * line parsed with jansson (one JSON object with a string "topic"), one ledger record in the
 * host's format (ledger.h: seq, time, node_id, module, action, target, details, user_id,
 * metadata = the event's data, prev_hash; its hash the SHA-256 of the line up to prev_hash's
 * closing quote, with libcrypto), one row in an SQLite table (WAL, synchronous=FULL, as the
 * module's store) and one answer line. Per batch: the ledger lines written and fdatasync'd, then
 * one SQLite commit, then the answers written to standard output — the host's order.
 *
 * With ANSWERS (a file of answer lines, smart-bench gives the host's own for the same events),
 * those bytes are the answers, in place of an echo of each event: the host's answers (a gate
 * decision and a status list every item in full, as schemas/output-event.schema.json has them)
 * are some 20 times the events' size, and writing them is work any host must do. Each batch
 * writes the share of them its events are of the input (by bytes, to a line's end; from a pipe,
 * whose size is unknown, all of them at the end).
 *
 * What it leaves out is what the host does beyond the floor: the module's rules and queries,
 * its per-item state, alerts, the ledger records' own wording, threads and the event loop.
 * Exits 0, or 1 with a message on a failure (nothing is retried).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK      (256 * 1024)
#define READ_RAMP_STEPS 4
#define BATCH_MAX       4096
#define LINE_MAX_BYTES  (1024 * 1024)
#define PIPE_WANTED     (1024 * 1024)

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("smart-floor: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* A growable buffer. */
typedef struct {
    char *data;
    size_t len, cap;
} buf;

static void buf_reserve(buf *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra)
        cap *= 2;
    b->data = realloc(b->data, cap);
    if (b->data == NULL)
        die("out of memory");
    b->cap = cap;
}

static void buf_add(buf *b, const char *s, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

/* A string literal, its length counted by the compiler. */
#define ADD_LITERAL(b, s) buf_add((b), (s), sizeof(s) - 1)

static void write_all(int fd, const char *data, size_t len, const char *what)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("%s: write failed: %s", what, strerror(errno));
        data += n;
        len -= (size_t)n;
    }
}

/* A JSON string, escaped by jansson (the host escapes with its own writer). */
static void add_json_string(buf *b, const char *s)
{
    json_t *v = json_string(s);
    if (v == NULL)
        die("not UTF-8: %s", s);
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(v);
    if (text == NULL)
        die("out of memory");
    buf_add(b, text, strlen(text));
    free(text);
}

typedef struct {
    int ledger_fd;
    buf ledger;  /* this batch's ledger lines */
    buf answers; /* this batch's answer lines */
    buf line;    /* one record being built */
    long long seq;
    char prev[65];
    EVP_MD *sha256;
    EVP_MD_CTX *hasher;
    sqlite3 *db;
    sqlite3_stmt *insert;
    long long events;
    /* ANSWERS: the file's bytes (mapped), how many are written, and the input's progress. */
    const char *given;
    size_t given_len, given_sent;
    long long input_size; /* -1: unknown (a pipe) */
    long long consumed;   /* input bytes taken so far */
} floor_state;

static void hash_hex(floor_state *f, const char *data, size_t len, char out[65])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_DigestInit_ex(f->hasher, f->sha256, NULL) != 1 ||
        EVP_DigestUpdate(f->hasher, data, len) != 1 ||
        EVP_DigestFinal_ex(f->hasher, digest, &n) != 1 || n != 32)
        die("SHA-256 failed");
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[64] = '\0';
}

static void sql_exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        die("sqlite: %s: %s", sql, err ? err : "?");
}

/* One event: parse, ledger record, store row, answer. */
static void take_line(floor_state *f, const char *text, size_t len)
{
    json_error_t jerr;
    json_t *event = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *topic = json_string_value(json_object_get(event, "topic"));
    if (event == NULL || !json_is_object(event) || topic == NULL)
        die("line %lld: not an event: %s", f->events + 1, event ? "no topic" : jerr.text);
    json_t *data = json_object_get(event, "data");
    const char *time = json_string_value(json_object_get(event, "time"));
    char *data_text = data ? json_dumps(data, JSON_COMPACT) : strdup("{}");
    if (data_text == NULL)
        die("out of memory");

    buf *l = &f->line;
    l->len = 0;
    char head[64];
    int n = snprintf(head, sizeof head, "{\"seq\":%lld,\"time\":", ++f->seq);
    buf_add(l, head, (size_t)n);
    add_json_string(l, time ? time : "1970-01-01T00:00:00Z");
    ADD_LITERAL(l, ",\"node_id\":\"NODE-BENCH-001\",\"module\":\"smart-floor\",\"action\":");
    add_json_string(l, topic);
    ADD_LITERAL(l, ",\"target\":\"-\",\"details\":\"\",\"user_id\":\"system\",\"metadata\":");
    buf_add(l, data_text, strlen(data_text));
    ADD_LITERAL(l, ",\"prev_hash\":\"");
    buf_add(l, f->prev, 64);
    ADD_LITERAL(l, "\"");
    hash_hex(f, l->data, l->len, f->prev);
    buf_add(&f->ledger, l->data, l->len);
    ADD_LITERAL(&f->ledger, ",\"hash\":\"");
    buf_add(&f->ledger, f->prev, 64);
    ADD_LITERAL(&f->ledger, "\"}\n");

    sqlite3_bind_int64(f->insert, 1, f->seq);
    sqlite3_bind_text(f->insert, 2, topic, -1, SQLITE_STATIC);
    sqlite3_bind_text(f->insert, 3, data_text, -1, SQLITE_STATIC);
    if (sqlite3_step(f->insert) != SQLITE_DONE)
        die("sqlite insert: %s", sqlite3_errmsg(f->db));
    sqlite3_reset(f->insert);

    if (f->given == NULL) {
        ADD_LITERAL(&f->answers, "{\"topic\":");
        add_json_string(&f->answers, topic);
        ADD_LITERAL(&f->answers, ",\"data\":");
        buf_add(&f->answers, data_text, strlen(data_text));
        ADD_LITERAL(&f->answers, "}\n");
    }
    free(data_text);
    json_decref(event);
    f->events++;
}

static void begin_batch(floor_state *f)
{
    sql_exec(f->db, "BEGIN");
}

/* The batch made durable in the host's order: ledger, store, then the answers. */
static void end_batch(floor_state *f)
{
    write_all(f->ledger_fd, f->ledger.data, f->ledger.len, "ledger");
    if (fdatasync(f->ledger_fd) != 0)
        die("ledger: fdatasync failed: %s", strerror(errno));
    f->ledger.len = 0;
    sql_exec(f->db, "COMMIT");
    if (f->given != NULL) { /* the batch's share of ANSWERS, to the end of a line */
        size_t upto = f->given_len;
        if (f->input_size < 0) {
            upto = f->given_sent; /* all at the end (finish_answers) */
        } else if (f->consumed < f->input_size) {
            upto = (size_t)((double)f->given_len * (double)f->consumed / (double)f->input_size);
            const char *nl =
                upto > f->given_sent ? memchr(f->given + upto, '\n', f->given_len - upto) : NULL;
            upto = upto <= f->given_sent ? f->given_sent
                   : nl                  ? (size_t)(nl - f->given) + 1
                                         : f->given_len;
        }
        buf_add(&f->answers, f->given + f->given_sent, upto - f->given_sent);
        f->given_sent = upto;
    }
    write_all(STDOUT_FILENO, f->answers.data, f->answers.len, "standard output");
    f->answers.len = 0;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fputs("usage: smart-floor EVENTS|- DIR [ANSWERS]\n", stderr);
        return 2;
    }
    int in = strcmp(argv[1], "-") == 0 ? STDIN_FILENO : open(argv[1], O_RDONLY | O_CLOEXEC);
    if (in < 0)
        die("%s: %s", argv[1], strerror(errno));
    struct stat st;
    bool is_pipe = fstat(in, &st) == 0 && S_ISFIFO(st.st_mode);
    if (is_pipe && fcntl(in, F_GETPIPE_SZ) < PIPE_WANTED)
        (void)fcntl(in, F_SETPIPE_SZ, PIPE_WANTED);

    floor_state f = {0};
    memset(f.prev, '0', 64);
    f.input_size = !is_pipe && S_ISREG(st.st_mode) ? (long long)st.st_size : -1;
    if (argc == 4) {
        int afd = open(argv[3], O_RDONLY | O_CLOEXEC);
        struct stat ast;
        if (afd < 0 || fstat(afd, &ast) != 0)
            die("%s: %s", argv[3], strerror(errno));
        f.given_len = (size_t)ast.st_size;
        f.given = f.given_len > 0
                      ? mmap(NULL, f.given_len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, afd, 0)
                      : "";
        if (f.given == MAP_FAILED)
            die("%s: mmap: %s", argv[3], strerror(errno));
        close(afd);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/ledger.jsonl", argv[2]);
    f.ledger_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (f.ledger_fd < 0)
        die("%s: %s", path, strerror(errno));
    f.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    f.hasher = EVP_MD_CTX_new();
    if (f.sha256 == NULL || f.hasher == NULL)
        die("libcrypto: no SHA-256");
    snprintf(path, sizeof path, "%s/store.sqlite", argv[2]);
    if (sqlite3_open(path, &f.db) != SQLITE_OK)
        die("%s: %s", path, sqlite3_errmsg(f.db));
    sql_exec(f.db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-8192;"
                   "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, topic TEXT NOT "
                   "NULL, data TEXT NOT NULL)");
    if (sqlite3_prepare_v2(f.db, "INSERT INTO events (seq, topic, data) VALUES (?, ?, ?)", -1,
                           &f.insert, NULL) != SQLITE_OK)
        die("sqlite prepare: %s", sqlite3_errmsg(f.db));

    size_t size = READ_CHUNK + LINE_MAX_BYTES + 1, len = 0;
    char *data = malloc(size);
    if (data == NULL)
        die("out of memory");
    unsigned reads = 0;
    for (;;) {
        size_t chunk = READ_CHUNK;
        if (!is_pipe && reads < READ_RAMP_STEPS)
            chunk = READ_CHUNK >> (READ_RAMP_STEPS - reads++);
        ssize_t n = read(in, data + len, chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("%s: read failed: %s", argv[1], strerror(errno));
        if (n == 0) { /* a last line without its newline is an event too */
            if (len > 0) {
                begin_batch(&f);
                take_line(&f, data, len);
                f.consumed += (long long)len;
                end_batch(&f);
            }
            if (f.given != NULL && f.given_sent < f.given_len) /* a pipe's: all at the end */
                write_all(STDOUT_FILENO, f.given + f.given_sent, f.given_len - f.given_sent,
                          "standard output");
            break;
        }
        len += (size_t)n;
        size_t start = 0, lines = 0;
        char *nl;
        while ((nl = memchr(data + start, '\n', len - start)) != NULL) {
            if (lines == 0)
                begin_batch(&f);
            take_line(&f, data + start, (size_t)(nl - (data + start)));
            f.consumed += (long long)(nl - (data + start)) + 1;
            start = (size_t)(nl - data) + 1;
            if (++lines == BATCH_MAX) {
                end_batch(&f);
                lines = 0;
            }
        }
        if (lines > 0)
            end_batch(&f);
        if (len - start > LINE_MAX_BYTES)
            die("line %lld: longer than %d bytes", f.events + 1, LINE_MAX_BYTES);
        memmove(data, data + start, len - start);
        len -= start;
    }
    free(data);
    sqlite3_finalize(f.insert);
    if (sqlite3_close(f.db) != SQLITE_OK)
        die("sqlite close failed");
    if (close(f.ledger_fd) != 0)
        die("ledger: close failed: %s", strerror(errno));
    EVP_MD_CTX_free(f.hasher);
    EVP_MD_free(f.sha256);
    free(f.ledger.data);
    free(f.answers.data);
    free(f.line.data);
    fprintf(stderr, "smart-floor: %lld events\n", f.events);
    return 0;
}
