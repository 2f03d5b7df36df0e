/* fleet.c — migrations, registration and shipping through libpq; see fleet.h. */
#include "fleet/fleet.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <libpq-fe.h>

#include "fleet/fleet_migrations.h"
#include "ledger/checkpoint.h"
#include "ledger/durable_file.h"

/* Connect to `url`; NULL with `msg` set when it fails. Notices (CREATE ... IF NOT EXISTS on a
 * second run) are not errors, so they are kept off stderr. */
static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static PGconn *connect_db(const char *url, char *msg, size_t msg_size)
{
    PGconn *c = PQconnectdb(url);
    if (c == NULL) {
        snprintf(msg, msg_size, "database: out of memory");
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(msg, msg_size, "database: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, quiet_notice, NULL);
    return c;
}

/* Run `sql` (no parameters; several statements allowed). Returns 0 or -EIO with `msg`. */
static int exec_ok(PGconn *c, const char *sql, const char *what, char *msg, size_t msg_size)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        snprintf(msg, msg_size, "database: %s: %s", what, PQerrorMessage(c));
        rc = -EIO;
    }
    PQclear(r);
    return rc;
}

int fleet_migrate(const char *url, int *applied, int *version, char *msg, size_t msg_size)
{
    *applied = 0;
    *version = 0;
    PGconn *c = connect_db(url, msg, msg_size);
    if (c == NULL)
        return -EIO;
    /* A session lock: a second migrator waits here, then finds the work done. */
    int rc = exec_ok(c, "SELECT pg_advisory_lock(hashtext('smart-host fleet migrate'))",
                     "taking the migration lock", msg, msg_size);
    if (rc == 0)
        rc = exec_ok(c,
                     "CREATE SCHEMA IF NOT EXISTS fleet;"
                     "CREATE TABLE IF NOT EXISTS fleet.schema_version ("
                     " version integer PRIMARY KEY, name text NOT NULL,"
                     " applied_at timestamptz NOT NULL DEFAULT now())",
                     "creating fleet.schema_version", msg, msg_size);
    if (rc == 0) {
        PGresult *r = PQexec(c, "SELECT coalesce(max(version), 0) FROM fleet.schema_version");
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
            snprintf(msg, msg_size, "database: reading fleet.schema_version: %s",
                     PQerrorMessage(c));
            rc = -EIO;
        } else {
            *version = atoi(PQgetvalue(r, 0, 0));
        }
        PQclear(r);
    }
    for (size_t i = 0; rc == 0 && i < fleet_migration_count; i++) {
        const fleet_migration *m = &fleet_migrations[i];
        if (m->version <= *version)
            continue;
        char what[160];
        snprintf(what, sizeof what, "migration %04d_%s", m->version, m->name);
        rc = exec_ok(c, "BEGIN", what, msg, msg_size);
        if (rc == 0)
            rc = exec_ok(c, m->sql, what, msg, msg_size);
        if (rc == 0) {
            char v[16];
            snprintf(v, sizeof v, "%d", m->version);
            const char *params[2] = {v, m->name};
            PGresult *r =
                PQexecParams(c, "INSERT INTO fleet.schema_version (version, name) VALUES ($1, $2)",
                             2, NULL, params, NULL, NULL, 0);
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                snprintf(msg, msg_size, "database: %s: recording it: %s", what, PQerrorMessage(c));
                rc = -EIO;
            }
            PQclear(r);
        }
        if (rc == 0)
            rc = exec_ok(c, "COMMIT", what, msg, msg_size);
        if (rc == 0) {
            *version = m->version;
            ++*applied;
        } else {
            PQclear(PQexec(c, "ROLLBACK"));
        }
    }
    PQfinish(c);
    return rc;
}

int fleet_register(const char *url, const char *node_id, const char *role, const char *public_key,
                   char *msg, size_t msg_size)
{
    PGconn *c = connect_db(url, msg, msg_size);
    if (c == NULL)
        return -EIO;
    const char *params[3] = {node_id, role, public_key};
    PGresult *r =
        PQexecParams(c, "SELECT fleet.register_node($1, $2, $3)", 3, NULL, params, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(msg, msg_size, "database: registering node %s: %s", node_id, PQerrorMessage(c));
        rc = -EIO;
    }
    PQclear(r);
    PQfinish(c);
    return rc;
}

