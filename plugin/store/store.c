/* store.c — the module's SQLite store: schema, prepared statements, one lazily opened
 * transaction per batch; see store.h. */
#include "store/store.h"

#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

enum {
    Q_BEGIN,
    Q_COMMIT,
    Q_LOAD_EQUIPMENT,
    Q_PUT_EQUIPMENT,
    Q_ADD_CALIBRATION,
    Q_LAST_GOOD_CALIBRATION,
    Q_FIND_CALIBRATION,
    Q_PUT_LINK,
    Q_GET_LINK,
    Q_ADD_GATE,
    Q_GATE_CLIENTPO,
    Q_ALLOWED_USES,
    Q_GOOD_CALIBRATION_DAYS,
    Q_LOAD_CHECKS,
    Q_ADD_CHECK,
    Q_GET_CONTRACT,
    Q_CHECKS_WITH_REFERENCE,
    Q_MARK_CHECKS_SUSPECT,
    Q_CALIBRATIONS_WITH_REFERENCE,
    Q_PUT_CONTRACT,
    Q_GET_META,
    Q_PUT_META,
    Q_GET_TEXT_META,
    Q_PUT_TEXT_META,
    Q_CALIBRATION_ON,
    Q_CHECK_AT,
    Q_ADD_UNAVAILABLE,
    Q_UNAVAILABLE_AT,
    Q_LAST_RESULTS,
    Q_LAST_PASS,
    Q_ALLOWED_WITH,
    Q_COUNT
};

