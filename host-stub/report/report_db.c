/* report_db.c — the fleet database as a record source (report_db.h), through libpq. */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_db.h"

struct rep_db {
    PGconn *conn;
    char name[512];
};

bool rep_db_is_url(const char *text)
{
    return strncmp(text, "postgresql://", 13) == 0 || strncmp(text, "postgres://", 11) == 0 ||
           strchr(text, '=') != NULL;
}

/* An SQL error as a message: a privilege refused is said as such (a role that is not a
 * fleet_reader), any other error as the server gave it. */
static int sql_error(rep_db *db, const PGresult *res, const char *what, char *msg, size_t msg_size)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *text = res ? PQresultErrorMessage(res) : PQerrorMessage(db->conn);
    char clean[600];
    snprintf(clean, sizeof clean, "%s", text && text[0] ? text : PQerrorMessage(db->conn));
    clean[strcspn(clean, "\n")] = '\0';
    if (state && strcmp(state, "42501") == 0) {
        snprintf(msg, msg_size,
                 "%s: role %s may not read the fleet (%s): fleet reports need a role granted "
                 "fleet_reader (README \"Fleet\")",
                 db->name, PQuser(db->conn), clean);
        return -EACCES;
    }
    snprintf(msg, msg_size, "%s: %s: %s", db->name, what, clean);
    return -EIO;
}

typedef int (*row_fn)(void *ctx, const PGresult *row, char *msg, size_t msg_size);

/* Run `sql` and hand each row to `fn` as it arrives (single-row mode: libpq holds one row at a
 * time, whatever the result's size). A failing `fn` stops the calls; the rest is drained. */
static int stream(rep_db *db, const char *sql, int n, const char *const *params, const char *what,
                  row_fn fn, void *ctx, char *msg, size_t msg_size)
{
    if (!PQsendQueryParams(db->conn, sql, n, NULL, params, NULL, NULL, 0))
        return sql_error(db, NULL, what, msg, msg_size);
    if (!PQsetSingleRowMode(db->conn)) {
        snprintf(msg, msg_size, "%s: %s: single-row mode refused", db->name, what);
        while (PQgetResult(db->conn) != NULL)
            ;
        return -EIO;
    }
    int rc = 0;
    PGresult *res;
    while ((res = PQgetResult(db->conn)) != NULL) {
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_SINGLE_TUPLE) {
            if (rc == 0)
                rc = fn(ctx, res, msg, msg_size);
        } else if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK && rc == 0) {
            rc = sql_error(db, res, what, msg, msg_size);
        }
        PQclear(res);
    }
    return rc;
}

static int command(rep_db *db, const char *sql, char *msg, size_t msg_size)
{
    PGresult *res = PQexec(db->conn, sql);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : sql_error(db, res, sql, msg, msg_size);
    PQclear(res);
    return rc;
}

int rep_db_open(const char *url, rep_db **out, char *msg, size_t msg_size)
{
    *out = NULL;
    char *why = NULL;
    PQconninfoOption *parsed = PQconninfoParse(url, &why);
    if (parsed == NULL) {
        char text[400];
        snprintf(text, sizeof text, "%s", why ? why : "out of memory");
        text[strcspn(text, "\n")] = '\0';
        snprintf(msg, msg_size, "--from: not a valid PostgreSQL connection URL: %s", text);
        PQfreemem(why);
        return -EINVAL;
    }
    PQconninfoFree(parsed);
    rep_db *db = calloc(1, sizeof *db);
    if (db == NULL) {
        snprintf(msg, msg_size, "out of memory");
        return -ENOMEM;
    }
    db->conn = PQconnectdb(url);
    if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
        char text[600];
        snprintf(text, sizeof text, "%s", db->conn ? PQerrorMessage(db->conn) : "out of memory");
        for (char *p = text; *p; p++)
            if (*p == '\n' || *p == '\t')
                *p = ' ';
        snprintf(msg, msg_size, "--from: cannot connect to the fleet database: %s", text);
        rep_db_close(db);
        return -EIO;
    }
    snprintf(db->name, sizeof db->name, "postgresql://%s@%s:%s/%s", PQuser(db->conn),
             PQhost(db->conn), PQport(db->conn), PQdb(db->conn));
    int rc = command(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", msg, msg_size);
    if (rc == 0)
        rc = command(db, "SET LOCAL TIME ZONE 'UTC'", msg, msg_size);
    /* A report's queries are index probes a station, but over a hundred stations' month
     * partitions the planner's estimates pass the JIT thresholds: compiling the integrity
     * query took 14 s of a 14 s report (1 station x 1 million records), for nothing. */
    if (rc == 0)
        rc = command(db, "SET LOCAL jit = off", msg, msg_size);
    if (rc < 0) {
        rep_db_close(db);
        return rc;
    }
    *out = db;
    return 0;
}