/* ---- the side file "<ledger>.shipped" ------------------------------------------------- */

static int shipped_path(const char *ledger_path, const char *suffix, char *out, size_t size)
{
    int n = snprintf(out, size, "%s.shipped%s", ledger_path, suffix);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int fleet_shipped_read(const char *ledger_path, fleet_shipped_mark *mark, char *why,
                       size_t why_size)
{
    memset(mark, 0, sizeof *mark);
    char path[PATH_MAX];
    if (shipped_path(ledger_path, "", path, sizeof path) < 0) {
        snprintf(why, why_size, "%s: path too long", ledger_path);
        return -ENAMETOOLONG;
    }
    json_error_t jerr;
    json_t *m = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (m == NULL) {
        bool missing = access(path, F_OK) != 0 && errno == ENOENT;
        snprintf(why, why_size, "%s: %s", path, missing ? "none" : jerr.text);
        return missing ? -ENOENT : -EINVAL;
    }
    json_int_t seq = -1, offset = -1, next = -1;
    const char *hash = NULL, *node = NULL, *to = NULL, *at = NULL;
    int rc =
        json_unpack(m, "{s:I, s:I, s:I, s:s, s:s, s:s, s:s}", "seq", &seq, "offset", &offset,
                    "next", &next, "hash", &hash, "node_id", &node, "to", &to, "shipped_at", &at);
    if (rc != 0 || seq < 0 || offset < 0 || next < offset || strlen(hash) != LEDGER_HASH_HEX_LEN ||
        strspn(hash, "0123456789abcdef") != LEDGER_HASH_HEX_LEN || (seq > 0 && next == offset)) {
        snprintf(why, why_size, "%s: not a shipping position", path);
        json_decref(m);
        return -EINVAL;
    }
    mark->position.seq = (uint64_t)seq;
    mark->position.offset = (uint64_t)offset;
    mark->position.next = (uint64_t)next;
    memcpy(mark->position.hash, hash, LEDGER_HASH_HEX_LEN + 1);
    snprintf(mark->node_id, sizeof mark->node_id, "%s", node);
    snprintf(mark->to, sizeof mark->to, "%s", to);
    snprintf(mark->shipped_at, sizeof mark->shipped_at, "%s", at);
    json_decref(m);
    return 0;
}

static int shipped_write(const char *ledger_path, const fleet_shipped_mark *mark, char *msg,
                         size_t msg_size)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    if (shipped_path(ledger_path, "", path, sizeof path) < 0 ||
        shipped_path(ledger_path, ".tmp", tmp, sizeof tmp) < 0) {
        snprintf(msg, msg_size, "%s: path too long", ledger_path);
        return -ENAMETOOLONG;
    }
    json_t *m =
        json_pack("{s:I, s:I, s:I, s:s, s:s, s:s, s:s}", "seq", (json_int_t)mark->position.seq,
                  "offset", (json_int_t)mark->position.offset, "next",
                  (json_int_t)mark->position.next, "hash", mark->position.hash, "node_id",
                  mark->node_id, "to", mark->to, "shipped_at", mark->shipped_at);
    char *text = m ? json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(m);
    if (text == NULL) {
        snprintf(msg, msg_size, "%s: out of memory", path);
        return -ENOMEM;
    }
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        rc = -errno;
    if (rc == 0) {
        size_t len = strlen(text);
        text[len] = '\n'; /* json_dumps's terminator becomes the line's end */
        rc = durable_write_all(fd, text, len + 1);
        if (rc == 0 && fsync(fd) != 0)
            rc = -errno;
        if (close(fd) != 0 && rc == 0)
            rc = -errno;
    }
    free(text);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc == 0)
        rc = durable_sync_parent_dir(path);
    if (rc < 0) {
        snprintf(msg, msg_size, "%s: cannot write: %s", path, strerror(-rc));
        unlink(tmp);
    }
    return rc;
}