static const char *const statements[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_LOAD_EQUIPMENT] =
        "SELECT equipment_id, has_calibration, calibrated_on, calibration_date, certificate, "
        "calibration_failed, sent_out, out_of_service, status, last_alert, last_alert_ms, "
        "out_of_service_since_ms, out_of_service_reason, failure_note, last_verification_ms, "
        "sent_out_since_ms, out_of_service_procedure FROM equipment ORDER BY equipment_id",
    [Q_PUT_EQUIPMENT] =
        "INSERT OR REPLACE INTO equipment (equipment_id, has_calibration, calibrated_on, "
        "calibration_date, certificate, calibration_failed, sent_out, out_of_service, status, "
        "last_alert, last_alert_ms, out_of_service_since_ms, out_of_service_reason, failure_note, "
        "last_verification_ms, sent_out_since_ms, out_of_service_procedure) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    [Q_ADD_CALIBRATION] =
        "INSERT INTO calibrations (equipment_id, calibration_date, day, certificate_number, "
        "provider, technician, results, notes, source, recorded_at_ms, in_tolerance, "
        "reference_standard, performed_ms, suspect, suspect_reason) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    /* The latest by day, and on its day by instant (NULLs, a date alone, last in DESC). */
    [Q_LAST_GOOD_CALIBRATION] =
        "SELECT day, performed_ms FROM calibrations WHERE equipment_id = "
        "?1 AND in_tolerance = 1 AND coalesce(suspect, 0) = 0 ORDER BY day DESC, performed_ms DESC "
        "LIMIT 1",
    [Q_FIND_CALIBRATION] = "SELECT calibration_date FROM calibrations WHERE equipment_id = ?1 "
                           "AND certificate_number = ?2 ORDER BY id LIMIT 1",
    [Q_PUT_LINK] = "INSERT INTO clientpo_links (clientpo_id, equipment, linked_at_ms) "
                   "VALUES (?1, ?2, ?3) ON CONFLICT (clientpo_id) DO UPDATE SET "
                   "equipment = excluded.equipment, linked_at_ms = excluded.linked_at_ms",
    [Q_GET_LINK] = "SELECT equipment FROM clientpo_links WHERE clientpo_id = ?1",
    [Q_ADD_GATE] = "INSERT INTO tests_allowed (clientpo_id, decided_at_ms, equipment) "
                   "VALUES (?1, ?2, ?3)",
    [Q_GATE_CLIENTPO] = "SELECT clientpo_id FROM tests_allowed WHERE id = ?1",
    [Q_ALLOWED_USES] = "SELECT t.id, t.decided_at_ms, j.value FROM tests_allowed t, "
                       "json_each(t.equipment) j ORDER BY t.id",
    [Q_GOOD_CALIBRATION_DAYS] =
        "SELECT c.equipment_id, c.day, max(c.performed_ms) FROM calibrations c JOIN "
        "(SELECT equipment_id, max(day) AS day FROM calibrations WHERE in_tolerance = 1 "
        "AND coalesce(suspect, 0) = 0 GROUP BY equipment_id) g ON c.equipment_id = "
        "g.equipment_id AND c.day = g.day WHERE c.in_tolerance = 1 AND coalesce(c.suspect, 0) = 0 "
        "GROUP BY c.equipment_id",
    [Q_LAST_PASS] = "SELECT max(performed_at_ms) FROM checks WHERE equipment_id = ?1 AND "
                    "procedure_id = ?2 AND passed = 1 AND coalesce(suspect, 0) = 0",
    [Q_ALLOWED_WITH] = "SELECT t.clientpo_id, t.decided_at_ms FROM tests_allowed t, "
                       "json_each(t.equipment) j WHERE j.value = ?1 AND t.decided_at_ms >= ?2 "
                       "ORDER BY t.decided_at_ms, t.id",
    /* The last check that counts per (item, procedure): a pass made with a reference that was
     * not fit is history only (readiness.h). */
    [Q_LOAD_CHECKS] =
        "SELECT equipment_id, procedure_id, performed_at_ms, passed, detail, "
        "coalesce(suspect, 0), readings FROM checks WHERE id IN (SELECT max(id) FROM checks "
        "WHERE passed = 0 OR coalesce(suspect, 0) = 0 OR coalesce(suspect_later, 0) = 1 "
        "GROUP BY equipment_id, procedure_id) ORDER BY equipment_id, procedure_id",
    [Q_ADD_CHECK] = "INSERT INTO checks (equipment_id, procedure_id, performed_at_ms, passed, "
                    "valid_until_ms, detail, technician, reference_instrument, readings, suspect, "
                    "suspect_reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [Q_GET_CONTRACT] = "SELECT version, sha256 FROM contract_versions WHERE contract_id = ?1",
    [Q_CHECKS_WITH_REFERENCE] =
        "SELECT equipment_id, procedure_id, performed_at_ms FROM checks "
        "WHERE reference_instrument = ?1 AND performed_at_ms >= ?2 ORDER BY performed_at_ms, id",
    /* Counted when recorded, made suspect by its reference's finding: it stays the last check,
     * suspect, so the item is not ready on it until the procedure passes again. */
    [Q_MARK_CHECKS_SUSPECT] =
        "UPDATE checks SET suspect = 1, suspect_later = 1, suspect_reason = ?3 "
        "WHERE reference_instrument = ?1 AND performed_at_ms >= ?2 AND coalesce(suspect, 0) = 0",
    [Q_CALIBRATIONS_WITH_REFERENCE] =
        "SELECT equipment_id, certificate_number, calibration_date FROM calibrations "
        "WHERE reference_standard = ?1 AND day >= ?2 ORDER BY day, id",
    [Q_GET_META] = "SELECT value FROM store_meta WHERE key = ?1",
    [Q_PUT_META] = "INSERT OR REPLACE INTO store_meta (key, value) VALUES (?1, ?2)",
    [Q_GET_TEXT_META] = "SELECT value FROM store_text_meta WHERE key = ?1",
    [Q_PUT_TEXT_META] = "INSERT OR REPLACE INTO store_text_meta (key, value) VALUES (?1, ?2)",
    [Q_PUT_CONTRACT] = "INSERT OR REPLACE INTO contract_versions (contract_id, version, sha256, "
                       "file, adopted_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
    /* A suspect calibration that found the item in tolerance proves nothing: not counted. */
    [Q_CALIBRATION_ON] = "SELECT day, calibration_date, in_tolerance FROM calibrations "
                         "WHERE equipment_id = ?1 AND day <= ?2 AND (coalesce(suspect, 0) = 0 "
                         "OR in_tolerance = 0) ORDER BY day DESC, id DESC LIMIT 1",
    [Q_CHECK_AT] = "SELECT performed_at_ms, passed, detail FROM checks WHERE equipment_id = ?1 "
                   "AND procedure_id = ?2 AND performed_at_ms <= ?3 "
                   "ORDER BY performed_at_ms DESC, id DESC LIMIT 1",
    [Q_ADD_UNAVAILABLE] = "INSERT INTO unavailable_periods (equipment_id, kind, since_ms, "
                          "until_ms, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
    [Q_LAST_RESULTS] = "SELECT results FROM calibrations WHERE equipment_id = ?1 "
                       "AND (coalesce(suspect, 0) = 0 OR in_tolerance = 0) "
                       "ORDER BY day DESC, id DESC LIMIT 1",
    [Q_UNAVAILABLE_AT] = "SELECT kind, since_ms, until_ms, reason FROM unavailable_periods "
                         "WHERE equipment_id = ?1 AND since_ms <= ?2 AND until_ms > ?2 "
                         "ORDER BY since_ms DESC, id DESC LIMIT 1",
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS equipment ("
    " equipment_id TEXT PRIMARY KEY, has_calibration INTEGER NOT NULL, calibrated_on INTEGER,"
    " calibration_date TEXT, certificate TEXT, calibration_failed INTEGER NOT NULL,"
    " sent_out INTEGER NOT NULL, out_of_service INTEGER NOT NULL, status TEXT,"
    " last_alert TEXT, last_alert_ms INTEGER, out_of_service_since_ms INTEGER,"
    " out_of_service_reason TEXT, failure_note TEXT, last_verification_ms INTEGER,"
    " sent_out_since_ms INTEGER, out_of_service_procedure TEXT) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS calibrations ("
    " id INTEGER PRIMARY KEY, equipment_id TEXT NOT NULL, calibration_date TEXT NOT NULL,"
    " day INTEGER NOT NULL, certificate_number TEXT NOT NULL, provider TEXT NOT NULL,"
    " technician TEXT, results TEXT, notes TEXT, source TEXT NOT NULL, in_tolerance INTEGER NOT "
    "NULL,"
    " recorded_at_ms INTEGER NOT NULL, reference_standard TEXT);"
    "CREATE INDEX IF NOT EXISTS calibrations_by_item ON calibrations (equipment_id, day);"
    "CREATE INDEX IF NOT EXISTS calibrations_by_certificate"
    " ON calibrations (equipment_id, certificate_number);"
    "CREATE TABLE IF NOT EXISTS clientpo_links ("
    " clientpo_id TEXT PRIMARY KEY, equipment TEXT NOT NULL, linked_at_ms INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS tests_allowed ("
    " id INTEGER PRIMARY KEY, clientpo_id TEXT NOT NULL, decided_at_ms INTEGER NOT NULL,"
    " equipment TEXT NOT NULL);"
    /* Stores written before the per-item view of the allowed tests moved into memory
     * (usage_index.h) hold it as a table; tests_allowed has the same facts. */
    "DROP TABLE IF EXISTS tests_allowed_items;"
    "CREATE TABLE IF NOT EXISTS checks ("
    " id INTEGER PRIMARY KEY, equipment_id TEXT NOT NULL, procedure_id TEXT NOT NULL,"
    " performed_at_ms INTEGER NOT NULL, passed INTEGER NOT NULL, valid_until_ms INTEGER NOT NULL,"
    " detail TEXT, technician TEXT NOT NULL, reference_instrument TEXT, readings TEXT,"
    " suspect INTEGER, suspect_reason TEXT, suspect_later INTEGER);"
    /* By item, procedure and time: the last check of a procedure, and the check in force at
     * an instant (a reference judged at the time it served). It replaces checks_by_item, of
     * which it is a prefix. */
    "DROP INDEX IF EXISTS checks_by_item;"
    "CREATE INDEX IF NOT EXISTS checks_by_item_time"
    " ON checks (equipment_id, procedure_id, performed_at_ms);"
    /* The periods an item was unavailable (out of service, or sent out for calibration), each
     * written when it ends; the one under way is the item's own state. */
    "CREATE TABLE IF NOT EXISTS unavailable_periods ("
    " id INTEGER PRIMARY KEY, equipment_id TEXT NOT NULL, kind TEXT NOT NULL,"
    " since_ms INTEGER NOT NULL, until_ms INTEGER NOT NULL, reason TEXT);"
    "CREATE INDEX IF NOT EXISTS unavailable_by_item"
    " ON unavailable_periods (equipment_id, since_ms);"
    "CREATE TABLE IF NOT EXISTS contract_versions ("
    " contract_id TEXT PRIMARY KEY, version INTEGER NOT NULL, sha256 TEXT NOT NULL,"
    " file TEXT NOT NULL, adopted_at_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS store_meta ("
    " key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    /* Text beside it: store_meta's INTEGER affinity would turn a hash of only digits into a
     * number. */
    "CREATE TABLE IF NOT EXISTS store_text_meta ("
    " key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;";

struct store {
    int lock_fd; /* holds `dir`/lock while the store is open, or -1 */
    sqlite3 *db;
    sqlite3_stmt *stmt[Q_COUNT];
    bool in_transaction;
};

static int db_error(store *s, smart_error *err, const char *what)
{
    return error_set(err, SMART_EIO, "store: %s: %s", what, sqlite3_errmsg(s->db));
}

/* Columns added to a table after stores were first written: a store from before gets them
 * (NULL in its old rows) when it is opened. */
static const struct {
    const char *table, *column, *declaration;
} added_columns[] = {
    {"calibrations", "reference_standard", "TEXT"},
    {"equipment", "sent_out_since_ms", "INTEGER"},
    {"equipment", "out_of_service_procedure", "TEXT"},
    {"checks", "suspect", "INTEGER"},
    {"checks", "suspect_reason", "TEXT"},
    {"calibrations", "performed_ms", "INTEGER"},
    {"calibrations", "suspect", "INTEGER"},
    {"calibrations", "suspect_reason", "TEXT"},
    {"checks", "suspect_later", "INTEGER"},
};

static int add_missing_columns(sqlite3 *db, char **msg)
{
    for (size_t i = 0; i < sizeof added_columns / sizeof added_columns[0]; i++) {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT 1 FROM pragma_table_info('%s') WHERE name = '%s'",
                 added_columns[i].table, added_columns[i].column);
        sqlite3_stmt *st;
        int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK) {
            *msg = sqlite3_mprintf("%s", sqlite3_errmsg(db));
            return rc;
        }
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc == SQLITE_ROW)
            continue;
        snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s", added_columns[i].table,
                 added_columns[i].column, added_columns[i].declaration);
        if ((rc = sqlite3_exec(db, sql, NULL, NULL, msg)) != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

/* The pid the holder wrote into the lock, or 0 when it has not yet. */
static long lock_holder_pid(int fd)
{
    char text[32];
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    if (n <= 0)
        return 0;
    text[n] = '\0';
    char *end;
    long pid = strtol(text, &end, 10);
    return end != text && (*end == '\n' || *end == '\0') && pid > 0 ? pid : 0;
}

/* One writer per data_dir: an exclusive flock on `dir`/lock, dropped by the kernel when the
 * holder exits or crashes (so the file, never removed, cannot block a restart). The holder's
 * pid goes into it for the message of the process refused. */
static int take_lock(store *s, const char *dir, smart_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return error_set(err, SMART_EIO, "data_dir %s: cannot open %s: %s", dir, path,
                         strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int rc;
        if (errno == EWOULDBLOCK) {
            long pid = lock_holder_pid(fd);
            char holder[48] = "another process";
            if (pid > 0)
                snprintf(holder, sizeof holder, "process %ld", pid);
            rc = error_set(err, SMART_EBUSY,
                           "data_dir %s is in use: %s holds %s; one module instance per data_dir",
                           dir, holder, path);
        } else {
            rc = error_set(err, SMART_EIO, "data_dir %s: cannot lock %s: %s", dir, path,
                           strerror(errno));
        }
        close(fd);
        return rc;
    }
    char text[32];
    int len = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)len, 0) != len) {
        int rc = error_set(err, SMART_EIO, "data_dir %s: cannot write %s: %s", dir, path,
                           strerror(errno));
        close(fd);
        return rc;
    }
    s->lock_fd = fd;
    return 0;
}