void rep_db_close(rep_db *db)
{
    if (db == NULL)
        return;
    PQfinish(db->conn);
    free(db);
}

const char *rep_db_name(const rep_db *db)
{
    return db->name;
}

static uint64_t u64(const PGresult *r, int col)
{
    return PQgetisnull(r, 0, col) ? 0 : strtoull(PQgetvalue(r, 0, col), NULL, 10);
}
static int64_t i64(const PGresult *r, int col)
{
    return PQgetisnull(r, 0, col) ? 0 : strtoll(PQgetvalue(r, 0, col), NULL, 10);
}
static const char *text_of(rep_arena *a, const PGresult *r, int col)
{
    return PQgetisnull(r, 0, col) ? NULL : rep_strdup(a, PQgetvalue(r, 0, col));
}
static void hash_of(char out[65], const PGresult *r, int col)
{
    snprintf(out, 65, "%s", PQgetisnull(r, 0, col) ? "" : PQgetvalue(r, 0, col));
}

typedef struct stations_ctx {
    rep_arena *a;
    rep_vec *out;
} stations_ctx;

static int station_row(void *ctx, const PGresult *r, char *msg, size_t msg_size)
{
    stations_ctx *c = ctx;
    rep_station *s = rep_vec_push(c->out, sizeof *s);
    if (s == NULL || (s->node_id = text_of(c->a, r, 0)) == NULL) {
        snprintf(msg, msg_size, "out of memory");
        return -ENOMEM;
    }
    s->head_seq = u64(r, 1);
    hash_of(s->head_hash, r, 2);
    return 0;
}

int rep_db_stations(rep_db *db, const char *node, rep_arena *a, rep_vec *out, char *msg,
                    size_t msg_size)
{
    const char *params[1] = {node};
    stations_ctx c = {a, out};
    int rc = stream(db,
                    "SELECT node_id, head_seq, head_hash FROM fleet.nodes "
                    "WHERE $1::text IS NULL OR node_id = $1 ORDER BY node_id",
                    1, params, "reading fleet.nodes", station_row, &c, msg, msg_size);
    if (rc == 0 && node != NULL && out->count == 0) {
        snprintf(msg, msg_size, "%s: --node %s: no such station is registered", db->name, node);
        rc = -ENOENT;
    }
    return rc;
}

typedef struct read_ctx {
    rep_ledger *l;
    const rep_read_options *o;
} read_ctx;

static int record_row(void *ctx, const PGresult *r, char *msg, size_t msg_size)
{
    read_ctx *c = ctx;
    return rep_ledger_line(c->l, c->o, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0), msg,
                           msg_size);
}