void fleet_url_display(const char *url, char *out, size_t out_size)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &err);
    PQfreemem(err);
    if (opts == NULL) {
        snprintf(out, out_size, "(connection string)");
        return;
    }
    const char *user = "", *host = "", *port = "", *db = "";
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        const char *v = o->val ? o->val : "";
        if (strcmp(o->keyword, "user") == 0)
            user = v;
        else if (strcmp(o->keyword, "host") == 0)
            host = v;
        else if (strcmp(o->keyword, "port") == 0)
            port = v;
        else if (strcmp(o->keyword, "dbname") == 0)
            db = v;
    }
    /* A socket directory (a host starting with '/') is a query parameter in a URI. */
    bool socket_dir = host[0] == '/';
    snprintf(out, out_size, "postgresql://%s%s%s%s%s/%s%s%s%s%s", user, user[0] ? "@" : "",
             socket_dir ? "" : host, !socket_dir && port[0] ? ":" : "", !socket_dir ? port : "", db,
             socket_dir ? "?host=" : "", socket_dir ? host : "",
             socket_dir && port[0] ? "&port=" : "", socket_dir ? port : "");
    PQconninfoFree(opts);
}

/* ---- the shipper ------------------------------------------------------------------------ */

/* A database that hangs (it takes the TCP connection and never answers, or its backend is
 * stopped) would hold a blocking libpq call for as long as it stays silent, and with it the
 * host's stop. So the shipper connects and queries without blocking, each wait a poll() on the
 * connection's socket and on the shipper's wake pipe (fleet_shipper_interrupt), bounded by these
 * (the statement_timeout it sets is the server's, and a stopped server never applies it). */
#define CONNECT_TIMEOUT_MS 10000
#define QUERY_TIMEOUT_MS   40000

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

struct fleet_shipper {
    const fleet_ship_options *o;
    fleet_ship_result res;
    PGconn *c;
    FILE *f;
    char *line;
    size_t line_cap;
    char *batch;
    size_t batch_len, batch_cap, batch_records;
    fleet_position batch_last; /* the last line added to the batch */
    bool lost;
    bool have_key; /* the node's registered key parsed (checkpoints are checked with it) */
    char key_why[200];
    msig_public_key key;
    fleet_position kept; /* the side file's position, until a connection has checked it */
    bool positioned;     /* this connection has checked where shipping stands */
    bool behind;         /* the last scan did not find the database's head in the ledger */
    char display[512];
    int wake[2];        /* written by fleet_shipper_interrupt, never drained */
    char wait_why[120]; /* why the last wait on the database ended without an answer */
};

int fleet_shipper_new(const fleet_ship_options *options, fleet_shipper **out)
{
    *out = NULL;
    fleet_shipper *s = calloc(1, sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    s->o = options;
    if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        int e = errno;
        free(s);
        return -e;
    }
    fleet_url_display(options->url, s->display, sizeof s->display);
    fleet_shipped_mark m;
    char why[PATH_MAX + 100];
    if (fleet_shipped_read(options->ledger_path, &m, why, sizeof why) == 0) {
        s->kept = m.position;
    }
    memset(s->res.position.hash, '0', LEDGER_HASH_HEX_LEN);
    *out = s;
    return 0;
}

void fleet_shipper_free(fleet_shipper *s)
{
    if (s == NULL)
        return;
    PQfinish(s->c);
    close(s->wake[0]);
    close(s->wake[1]);
    if (s->f != NULL)
        fclose(s->f);
    free(s->line);
    free(s->batch);
    free(s);
}

bool fleet_shipper_retryable(const fleet_shipper *s)
{
    return s->lost;
}

void fleet_shipper_interrupt(fleet_shipper *s)
{
    char b = 1;
    ssize_t n = write(s->wake[1], &b, 1); /* full already (EAGAIN): interrupted already */
    (void)n;
}

/* Wait until the connection's socket is ready for `events`, until deadline_ms (monotonic, set
 * limit_ms after the wait began), or until the shipper is interrupted. 0, or -1 with
 * s->wait_why saying why. */