int store_open(const char *dir, store **out, smart_error *err)
{
    store *s = calloc(1, sizeof *s);
    if (!s)
        return error_set(err, SMART_ENOMEM, "out of memory");
    s->lock_fd = -1;
    int rc = take_lock(s, dir, err);
    if (rc) {
        free(s);
        return rc;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/store.sqlite", dir);
    rc = sqlite3_open_v2(path, &s->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = error_set(err, SMART_EIO, "store %s: cannot open: %s", path,
                       s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        store_close(s);
        return rc;
    }
    sqlite3_busy_timeout(s->db, 2000);
    char *msg = NULL;
    /* Durable (WAL, a sync at every commit). The page cache holds up to 8 MiB, not SQLite's
     * default 2 MiB: links, calibrations and allowed tests only grow, and once they outgrow
     * the cache each write reads back pages it dropped (measured 2026-11-27 with
     * `smart-bench --events 100000`: about 140,000 against 120,000 events/s, peak RSS 43
     * against 36 MiB). */
    /* The schema, and columns added since, in one transaction: all of it or none, and one
     * sync rather than one per table. */
    if (sqlite3_exec(s->db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-8192;",
                     NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(s->db, schema, NULL, NULL, &msg) != SQLITE_OK ||
        add_missing_columns(s->db, &msg) != SQLITE_OK ||
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
        rc = error_set(err, SMART_EIO, "store %s: %s", path, msg ? msg : "setup failed");
        sqlite3_free(msg);
        if (!sqlite3_get_autocommit(s->db))
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        store_close(s);
        return rc;
    }
    for (int i = 0; i < Q_COUNT; i++)
        if (sqlite3_prepare_v3(s->db, statements[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i],
                               NULL) != SQLITE_OK) {
            rc = db_error(s, err, "prepare");
            store_close(s);
            return rc;
        }
    *out = s;
    return 0;
}

void store_close(store *s)
{
    if (!s)
        return;
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    if (s->in_transaction)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(s->db);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* after the database is closed: the next holder finds it whole */
    free(s);
}

/* Runs a statement that returns no rows and resets it. */
static int run(store *s, sqlite3_stmt *stmt, smart_error *err, const char *what)
{
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return rc == SQLITE_DONE ? 0 : db_error(s, err, what);
}

int store_begin(store *s, smart_error *err)
{
    if (s->in_transaction)
        return 0;
    int rc = run(s, s->stmt[Q_BEGIN], err, "begin");
    if (rc == 0)
        s->in_transaction = true;
    return rc;
}

int store_commit(store *s, smart_error *err)
{
    if (!s->in_transaction)
        return 0;
    int rc = run(s, s->stmt[Q_COMMIT], err, "commit");
    s->in_transaction = false; /* a failed COMMIT is not retried: the caller fail-stops */
    return rc;
}

static void bind_text(sqlite3_stmt *st, int i, const char *text)
{
    if (text)
        sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void copy_column(sqlite3_stmt *st, int col, char *out, size_t size)
{
    const unsigned char *text = sqlite3_column_text(st, col);
    snprintf(out, size, "%s", text ? (const char *)text : "");
}

int store_load_equipment(store *s, void (*visit)(void *ctx, const equipment_state *state),
                         void *ctx, smart_error *err)
{
    sqlite3_stmt *st = s->stmt[Q_LOAD_EQUIPMENT];
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        equipment_state e = {0};
        copy_column(st, 0, e.equipment_id, sizeof e.equipment_id);
        e.record.has_calibration = sqlite3_column_int(st, 1) != 0;
        e.record.calibrated_on = sqlite3_column_int(st, 2);
        copy_column(st, 3, e.calibration_date, sizeof e.calibration_date);
        copy_column(st, 4, e.certificate, sizeof e.certificate);
        e.record.calibration_failed = sqlite3_column_int(st, 5) != 0;
        e.record.sent_out = sqlite3_column_int(st, 6) != 0;
        e.record.out_of_service = sqlite3_column_int(st, 7) != 0;
        const unsigned char *status = sqlite3_column_text(st, 8);
        int parsed = status ? cal_status_from_name((const char *)status) : -1;
        e.has_status = parsed >= 0;
        e.status = parsed >= 0 ? (cal_status)parsed : CAL_UNKNOWN;
        copy_column(st, 9, e.last_alert, sizeof e.last_alert);
        e.last_alert_ms = sqlite3_column_int64(st, 10);
        e.out_of_service_since_ms = sqlite3_column_int64(st, 11);
        copy_column(st, 12, e.out_of_service_reason, sizeof e.out_of_service_reason);
        copy_column(st, 13, e.failure_note, sizeof e.failure_note);
        e.last_verification_ms = sqlite3_column_int64(st, 14);
        e.sent_out_since_ms = sqlite3_column_int64(st, 15); /* NULL (a store from before): 0 */
        copy_column(st, 16, e.out_of_service_procedure, sizeof e.out_of_service_procedure);
        visit(ctx, &e);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : db_error(s, err, "load equipment");
}

int store_put_equipment(store *s, const equipment_state *e, smart_error *err)
{
    int rc = store_begin(s, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = s->stmt[Q_PUT_EQUIPMENT];
    bind_text(st, 1, e->equipment_id);
    sqlite3_bind_int(st, 2, e->record.has_calibration);
    sqlite3_bind_int(st, 3, e->record.calibrated_on);
    bind_text(st, 4, e->record.has_calibration ? e->calibration_date : NULL);
    bind_text(st, 5, e->record.has_calibration ? e->certificate : NULL);
    sqlite3_bind_int(st, 6, e->record.calibration_failed);
    sqlite3_bind_int(st, 7, e->record.sent_out);
    sqlite3_bind_int(st, 8, e->record.out_of_service);
    bind_text(st, 9, e->has_status ? cal_status_name(e->status) : NULL);
    bind_text(st, 10, e->last_alert[0] ? e->last_alert : NULL);
    sqlite3_bind_int64(st, 11, e->last_alert_ms);
    sqlite3_bind_int64(st, 12, e->out_of_service_since_ms);
    bind_text(st, 13, e->out_of_service_reason[0] ? e->out_of_service_reason : NULL);
    bind_text(st, 14, e->failure_note[0] ? e->failure_note : NULL);
    sqlite3_bind_int64(st, 15, e->last_verification_ms);
    sqlite3_bind_int64(st, 16, e->sent_out_since_ms);
    bind_text(st, 17, e->out_of_service_procedure[0] ? e->out_of_service_procedure : NULL);
    return run(s, st, err, "save equipment");
}

int store_add_calibration(store *s, const calibration_entry *c, smart_error *err)
{
    int rc = store_begin(s, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = s->stmt[Q_ADD_CALIBRATION];
    bind_text(st, 1, c->equipment_id);
    bind_text(st, 2, c->calibration_date);
    sqlite3_bind_int(st, 3, c->day);
    bind_text(st, 4, c->certificate_number);
    bind_text(st, 5, c->provider);
    bind_text(st, 6, c->technician);
    bind_text(st, 7, c->results_json);
    bind_text(st, 8, c->notes);
    bind_text(st, 9, c->source);
    sqlite3_bind_int64(st, 10, c->recorded_at_ms);
    sqlite3_bind_int(st, 11, !c->out_of_tolerance);
    bind_text(st, 12, c->reference_standard);
    if (c->instant_known)
        sqlite3_bind_int64(st, 13, c->performed_ms);
    else
        sqlite3_bind_null(st, 13);
    sqlite3_bind_int(st, 14, c->suspect);
    bind_text(st, 15, c->suspect_reason);
    return run(s, st, err, "add calibration");
}

int store_checks_with_reference(store *s, const char *reference_id, int64_t since_ms,
                                int (*visit)(void *ctx, const char *equipment_id,
                                             const char *procedure_id, int64_t performed_ms),
                                void *ctx, smart_error *err)
{
    sqlite3_stmt *st = s->stmt[Q_CHECKS_WITH_REFERENCE];
    bind_text(st, 1, reference_id);
    sqlite3_bind_int64(st, 2, since_ms);
    int rc, failed = 0;
    while (!failed && (rc = sqlite3_step(st)) == SQLITE_ROW)
        failed = visit(ctx, (const char *)sqlite3_column_text(st, 0),
                       (const char *)sqlite3_column_text(st, 1), sqlite3_column_int64(st, 2));
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (failed)
        return error_set(err, SMART_ENOMEM, "out of memory");
    return rc == SQLITE_DONE ? 0 : db_error(s, err, "find the checks made with a reference");
}

int store_mark_checks_suspect(store *s, const char *reference_id, int64_t since_ms,
                              const char *reason, smart_error *err)
{
    int rc = store_begin(s, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = s->stmt[Q_MARK_CHECKS_SUSPECT];
    bind_text(st, 1, reference_id);
    sqlite3_bind_int64(st, 2, since_ms);
    bind_text(st, 3, reason);
    return run(s, st, err, "mark the checks made with a reference suspect");
}

int store_calibrations_with_reference(store *s, const char *reference_id, civil_day since_day,
                                      int (*visit)(void *ctx, const char *equipment_id,
                                                   const char *certificate_number,
                                                   const char *calibration_date),
                                      void *ctx, smart_error *err)
{
    sqlite3_stmt *st = s->stmt[Q_CALIBRATIONS_WITH_REFERENCE];
    bind_text(st, 1, reference_id);
    sqlite3_bind_int(st, 2, since_day);
    int rc, failed = 0;
    while (!failed && (rc = sqlite3_step(st)) == SQLITE_ROW)
        failed = visit(ctx, (const char *)sqlite3_column_text(st, 0),
                       (const char *)sqlite3_column_text(st, 1),
                       (const char *)sqlite3_column_text(st, 2));
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (failed)
        return error_set(err, SMART_ENOMEM, "out of memory");
    return rc == SQLITE_DONE ? 0 : db_error(s, err, "find the calibrations made with a reference");
}

int store_put_link(store *s, const char *clientpo_id, const char *equipment_ids,
                   int64_t linked_at_ms, smart_error *err)
{
    int rc = store_begin(s, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = s->stmt[Q_PUT_LINK];
    bind_text(st, 1, clientpo_id);
    bind_text(st, 2, equipment_ids);
    sqlite3_bind_int64(st, 3, linked_at_ms);
    return run(s, st, err, "save link");
}

int store_get_link(store *s, const char *clientpo_id, char **equipment_ids, smart_error *err)
{
    sqlite3_stmt *st = s->stmt[Q_GET_LINK];
    bind_text(st, 1, clientpo_id);
    int rc = sqlite3_step(st);
    *equipment_ids = NULL;
    if (rc == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 0);
        *equipment_ids = strdup(text ? text : "");
        if (!*equipment_ids) {
            sqlite3_reset(st);
            return error_set(err, SMART_ENOMEM, "out of memory");
        }
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : db_error(s, err, "read link");
}

int store_add_allowed_test(store *s, const char *clientpo_id, int64_t decided_at_ms,
                           const char *equipment_json, int64_t *test_id, smart_error *err)
{
    int rc = store_begin(s, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = s->stmt[Q_ADD_GATE];
    bind_text(st, 1, clientpo_id);
    sqlite3_bind_int64(st, 2, decided_at_ms);
    bind_text(st, 3, equipment_json);
    if ((rc = run(s, st, err, "save allowed test")))
        return rc;
    *test_id = sqlite3_last_insert_rowid(s->db);
    return 0;
}

int store_allowed_test_clientpo(store *s, int64_t test_id, char *clientpo_id, size_t size,
                                smart_error *err)
{
    sqlite3_stmt *st = s->stmt[Q_GATE_CLIENTPO];
    sqlite3_bind_int64(st, 1, test_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        copy_column(st, 0, clientpo_id, size);
        rc = SQLITE_DONE;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_NOTFOUND;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_NOTFOUND)
        return error_set(err, SMART_EIO, "store: allowed test %lld is missing", (long long)test_id);
    return rc == SQLITE_DONE ? 0 : db_error(s, err, "find an allowed test");
}

int store_each_allowed_use(store *s,
                           int (*visit)(void *ctx, int64_t test_id, int64_t decided_at_ms,
                                        const char *equipment_id),
                           void *ctx, smart_error *err)
{
    sqlite3_stmt *st = s->stmt[Q_ALLOWED_USES];
    int rc, failed = 0;
    while (!failed && (rc = sqlite3_step(st)) == SQLITE_ROW)
        failed = visit(ctx, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                       (const char *)sqlite3_column_text(st, 2));
    sqlite3_reset(st);
    if (failed)
        return error_set(err, SMART_ENOMEM, "out of memory");
    return rc == SQLITE_DONE ? 0 : db_error(s, err, "read the allowed tests");
}

int store_each_good_calibration_day(store *s,
                                    void (*visit)(void *ctx, const char *equipment_id,
                                                  civil_day day, bool instant_known,
                                                  int64_t performed_ms),
                                    void *ctx, smart_error *err)
{
    sqlite3_stmt *st = s->stmt[Q_GOOD_CALIBRATION_DAYS];
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        visit(ctx, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int(st, 1),
              sqlite3_column_type(st, 2) != SQLITE_NULL, sqlite3_column_int64(st, 2));
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : db_error(s, err, "find the last good calibrations");
}

void store_check_steps_from_json(check_state *c, const char *readings_json)
{
    c->steps_known = false;
    c->step_count = 0;
    json_t *steps = readings_json ? json_loads(readings_json, 0, NULL) : NULL;
    if (!json_is_array(steps)) { /* none kept: the check stands as recorded */
        json_decref(steps);
        return;
    }
    size_t i;
    json_t *r;
    json_array_foreach (steps, i, r) {
        const char *id = json_string_value(json_object_get(r, "step_id"));
        if (!id || c->step_count == CHECK_STEPS_MAX)
            continue;
        check_step_answer *a = &c->steps[c->step_count++];
        memset(a, 0, sizeof *a);
        snprintf(a->step_id, sizeof a->step_id, "%s", id);
        json_t *value = json_object_get(r, "value");
        a->taken = !json_is_false(json_object_get(r, "taken"));
        a->has_value = json_is_number(value);
        a->value = a->has_value ? json_number_value(value) : 0;
        a->attested = json_is_true(json_object_get(r, "attested"));
    }
    json_decref(steps);
    c->steps_known = true;
}

int store_load_checks(store *s, void (*visit)(void *ctx, const check_state *check), void *ctx,
                      smart_error *err)
{
    sqlite3_stmt *st = s->stmt[Q_LOAD_CHECKS];
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        check_state c = {0};
        copy_column(st, 0, c.equipment_id, sizeof c.equipment_id);
        copy_column(st, 1, c.procedure_id, sizeof c.procedure_id);
        c.performed_ms = sqlite3_column_int64(st, 2);
        c.passed = sqlite3_column_int(st, 3) != 0;
        copy_column(st, 4, c.detail, sizeof c.detail);
        c.suspect = sqlite3_column_int(st, 5) != 0;
        store_check_steps_from_json(&c, (const char *)sqlite3_column_text(st, 6));
        visit(ctx, &c);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : db_error(s, err, "load checks");
}

int store_add_check(store *s, const check_state *c, int64_t valid_until_ms, const char *technician,
                    const char *reference_instrument, const char *readings_json,
                    const char *suspect_reason, smart_error *err)
{
    int rc = store_begin(s, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = s->stmt[Q_ADD_CHECK];
    bind_text(st, 1, c->equipment_id);
    bind_text(st, 2, c->procedure_id);
    sqlite3_bind_int64(st, 3, c->performed_ms);
    sqlite3_bind_int(st, 4, c->passed);
    sqlite3_bind_int64(st, 5, valid_until_ms);
    bind_text(st, 6, c->detail[0] ? c->detail : NULL);
    bind_text(st, 7, technician);
    bind_text(st, 8, reference_instrument);
    bind_text(st, 9, readings_json);
    sqlite3_bind_int(st, 10, c->suspect);
    bind_text(st, 11, c->suspect ? suspect_reason : NULL);
    return run(s, st, err, "save check");
}

int store_get_meta(store *s, const char *key, int64_t *value, smart_error *err)
{
    sqlite3_stmt *st = s->stmt[Q_GET_META];
    bind_text(st, 1, key);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        *value = sqlite3_column_int64(st, 0);
        found = 1;
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return db_error(s, err, "read the store's own record");
    return found ? 0 : 1;
}

int store_put_meta(store *s, const char *key, int64_t value, smart_error *err)
{
    int rc = store_begin(s, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = s->stmt[Q_PUT_META];
    bind_text(st, 1, key);
    sqlite3_bind_int64(st, 2, value);
    return run(s, st, err, "save the store's own record");
}

int store_get_text_meta(store *s, const char *key, char *value, size_t size, smart_error *err)
{
    sqlite3_stmt *st = s->stmt[Q_GET_TEXT_META];
    bind_text(st, 1, key);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        copy_column(st, 0, value, size);
        found = 1;
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return db_error(s, err, "read the store's own record");
    return found ? 0 : 1;
}

int store_put_text_meta(store *s, const char *key, const char *value, smart_error *err)
{
    int rc = store_begin(s, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = s->stmt[Q_PUT_TEXT_META];
    bind_text(st, 1, key);
    bind_text(st, 2, value);
    return run(s, st, err, "save the store's own record");
}

int store_get_contract_version(store *s, const char *contract_id, int64_t *version, char sha256[65],
                               smart_error *err)
{
    sqlite3_stmt *st = s->stmt[Q_GET_CONTRACT];
    bind_text(st, 1, contract_id);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int64(st, 0);
        copy_column(st, 1, sha256, 65);
        found = 1;
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return db_error(s, err, "read contract version");
    return found ? 0 : 1;
}

int store_put_contract_version(store *s, const char *contract_id, int64_t version,
                               const char *sha256, const char *file, int64_t now_ms,
                               smart_error *err)
{
    int rc = store_begin(s, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = s->stmt[Q_PUT_CONTRACT];
    bind_text(st, 1, contract_id);
    sqlite3_bind_int64(st, 2, version);
    bind_text(st, 3, sha256);
    bind_text(st, 4, file);
    sqlite3_bind_int64(st, 5, now_ms);
    return run(s, st, err, "save contract version");
}

int store_find_calibration(store *s, const char *equipment_id, const char *certificate_number,
                           char *calibration_date, size_t size, smart_error *err)
{
    sqlite3_stmt *st = s->stmt[Q_FIND_CALIBRATION];
    bind_text(st, 1, equipment_id);
    bind_text(st, 2, certificate_number);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        const unsigned char *date = sqlite3_column_text(st, 0);
        snprintf(calibration_date, size, "%s", date ? (const char *)date : "");
        found = 1;
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return db_error(s, err, "find a calibration by its certificate");
    return found ? 0 : 1;
}

int store_last_good_calibration(store *s, const char *equipment_id, civil_day *day,
                                bool *instant_known, int64_t *performed_ms, smart_error *err)
{
    sqlite3_stmt *st = s->stmt[Q_LAST_GOOD_CALIBRATION];
    bind_text(st, 1, equipment_id);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        found = 1;
        *day = sqlite3_column_int(st, 0);
        *instant_known = sqlite3_column_type(st, 1) != SQLITE_NULL;
        *performed_ms = sqlite3_column_int64(st, 1);
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return db_error(s, err, "find the last good calibration");
    return found ? 0 : 1;
}

int store_calibration_on(store *s, const char *equipment_id, civil_day day, civil_day *cal_day,
                         char *calibration_date, size_t size, bool *in_tolerance, smart_error *err)
{
    sqlite3_stmt *st = s->stmt[Q_CALIBRATION_ON];
    bind_text(st, 1, equipment_id);
    sqlite3_bind_int(st, 2, day);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        *cal_day = sqlite3_column_int(st, 0);
        copy_column(st, 1, calibration_date, size);
        *in_tolerance = sqlite3_column_int(st, 2) != 0;
        found = 1;
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return db_error(s, err, "find the calibration in force on a day");
    return found ? 0 : 1;
}

int store_last_calibration_results(store *s, const char *equipment_id, char **results_json,
                                   smart_error *err)
{
    sqlite3_stmt *st = s->stmt[Q_LAST_RESULTS];
    bind_text(st, 1, equipment_id);
    *results_json = NULL;
    int rc = sqlite3_step(st), out = 0;
    if (rc == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 0);
        if (text && !(*results_json = strdup(text)))
            out = error_set(err, SMART_ENOMEM, "out of memory");
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return db_error(s, err, "find the results of the last calibration");
    return out;
}

int store_check_at(store *s, const char *equipment_id, const char *procedure_id, int64_t at_ms,
                   check_state *check, smart_error *err)
{
    sqlite3_stmt *st = s->stmt[Q_CHECK_AT];
    bind_text(st, 1, equipment_id);
    bind_text(st, 2, procedure_id);
    sqlite3_bind_int64(st, 3, at_ms);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        memset(check, 0, sizeof *check);
        snprintf(check->equipment_id, sizeof check->equipment_id, "%s", equipment_id);
        snprintf(check->procedure_id, sizeof check->procedure_id, "%s", procedure_id);
        check->performed_ms = sqlite3_column_int64(st, 0);
        check->passed = sqlite3_column_int(st, 1) != 0;
        copy_column(st, 2, check->detail, sizeof check->detail);
        found = 1;
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return db_error(s, err, "find the check in force at an instant");
    return found ? 0 : 1;
}

int store_add_unavailable(store *s, const char *equipment_id, const char *kind, int64_t since_ms,
                          int64_t until_ms, const char *reason, smart_error *err)
{
    int rc = store_begin(s, err);
    if (rc)
        return rc;
    sqlite3_stmt *st = s->stmt[Q_ADD_UNAVAILABLE];
    bind_text(st, 1, equipment_id);
    bind_text(st, 2, kind);
    sqlite3_bind_int64(st, 3, since_ms);
    sqlite3_bind_int64(st, 4, until_ms);
    bind_text(st, 5, reason && *reason ? reason : NULL);
    return run(s, st, err, "save an unavailable period");
}

int store_unavailable_at(store *s, const char *equipment_id, int64_t at_ms,
                         unavailable_period *period, smart_error *err)
{
    sqlite3_stmt *st = s->stmt[Q_UNAVAILABLE_AT];
    bind_text(st, 1, equipment_id);
    sqlite3_bind_int64(st, 2, at_ms);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        copy_column(st, 0, period->kind, sizeof period->kind);
        period->since_ms = sqlite3_column_int64(st, 1);
        period->until_ms = sqlite3_column_int64(st, 2);
        copy_column(st, 3, period->reason, sizeof period->reason);
        found = 1;
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return db_error(s, err, "find an unavailable period");
    return found ? 0 : 1;
}

int store_last_pass(store *s, const char *equipment_id, const char *procedure_id,
                    int64_t *performed_ms, smart_error *err)
{
    sqlite3_stmt *st = s->stmt[Q_LAST_PASS];
    bind_text(st, 1, equipment_id);
    bind_text(st, 2, procedure_id);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        found = sqlite3_column_type(st, 0) != SQLITE_NULL;
        *performed_ms = sqlite3_column_int64(st, 0);
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return db_error(s, err, "find the last pass of a procedure");
    return found ? 0 : 1;
}

int store_allowed_tests_with(store *s, const char *equipment_id, int64_t since_ms,
                             int (*visit)(void *ctx, const char *clientpo_id,
                                          int64_t decided_at_ms),
                             void *ctx, smart_error *err)
{
    sqlite3_stmt *st = s->stmt[Q_ALLOWED_WITH];
    bind_text(st, 1, equipment_id);
    sqlite3_bind_int64(st, 2, since_ms);
    int rc, failed = 0;
    while (!failed && (rc = sqlite3_step(st)) == SQLITE_ROW)
        failed = visit(ctx, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1));
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (failed)
        return error_set(err, SMART_ENOMEM, "out of memory");
    return rc == SQLITE_DONE ? 0 : db_error(s, err, "find the tests allowed with an item");
}

/* One row of `sql` (?1 and ?2 bound to text, ?3 where it has one to an integer), copied: its first
 * column as malloc'd text, and, with a second column not NULL, that integer. 0, 1 when no row, or
 * an error. */
static int one_row(store *s, const char *sql, const char *a, const char *b, int64_t c, char **text,
                   bool *has_int, int64_t *value, smart_error *err, const char *what)
{
    sqlite3_stmt *st;
    *text = NULL;
    *has_int = false;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_error(s, err, what);
    bind_text(st, 1, a);
    bind_text(st, 2, b);
    if (sqlite3_bind_parameter_count(st) >= 3)
        sqlite3_bind_int64(st, 3, c);
    int rc = sqlite3_step(st), out = 1;
    if (rc == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        out = 0;
        if (t && !(*text = strdup(t)))
            out = error_set(err, SMART_ENOMEM, "out of memory");
        if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
            *has_int = true;
            *value = sqlite3_column_int64(st, 1);
        }
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(*text);
        *text = NULL;
        return db_error(s, err, what);
    }
    return out;
}

int store_check_record(store *s, const char *equipment_id, const char *procedure_id,
                       int64_t performed_ms, char **readings_json, bool *has_next, int64_t *next_ms,
                       smart_error *err)
{
    static const char sql[] =
        "SELECT c.readings, (SELECT min(n.performed_at_ms) FROM checks n WHERE "
        "n.equipment_id = ?1 AND n.procedure_id = ?2 AND n.performed_at_ms > ?3) FROM checks c "
        "WHERE c.equipment_id = ?1 AND c.procedure_id = ?2 AND c.performed_at_ms = ?3 "
        "ORDER BY c.id DESC LIMIT 1";
    return one_row(s, sql, equipment_id, procedure_id, performed_ms, readings_json, has_next,
                   next_ms, err, "find a check resting on a reference");
}

int store_calibration_record(store *s, const char *equipment_id, const char *certificate_number,
                             char **results_json, bool *has_next, int64_t *next_ms,
                             smart_error *err)
{
    static const char sql[] =
        "SELECT c.results, (SELECT min(n.recorded_at_ms) FROM calibrations n WHERE "
        "n.equipment_id = ?1 AND n.id > c.id AND n.day >= c.day) FROM calibrations c "
        "WHERE c.equipment_id = ?1 AND c.certificate_number = ?2 ORDER BY c.id DESC LIMIT 1";
    return one_row(s, sql, equipment_id, certificate_number, 0, results_json, has_next, next_ms,
                   err, "find a calibration resting on a reference");
}

int store_set_check_detail(store *s, const char *equipment_id, const char *procedure_id,
                           int64_t performed_ms, const char *detail, smart_error *err)
{
    int rc = store_begin(s, err);
    if (rc)
        return rc;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "UPDATE checks SET detail = ?4 WHERE equipment_id = ?1 AND "
                           "procedure_id = ?2 AND performed_at_ms = ?3",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(s, err, "note a check's re-judgement");
    bind_text(st, 1, equipment_id);
    bind_text(st, 2, procedure_id);
    sqlite3_bind_int64(st, 3, performed_ms);
    bind_text(st, 4, detail);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_error(s, err, "note a check's re-judgement");
}

int store_mark_checks_suspect_between(store *s, const char *reference_id, int64_t since_ms,
                                      int64_t until_ms, const char *reason, smart_error *err)
{
    int rc = store_begin(s, err);
    if (rc)
        return rc;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "UPDATE checks SET suspect = 1, suspect_later = 1, suspect_reason = ?3 "
                           "WHERE reference_instrument = ?1 AND performed_at_ms >= ?2 AND "
                           "performed_at_ms < ?4 AND coalesce(suspect, 0) = 0",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(s, err, "mark the checks made with a reference suspect");
    bind_text(st, 1, reference_id);
    sqlite3_bind_int64(st, 2, since_ms);
    bind_text(st, 3, reason);
    sqlite3_bind_int64(st, 4, until_ms);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0
                             : db_error(s, err, "mark the checks made with a reference suspect");
}

/* The adopted set's files: rarely written (an adoption) and read once (a refused start), so
 * their table and statements are made where used rather than kept prepared. */
static const char adopted_schema[] =
    "CREATE TABLE IF NOT EXISTS adopted_files ("
    " file TEXT PRIMARY KEY, sha256 TEXT NOT NULL, content BLOB NOT NULL,"
    " adopted_at_ms INTEGER NOT NULL) WITHOUT ROWID";

int store_put_adopted_files(store *s, const char *const *files, const char *const *sha256,
                            const char *const *texts, const size_t *lens, size_t count,
                            int64_t now_ms, smart_error *err)
{
    int rc = store_begin(s, err);
    if (rc)
        return rc;
    if (sqlite3_exec(s->db, adopted_schema, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, "DELETE FROM adopted_files", NULL, NULL, NULL) != SQLITE_OK)
        return db_error(s, err, "save the adopted contract files");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO adopted_files (file, sha256, content, adopted_at_ms) "
                           "VALUES (?1, ?2, ?3, ?4)",
                           -1, &st, NULL) != SQLITE_OK)
        return db_error(s, err, "save the adopted contract files");
    for (size_t i = 0; rc == 0 && i < count; i++) {
        bind_text(st, 1, files[i]);
        bind_text(st, 2, sha256[i]);
        sqlite3_bind_blob64(st, 3, texts[i], lens[i], SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now_ms);
        rc = run(s, st, err, "save the adopted contract files");
    }
    sqlite3_finalize(st);
    return rc;
}

int store_load_adopted_files(store *s,
                             int (*visit)(void *ctx, const char *file, const char *sha256,
                                          const char *text, size_t len),
                             void *ctx, smart_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        s->db, "SELECT file, sha256, content FROM adopted_files ORDER BY file", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        /* A store that never adopted a set since it kept them has no such table. */
        sqlite3_finalize(st);
        return strstr(sqlite3_errmsg(s->db), "no such table") ? 0
                                                              : db_error(s, err,
                                                                         "read the "
                                                                         "adopted contract "
                                                                         "files");
    }
    int result = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *blob = sqlite3_column_blob(st, 2);
        size_t len = (size_t)sqlite3_column_bytes(st, 2);
        if ((result = visit(ctx, (const char *)sqlite3_column_text(st, 0),
                            (const char *)sqlite3_column_text(st, 1), blob ? blob : "", len)))
            break;
    }
    if (!result && rc != SQLITE_DONE)
        result = db_error(s, err, "read the adopted contract files");
    sqlite3_finalize(st);
    return result;
}
