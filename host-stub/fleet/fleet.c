/* fleet.c — migrations, registration and shipping through libpq; see fleet.h. */
#include "fleet/fleet.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "fleet/fleet_migrations.h"
#include "ledger/checkpoint.h"

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

/* One shipping attempt on one connection. *lost says the connection failed (worth retrying). */
typedef struct shipper {
    const fleet_ship_options *o;
    fleet_ship_result *res;
    PGconn *c;
    char *batch;
    size_t batch_len, batch_cap, batch_records;
    bool lost;
    bool have_key; /* the node's registered key parsed (checkpoints are checked with it) */
    char key_why[200];
    msig_public_key key;
} shipper;

/* A lost connection, a deadlock or a serialization failure (SQLSTATE class 40) is worth trying
 * again: nothing of the failed batch was stored. */
static int result_error(shipper *s, const PGresult *r, const char *what, char *msg, size_t msg_size)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    s->lost = PQstatus(s->c) != CONNECTION_OK || (state != NULL && strncmp(state, "40", 2) == 0);
    snprintf(msg, msg_size, "database: %s: %s", what, PQerrorMessage(s->c));
    return -EIO;
}

static int ask_head(shipper *s, char *msg, size_t msg_size)
{
    PGresult *r =
        PQexec(s->c, "SELECT node_id, head_seq, head_hash, public_key FROM fleet.my_node()");
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = result_error(s, r, "asking for the node's head", msg, msg_size);
    } else if (PQntuples(r) != 1) {
        snprintf(msg, msg_size, "database: role %s is not a registered station", PQuser(s->c));
        rc = -EACCES;
    } else {
        snprintf(s->res->node_id, sizeof s->res->node_id, "%s", PQgetvalue(r, 0, 0));
        s->res->head_seq = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
        snprintf(s->res->head_hash, sizeof s->res->head_hash, "%s", PQgetvalue(r, 0, 2));
        smart_error err = {0, ""};
        s->have_key = msig_init(&err) == 0 &&
                      msig_public_key_parse(PQgetvalue(r, 0, 3), (size_t)PQgetlength(r, 0, 3),
                                            &s->key, &err) == 0;
        snprintf(s->key_why, sizeof s->key_why, "%s", err.text);
        if (s->o->node_id != NULL && strcmp(s->o->node_id, s->res->node_id) != 0) {
            snprintf(msg, msg_size, "database: role %s is registered for node %s, not %s",
                     PQuser(s->c), s->res->node_id, s->o->node_id);
            rc = -EACCES;
        }
    }
    PQclear(r);
    return rc;
}

static int send_batch(shipper *s, char *msg, size_t msg_size)
{
    if (s->batch_records == 0)
        return 0;
    s->batch[s->batch_len] = '\0';
    const char *params[1] = {s->batch};
    PGresult *r = PQexecParams(s->c,
                               "SELECT stored, head_seq, head_hash, refused_seq, refused_kind,"
                               " refused_why FROM fleet.ingest($1)",
                               1, NULL, params, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        rc = result_error(s, r, "storing records", msg, msg_size);
    } else {
        fleet_ship_result *res = s->res;
        res->stored += strtoull(PQgetvalue(r, 0, 0), NULL, 10);
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
        }
    }
    PQclear(r);
    s->batch_len = 0;
    s->batch_records = 0;
    return rc;
}

static int add_line(shipper *s, const char *line, size_t len, char *msg, size_t msg_size)
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
    return 0;
}

/* A ledger.checkpoint record's signature, checked with the node's registered key before the
 * record is sent (PostgreSQL cannot check an Ed25519 signature; fleet.ingest checks that its
 * claim matches the stored chain). The fields are in a fixed order (ledger.h), so the
 * checkpoint is the text between "metadata": and the fixed-length prev_hash/hash suffix. */
static int check_checkpoint(shipper *s, const char *line, size_t len, uint64_t seq, char *msg,
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
             s->o->ledger_path, seq, s->res->node_id, why);
    snprintf(s->res->refused_kind, sizeof s->res->refused_kind, "checkpoint");
    s->res->refused_seq = seq;
    return FLEET_EREFUSED;
}

static int ship_once(shipper *s, char *msg, size_t msg_size)
{
    s->lost = false;
    s->c = PQconnectdb(s->o->url);
    if (s->c == NULL || PQstatus(s->c) != CONNECTION_OK) {
        snprintf(msg, msg_size, "database: %s", s->c ? PQerrorMessage(s->c) : "out of memory");
        s->lost = s->c != NULL;
        PQfinish(s->c);
        s->c = NULL;
        return -EIO;
    }
    int rc = ask_head(s, msg, msg_size);
    FILE *f = NULL;
    if (rc == 0) {
        f = fopen(s->o->ledger_path, "r");
        if (f == NULL) {
            rc = -errno;
            snprintf(msg, msg_size, "ledger %s: %s", s->o->ledger_path, strerror(errno));
        }
    }
    size_t want = s->o->batch ? s->o->batch : 1000;
    char *line = NULL;
    size_t cap = 0;
    uint64_t seq = 0;
    /* Line N is record seq N (ledger_verify_buffer refuses anything else). The head itself is
     * sent again so that a local ledger that forked from the stored one is refused, not
     * continued. */
    while (rc == 0) {
        ssize_t n = getline(&line, &cap, f);
        if (n <= 0 || line[n - 1] != '\n')
            break; /* end, or a torn last line not yet complete */
        if (++seq < s->res->head_seq)
            continue;
        rc = check_checkpoint(s, line, (size_t)n, seq, msg, msg_size);
        if (rc != 0) {
            char first[1024];
            int sent = send_batch(s, first, sizeof first); /* what precedes it is good */
            if (sent != 0) { /* the database refused or failed on an earlier record */
                snprintf(msg, msg_size, "%s", first);
                rc = sent;
            }
            break;
        }
        rc = add_line(s, line, (size_t)n, msg, msg_size);
        if (rc == 0 && s->batch_records >= want)
            rc = send_batch(s, msg, msg_size);
    }
    if (rc == 0 && f != NULL && ferror(f)) {
        rc = -EIO;
        snprintf(msg, msg_size, "ledger %s: read error", s->o->ledger_path);
    }
    if (rc == 0)
        rc = send_batch(s, msg, msg_size);
    s->batch_len = 0;
    s->batch_records = 0;
    free(line);
    if (f != NULL)
        fclose(f);
    PQfinish(s->c);
    s->c = NULL;
    return rc;
}

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int fleet_ship(const fleet_ship_options *options, fleet_ship_result *result, char *msg,
               size_t msg_size)
{
    memset(result, 0, sizeof *result);
    shipper s = {.o = options, .res = result};
    int64_t give_up = now_ms() + options->wait_ms;
    int backoff = 100;
    int rc;
    for (;;) {
        rc = ship_once(&s, msg, msg_size);
        if (rc == 0 || !s.lost || now_ms() >= give_up)
            break;
        /* The database is down or the connection broke: what it committed stays, what it did
         * not is sent again after the head is asked for anew. */
        result->reconnects++;
        sleep_ms(backoff);
        backoff = backoff < 1600 ? backoff * 2 : 2000;
    }
    free(s.batch);
    return rc;
}