static int wait_socket(fleet_shipper *s, short events, int64_t deadline_ms, int limit_ms)
{
    int fd = PQsocket(s->c);
    if (fd < 0) {
        snprintf(s->wait_why, sizeof s->wait_why, "the connection has no socket");
        return -1;
    }
    for (;;) {
        struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = s->wake[0], .events = POLLIN}};
        int64_t left = deadline_ms - now_ms();
        if (left <= 0) {
            snprintf(s->wait_why, sizeof s->wait_why, "no answer within %d s", limit_ms / 1000);
            return -1;
        }
        int n = poll(p, 2, left > INT_MAX ? INT_MAX : (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(s->wait_why, sizeof s->wait_why, "poll: %s", strerror(errno));
            return -1;
        }
        if (p[1].revents) {
            snprintf(s->wait_why, sizeof s->wait_why, "given up: the host is stopping");
            return -1;
        }
        if (p[0].revents)
            return 0;
    }
}

/* PQexecParams without blocking: the query sent and its last result read, each wait bounded
 * (wait_socket). NULL when no result came: s->wait_why says why (empty: libpq's error). */
static PGresult *exec_bounded(fleet_shipper *s, const char *sql, int n_params,
                              const char *const *params)
{
    s->wait_why[0] = '\0';
    if (!PQsendQueryParams(s->c, sql, n_params, NULL, params, NULL, NULL, 0))
        return NULL;
    int64_t deadline = now_ms() + QUERY_TIMEOUT_MS;
    int f;
    /* A batch can be larger than the socket takes at once: flush as the server reads. */
    while ((f = PQflush(s->c)) == 1)
        if (wait_socket(s, POLLIN | POLLOUT, deadline, QUERY_TIMEOUT_MS) != 0 ||
            !PQconsumeInput(s->c))
            return NULL;
    if (f < 0)
        return NULL;
    PGresult *last = NULL;
    for (;;) {
        while (PQisBusy(s->c))
            if (wait_socket(s, POLLIN, deadline, QUERY_TIMEOUT_MS) != 0 || !PQconsumeInput(s->c)) {
                PQclear(last);
                return NULL;
            }
        PGresult *r = PQgetResult(s->c);
        if (r == NULL)
            return last;
        PQclear(last);
        last = r;
    }
}

/* A lost connection, a deadlock or a serialization failure (SQLSTATE class 40) is worth trying
 * again: nothing of the failed batch was stored. */
static int result_error(fleet_shipper *s, const PGresult *r, const char *what, char *msg,
                        size_t msg_size)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    s->lost = PQstatus(s->c) != CONNECTION_OK || (state != NULL && strncmp(state, "40", 2) == 0);
    if (r == NULL && s->wait_why[0]) { /* no answer: the connection is given up */
        s->lost = true;
        snprintf(msg, msg_size, "database: %s: %s", what, s->wait_why);
        return -EIO;
    }
    snprintf(msg, msg_size, "database: %s: %s", what, PQerrorMessage(s->c));
    return -EIO;
}

static int ask_head(fleet_shipper *s, char *msg, size_t msg_size)
{
    PGresult *r = exec_bounded(
        s, "SELECT node_id, head_seq, head_hash, public_key FROM fleet.my_node()", 0, NULL);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = result_error(s, r, "asking for the node's head", msg, msg_size);
    } else if (PQntuples(r) != 1) {
        snprintf(msg, msg_size, "database: role %s is not a registered station", PQuser(s->c));
        rc = -EACCES;
    } else {
        snprintf(s->res.node_id, sizeof s->res.node_id, "%s", PQgetvalue(r, 0, 0));
        s->res.head_seq = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
        snprintf(s->res.head_hash, sizeof s->res.head_hash, "%s", PQgetvalue(r, 0, 2));
        smart_error err = {0, ""};
        s->have_key = msig_init(&err) == 0 &&
                      msig_public_key_parse(PQgetvalue(r, 0, 3), (size_t)PQgetlength(r, 0, 3),
                                            &s->key, &err) == 0;
        snprintf(s->key_why, sizeof s->key_why, "%s", err.text);
        if (s->o->node_id != NULL && strcmp(s->o->node_id, s->res.node_id) != 0) {
            snprintf(msg, msg_size, "database: role %s is registered for node %s, not %s",
                     PQuser(s->c), s->res.node_id, s->o->node_id);
            rc = -EACCES;
        }
    }
    PQclear(r);
    return rc;
}