/* "{a,b,c}": a text[] literal of action names (letters, dots and underscores only). */
static void array_literal(char *out, size_t size, const char *const *items, size_t n)
{
    size_t used = (size_t)snprintf(out, size, "{");
    for (size_t i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%s", i ? "," : "", items[i]);
    if (used < size)
        snprintf(out + used, size - used, "}");
}

typedef struct ends_ctx {
    rep_ledger *l;
    uint64_t head;
} ends_ctx;

static int ends_row(void *ctx, const PGresult *r, char *msg, size_t msg_size)
{
    (void)msg;
    (void)msg_size;
    ends_ctx *c = ctx;
    uint64_t seq = u64(r, 0);
    if (seq == 1)
        c->l->first_ms = i64(r, 1);
    if (seq == c->head)
        c->l->last_ms = i64(r, 1);
    return 0;
}

int rep_db_read(rep_db *db, const rep_station *s, const rep_read_options *o, rep_ledger *l,
                char *msg, size_t msg_size)
{
    l->path = rep_printf(&l->arena, "%s (node %s)", db->name, s->node_id);
    if (l->path == NULL) {
        snprintf(msg, msg_size, "out of memory");
        return -ENOMEM;
    }
    const char *actions[16];
    size_t n = rep_wanted_actions(o->wants, actions, 16);
    const char *bulk[16];
    size_t nb = 0;
    for (size_t i = 0; i < n; i++)
        if (rep_bulk_action(actions[i]))
            bulk[nb++] = actions[i];
    char wanted[512], bulk_list[128], head[24], from[16] = "", to[16] = "";
    array_literal(wanted, sizeof wanted, actions, n);
    array_literal(bulk_list, sizeof bulk_list, bulk, nb);
    snprintf(head, sizeof head, "%" PRIu64, s->head_seq);
    /* The bulk's period in UTC days, two days wider either way than the station's days it
     * stands for (no zone is 48 hours off UTC): the exact cut is rep_ledger_line's. */
    if (o->bulk_from != REP_NO_DAY)
        civil_format(o->bulk_from - 2, from, sizeof from);
    if (o->bulk_to != REP_NO_DAY)
        civil_format(o->bulk_to + 2, to, sizeof to);
    const char *params[6] = {s->node_id,       head, wanted, bulk_list, from[0] ? from : NULL,
                             to[0] ? to : NULL};
    read_ctx c = {l, o};
    /* By (node_id, action, seq) (migration 0002): the few actions a kind reads are found
     * without reading the bulk of gate decisions around them. */
    int rc = stream(db,
                    "SELECT line FROM fleet.records WHERE node_id = $1 AND seq <= $2::bigint "
                    "AND action = ANY ($3::text[]) "
                    "AND (action <> ALL ($4::text[]) OR (($5::timestamptz IS NULL OR time >= $5) "
                    "AND ($6::timestamptz IS NULL OR time < $6))) ORDER BY seq",
                    6, params, "reading fleet.records", record_row, &c, msg, msg_size);
    if (rc == 0) {
        ends_ctx e = {l, s->head_seq};
        const char *p2[2] = {s->node_id, head};
        rc = stream(db,
                    "SELECT seq, (extract(epoch FROM time) * 1000)::bigint FROM fleet.records "
                    "WHERE node_id = $1 AND seq IN (1, $2::bigint)",
                    2, p2, "reading fleet.records", ends_row, &e, msg, msg_size);
    }
    l->node_id = rep_strdup(&l->arena, s->node_id);
    l->records = s->head_seq;
    l->verification = (rep_verification){.ok = true, .stored = true, .records = s->head_seq};
    memcpy(l->verification.head_hash, s->head_hash, sizeof l->verification.head_hash);
    return rc;
}

typedef struct integrity_ctx {
    rep_arena *a;
    rep_vec *out;
} integrity_ctx;

static int integrity_row(void *ctx, const PGresult *r, char *msg, size_t msg_size)
{
    integrity_ctx *c = ctx;
    rep_integrity *x = rep_vec_push(c->out, sizeof *x);
    if (x == NULL || (x->node_id = text_of(c->a, r, 0)) == NULL) {
        snprintf(msg, msg_size, "out of memory");
        return -ENOMEM;
    }
    x->head_seq = u64(r, 1);
    hash_of(x->head_hash, r, 2);
    x->records = u64(r, 3);
    x->has_checkpoint = !PQgetisnull(r, 0, 4);
    x->checkpoint_seq = u64(r, 4);
    x->checkpoint_signed_at = text_of(c->a, r, 5);
    x->checkpoint_ok = !PQgetisnull(r, 0, 6) && strcmp(PQgetvalue(r, 0, 6), "t") == 0;
    x->has_head = !PQgetisnull(r, 0, 7);
    x->head_time_ms = i64(r, 7);
    x->head_received_ms = i64(r, 8);
    x->alerts = u64(r, 9);
    return 0;
}

static int alert_row(void *ctx, const PGresult *r, char *msg, size_t msg_size)
{
    integrity_ctx *c = ctx;
    rep_alert *x = rep_vec_push(c->out, sizeof *x);
    if (x == NULL) {
        snprintf(msg, msg_size, "out of memory");
        return -ENOMEM;
    }
    x->id = u64(r, 0);
    x->node_id = text_of(c->a, r, 1);
    x->has_seq = !PQgetisnull(r, 0, 2);
    x->seq = u64(r, 2);
    x->kind = text_of(c->a, r, 3);
    x->detail = text_of(c->a, r, 4);
    x->raised_by = text_of(c->a, r, 5);
    x->raised_ms = i64(r, 6);
    return 0;
}

int rep_db_integrity(rep_db *db, const char *node, rep_arena *a, rep_vec *stations, rep_vec *alerts,
                     char *msg, size_t msg_size)
{
    const char *params[1] = {node};
    integrity_ctx c = {a, stations};
    /* The checkpoint's claim is compared again with the record stored at its seq: stored
     * records are never changed, so a mismatch would mean someone with the owner's rights
     * did. Records: fleet.ingest stores a chain only from seq 1 without a gap, so a station
     * whose first stored seq is 1 and last is its head holds head_seq records; both are one
     * probe of the primary key's index (a month partition each), where count(*) would read
     * every index entry of the station (and the head's record is one probe too: LIMIT 1 keeps
     * the planner from joining it with every record). Only when that check fails are the rows
     * counted, so `complete` (records == head) says what it said. The checkpoint's record's hash
     * is read from its line's end (fleet.line_stored_hash's expression, written out so a database
     * not yet at migration 0004 is read alike). */
    int rc =
        stream(db,
               "SELECT n.node_id, n.head_seq, n.head_hash, "
               "CASE WHEN (SELECT min(r.seq) FROM fleet.records r WHERE r.node_id = n.node_id) "
               "= 1 AND (SELECT max(r.seq) FROM fleet.records r WHERE r.node_id = n.node_id) "
               "= n.head_seq THEN n.head_seq "
               "ELSE (SELECT count(*) FROM fleet.records r WHERE r.node_id = n.node_id) END, "
               "cp.seq, cp.signed_at, "
               "cp.head_hash = (SELECT left(right(r.line, 66), 64) FROM fleet.records r "
               "WHERE r.node_id = n.node_id AND r.seq = cp.seq), "
               "(extract(epoch FROM h.time) * 1000)::bigint, "
               "(extract(epoch FROM h.received_at) * 1000)::bigint, "
               "(SELECT count(*) FROM fleet.alerts x WHERE x.node_id = n.node_id) "
               "FROM fleet.nodes n "
               "LEFT JOIN LATERAL (SELECT c.seq, c.signed_at, c.head_hash FROM fleet.checkpoints c "
               "WHERE c.node_id = n.node_id ORDER BY c.seq DESC LIMIT 1) cp ON true "
               "LEFT JOIN LATERAL (SELECT r.time, r.received_at FROM fleet.records r "
               "WHERE r.node_id = n.node_id AND r.seq = n.head_seq LIMIT 1) h ON true "
               "WHERE $1::text IS NULL OR n.node_id = $1 ORDER BY n.node_id",
               1, params, "reading the stored heads", integrity_row, &c, msg, msg_size);
    if (rc == 0 && node != NULL && stations->count == 0) {
        snprintf(msg, msg_size, "%s: --node %s: no such station is registered", db->name, node);
        return -ENOENT;
    }
    c.out = alerts;
    if (rc == 0)
        rc = stream(db,
                    "SELECT id, node_id, seq, kind, detail, raised_by, "
                    "(extract(epoch FROM raised_at) * 1000)::bigint FROM fleet.alerts "
                    "WHERE $1::text IS NULL OR node_id = $1 ORDER BY id",
                    1, params, "reading fleet.alerts", alert_row, &c, msg, msg_size);
    return rc;
}