static void utc_now(char out[40])
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    struct tm tm;
    gmtime_r(&t.tv_sec, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The batch stored: the position moves to its last line; when it stored records, the side
 * file says so and the caller hears of it. */
static void batch_landed(fleet_shipper *s, uint64_t stored_now)
{
    s->res.position = s->batch_last;
    if (stored_now == 0)
        return;
    fleet_shipped_mark m = {.position = s->res.position};
    snprintf(m.node_id, sizeof m.node_id, "%s", s->res.node_id);
    snprintf(m.to, sizeof m.to, "%s", s->display);
    utc_now(m.shipped_at);
    char msg[PATH_MAX + 200];
    /* A side file not written costs a scan at the next connection, nothing else. */
    (void)shipped_write(s->o->ledger_path, &m, msg, sizeof msg);
    if (s->o->landed != NULL)
        s->o->landed(s->o->landed_arg, &s->res);
}

static int send_batch(fleet_shipper *s, char *msg, size_t msg_size)
{
    if (s->batch_records == 0)
        return 0;
    s->batch[s->batch_len] = '\0';
    const char *params[1] = {s->batch};
    PGresult *r = exec_bounded(s,
                               "SELECT stored, head_seq, head_hash, refused_seq, refused_kind,"
                               " refused_why FROM fleet.ingest($1)",
                               1, params);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        rc = result_error(s, r, "storing records", msg, msg_size);
    } else {
        fleet_ship_result *res = &s->res;
        uint64_t stored_now = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
        res->stored += stored_now;
        res->head_seq = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
        snprintf(res->head_hash, sizeof res->head_hash, "%s", PQgetvalue(r, 0, 2));
        if (!PQgetisnull(r, 0, 4)) {
            res->refused_seq = strtoull(PQgetvalue(r, 0, 3), NULL, 10);
            snprintf(res->refused_kind, sizeof res->refused_kind, "%s", PQgetvalue(r, 0, 4));
            snprintf(msg, msg_size,
                     "database refused record seq %" PRIu64 " of node %s (%s): %s; stored up to "
                     "seq %" PRIu64,
                     res->refused_seq, res->node_id, res->refused_kind, PQgetvalue(r, 0, 5),
                     res->head_seq);
            rc = FLEET_EREFUSED;
        } else {
            batch_landed(s, stored_now);
        }
    }
    PQclear(r);
    s->batch_len = 0;
    s->batch_records = 0;
    return rc;
}

/* Add the line of record `seq` at byte `offset` to the batch. */
static int add_line(fleet_shipper *s, const char *line, size_t len, uint64_t seq, uint64_t offset,
                    char *msg, size_t msg_size)
{
    if (s->batch_len + len + 1 > s->batch_cap) {
        size_t cap = (s->batch_len + len + 1) * 2;
        char *p = realloc(s->batch, cap);
        if (p == NULL) {
            snprintf(msg, msg_size, "shipping: out of memory");
            return -ENOMEM;
        }
        s->batch = p;
        s->batch_cap = cap;
    }
    memcpy(s->batch + s->batch_len, line, len); /* with its newline: fleet.ingest splits on it */
    s->batch_len += len;
    s->batch_records++;
    s->batch_last.seq = seq;
    s->batch_last.offset = offset;
    s->batch_last.next = offset + len;
    /* The hash field is the line's last 64 hex digits before "}\n" (ledger.h's fixed order);
     * a line too short for it is sent anyway, and the database refuses it as malformed. */
    if (len >= 67)
        memcpy(s->batch_last.hash, line + len - 67, LEDGER_HASH_HEX_LEN);
    s->batch_last.hash[LEDGER_HASH_HEX_LEN] = '\0';
    return 0;
}

/* A ledger.checkpoint record's signature, checked with the node's registered key before the
 * record is sent (PostgreSQL cannot check an Ed25519 signature; fleet.ingest checks that its
 * claim matches the stored chain). The fields are in a fixed order (ledger.h), so the
 * checkpoint is the text between "metadata": and the fixed-length prev_hash/hash suffix. */
static int check_checkpoint(fleet_shipper *s, const char *line, size_t len, uint64_t seq, char *msg,
                            size_t msg_size)
{
    static const char ACTION[] = "\"action\":\"" CHECKPOINT_ACTION "\",";
    static const char META[] = ",\"metadata\":";
    static const size_t SUFFIX = 1 + 75 + 79; /* newline, ,"hash":"..."} and ,"prev_hash":"..." */
    if (strstr(line, ACTION) == NULL)
        return 0;
    const char *meta = strstr(line, META);
    if (meta == NULL || len < SUFFIX || meta + sizeof META - 1 > line + len - SUFFIX) {
        snprintf(msg, msg_size, "ledger %s: checkpoint record seq %" PRIu64 " has no metadata",
                 s->o->ledger_path, seq);
        return FLEET_EREFUSED;
    }
    meta += sizeof META - 1;
    char why[300] = "";
    checkpoint_claim claim;
    if (!s->have_key) {
        snprintf(why, sizeof why, "the node's registered key does not parse: %s", s->key_why);
    } else if (checkpoint_check(meta, (size_t)(line + len - SUFFIX - meta), &s->key, &claim, why,
                                sizeof why) == 0) {
        return 0;
    }
    snprintf(msg, msg_size,
             "ledger %s: checkpoint record seq %" PRIu64 " does not verify with node %s's "
             "registered key: %s; not shipped",
             s->o->ledger_path, seq, s->res.node_id, why);
    snprintf(s->res.refused_kind, sizeof s->res.refused_kind, "checkpoint");
    s->res.refused_seq = seq;
    return FLEET_EREFUSED;
}

/* The next complete line of the ledger (with its newline) into s->line; its length, or 0 at
 * the end or before a torn last line, or -1 on a read error. */
static ssize_t next_line(fleet_shipper *s)
{
    ssize_t n = getline(&s->line, &s->line_cap, s->f);
    if (n <= 0 || s->line[n - 1] != '\n')
        return ferror(s->f) ? -1 : 0;
    return n;
}

/* Whether the ledger's line at p->offset is record p->seq, ends at p->next and is intact with
 * hash p->hash (its bytes hash to it): then the database's head is this very line. */
static bool line_is(fleet_shipper *s, const fleet_position *p)
{
    if (p->next <= p->offset || fseeko(s->f, (off_t)p->offset, SEEK_SET) != 0)
        return false;
    ssize_t n = next_line(s);
    if (n <= 0 || (uint64_t)n != p->next - p->offset || n < 76 + 12)
        return false;
    char prefix[32];
    int plen = snprintf(prefix, sizeof prefix, "{\"seq\":%" PRIu64 ",", p->seq);
    if (strncmp(s->line, prefix, (size_t)plen) != 0 ||
        memcmp(s->line + n - 67, p->hash, LEDGER_HASH_HEX_LEN) != 0)
        return false;
    static const char hex[] = "0123456789abcdef";
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dn = 0;
    if (EVP_Digest(s->line, (size_t)n - 76, d, &dn, EVP_sha256(), NULL) != 1 || dn != 32)
        return false;
    char h[LEDGER_HASH_HEX_LEN + 1];
    for (unsigned int i = 0; i < dn; i++) {
        h[2 * i] = hex[d[i] >> 4];
        h[2 * i + 1] = hex[d[i] & 0x0f];
    }
    return memcmp(h, p->hash, LEDGER_HASH_HEX_LEN) == 0;
}

/* Where shipping goes on, on a new connection (see fleet_shipper_round). */
static int find_position(fleet_shipper *s, uint64_t max_seq, char *msg, size_t msg_size)
{
    fleet_ship_result *res = &s->res;
    /* What this shipper reached on its last connection, else the side file's. */
    fleet_position *k = &s->kept;
    res->resumed = false;
    if (res->head_seq == 0) {
        memset(&res->position, 0, sizeof res->position);
        memset(res->position.hash, '0', LEDGER_HASH_HEX_LEN);
        res->resumed = true;
        return 0;
    }
    if (k->seq == res->head_seq && strcmp(k->hash, res->head_hash) == 0 && line_is(s, k)) {
        res->position = *k;
        res->resumed = true;
        return 0;
    }
    res->scans++;
    if (fseeko(s->f, 0, SEEK_SET) != 0) {
        snprintf(msg, msg_size, "ledger %s: %s", s->o->ledger_path, strerror(errno));
        return -errno;
    }
    /* Line N is record seq N (ledger_verify_buffer refuses anything else). */
    uint64_t seq = 0, offset = 0;
    ssize_t n = 0;
    while (seq < max_seq && (n = next_line(s)) > 0) {
        ++seq;
        if (seq == res->head_seq && (size_t)n >= 67 &&
            memcmp(s->line + n - 67, res->head_hash, LEDGER_HASH_HEX_LEN) == 0) {
            res->position =
                (fleet_position){.seq = seq, .offset = offset, .next = offset + (uint64_t)n};
            memcpy(res->position.hash, res->head_hash, LEDGER_HASH_HEX_LEN + 1);
            return 0;
        }
        if (seq == res->head_seq)
            break; /* another record where the database has its head: a fork or a rewrite */
        offset += (uint64_t)n;
    }
    if (n < 0) {
        snprintf(msg, msg_size, "ledger %s: read error", s->o->ledger_path);
        return -EIO;
    }
    /* The head was not found: the ledger ends before it, or holds another record at its seq.
     * Shipping starts again from the kept position when the ledger still holds it there, else
     * from the first record, and the database compares each record sent with its own: the
     * first that differs is refused and raised as an alert naming node and seq. */
    s->behind = true;
    memset(&res->position, 0, sizeof res->position);
    memset(res->position.hash, '0', LEDGER_HASH_HEX_LEN);
    if (k->seq > 0 && k->seq < seq && line_is(s, k))
        res->position = *k;
    return 0;
}

static int connect_shipper(fleet_shipper *s, uint64_t max_seq, char *msg, size_t msg_size)
{
    /* The URL's own parameters come after, so they win. The connection is made without
     * blocking, within CONNECT_TIMEOUT_MS and until the shipper is interrupted (libpq's own
     * connect_timeout applies only to a blocking connect). */
    const char *const keys[] = {"options", "dbname", NULL};
    const char *const values[] = {"-c statement_timeout=30000", s->o->url, NULL};
    s->c = PQconnectStartParams(keys, values, 1);
    if (s->c == NULL || PQstatus(s->c) == CONNECTION_BAD) {
        snprintf(msg, msg_size, "database: %s", s->c ? PQerrorMessage(s->c) : "out of memory");
        s->lost = s->c != NULL;
        return -EIO;
    }
    int64_t deadline = now_ms() + CONNECT_TIMEOUT_MS;
    PostgresPollingStatusType polled = PGRES_POLLING_WRITING; /* as libpq says to start */
    while (polled != PGRES_POLLING_OK && polled != PGRES_POLLING_FAILED) {
        if (wait_socket(s, polled == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline,
                        CONNECT_TIMEOUT_MS) != 0) {
            snprintf(msg, msg_size, "database %s: connecting: %s", s->display, s->wait_why);
            s->lost = true;
            return -EIO;
        }
        polled = PQconnectPoll(s->c);
    }
    if (PQstatus(s->c) != CONNECTION_OK || PQsetnonblocking(s->c, 1) != 0) {
        snprintf(msg, msg_size, "database: %s", PQerrorMessage(s->c));
        s->lost = true;
        return -EIO;
    }
    PQsetNoticeProcessor(s->c, quiet_notice, NULL);
    s->positioned = false;
    s->behind = false;
    int rc = ask_head(s, msg, msg_size);
    if (rc == 0 && s->f == NULL) {
        s->f = fopen(s->o->ledger_path, "r");
        if (s->f == NULL) {
            rc = -errno;
            snprintf(msg, msg_size, "ledger %s: %s", s->o->ledger_path, strerror(errno));
        }
    }
    if (rc == 0)
        rc = find_position(s, max_seq, msg, msg_size);
    s->positioned = rc == 0;
    if (s->positioned)
        s->res.from_seq = s->res.position.seq;
    return rc;
}

int fleet_shipper_round(fleet_shipper *s, uint64_t max_seq, fleet_ship_result *result, char *msg,
                        size_t msg_size)
{
    s->lost = false;
    s->res.refused_seq = 0;
    s->res.refused_kind[0] = '\0';
    int rc = 0;
    bool fresh = s->c == NULL;
    if (fresh)
        rc = connect_shipper(s, max_seq, msg, msg_size);
    size_t want = s->o->batch ? s->o->batch : 1000;
    fleet_position *p = &s->res.position;
    if (rc == 0 && fseeko(s->f, (off_t)p->next, SEEK_SET) != 0) {
        rc = -errno;
        snprintf(msg, msg_size, "ledger %s: %s", s->o->ledger_path, strerror(errno));
    }
    uint64_t seq = p->seq, offset = p->next;
    ssize_t n = 0;
    /* Never a line past max_seq: the live shipper's limit is what the host has made durable. */
    while (rc == 0 && seq < max_seq && (n = next_line(s)) > 0) {
        if (s->o->has_byte_limit && offset + (uint64_t)n > s->o->byte_limit)
            break; /* not known durable: left for a later round */
        ++seq;
        rc = check_checkpoint(s, s->line, (size_t)n, seq, msg, msg_size);
        if (rc != 0) {
            char first[1024];
            int sent = send_batch(s, first, sizeof first); /* what precedes it is good */
            if (sent != 0) { /* the database refused or failed on an earlier record */
                snprintf(msg, msg_size, "%s", first);
                rc = sent;
            }
            break;
        }
        rc = add_line(s, s->line, (size_t)n, seq, offset, msg, msg_size);
        offset += (uint64_t)n;
        if (rc == 0 && s->batch_records >= want)
            rc = send_batch(s, msg, msg_size);
    }
    if (rc == 0 && n < 0) {
        rc = -EIO;
        snprintf(msg, msg_size, "ledger %s: read error", s->o->ledger_path);
    }
    if (rc == 0)
        rc = send_batch(s, msg, msg_size);
    s->batch_len = 0;
    s->batch_records = 0;
    if (rc == 0 && s->behind && p->seq < s->res.head_seq)
        rc = FLEET_EAHEAD;
    else if (rc == 0)
        s->behind = false;
    if (rc == FLEET_EAHEAD)
        snprintf(msg, msg_size,
                 "database holds node %s through seq %" PRIu64 ", beyond the ledger's last "
                 "record, seq %" PRIu64 " (restored from an older copy?); each record the "
                 "ledger has was the same as the database's",
                 s->res.node_id, s->res.head_seq, p->seq);
    /* The position reached is the hint for the next connection, once this one has found it
     * (a connection that failed before that leaves the side file's hint as it was). */
    if (s->positioned)
        s->kept = s->res.position;
    if (rc != 0 && rc != FLEET_EAHEAD) {
        if (s->c != NULL && (s->lost || PQstatus(s->c) != CONNECTION_OK))
            s->lost = true;
        PQfinish(s->c);
        s->c = NULL;
    }
    if (result != NULL)
        *result = s->res;
    return rc;
}

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

int fleet_ship(const fleet_ship_options *options, fleet_ship_result *result, char *msg,
               size_t msg_size)
{
    memset(result, 0, sizeof *result);
    fleet_shipper *s;
    if (fleet_shipper_new(options, &s) < 0) {
        snprintf(msg, msg_size, "shipping: out of memory");
        return -ENOMEM;
    }
    int64_t give_up = now_ms() + options->wait_ms;
    int backoff = 100;
    uint64_t reconnects = 0;
    int rc;
    for (;;) {
        rc = fleet_shipper_round(s, options->through ? options->through : UINT64_MAX, result, msg,
                                 msg_size);
        if (rc == 0 || !fleet_shipper_retryable(s) || now_ms() >= give_up)
            break;
        /* The database is down or the connection broke: what it committed stays, what it did
         * not is sent again after the head is asked for anew. */
        reconnects++;
        sleep_ms(backoff);
        backoff = backoff < 1600 ? backoff * 2 : 2000;
    }
    result->reconnects = reconnects;
    fleet_shipper_free(s);
    return rc;
}
