/* store.c — the module's SQLite store: schema, prepared statements, one lazily opened
 * transaction per batch; see store.h. */
#include "store/store.h"

#include "error.h"
#include "lock_file.h"
#include "store/kept_files.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    Q_ADD_USES,
    Q_CHECK_RECORD,
    Q_CALIBRATION_RECORD,
    Q_SET_CHECK_DETAIL,
    Q_MARK_CHECKS_SUSPECT_BETWEEN,
    Q_PUT_EQUIPMENT_ROWS,   /* Q_PUT_EQUIPMENT's, ROWS_PER_WRITE rows at once (made at open) */
    Q_ADD_CALIBRATION_ROWS, /* Q_ADD_CALIBRATION's, ROWS_PER_WRITE rows at once */
    Q_COUNT
};

/* The rows one statement of store_put_equipment_rows or store_add_calibrations writes: each
 * statement costs about as much again as the row it writes (measured 2026-12-03, 90,000 rows
 * of the equipment table: 0.234 s one a statement, 0.148 s 32 a statement). */
enum { ROWS_PER_WRITE = 32 };

/* The single-row statement each many-row one repeats the VALUES of. */
static const int rows_of[Q_COUNT] = {
    [Q_PUT_EQUIPMENT_ROWS] = Q_PUT_EQUIPMENT,
    [Q_ADD_CALIBRATION_ROWS] = Q_ADD_CALIBRATION,
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
    [Q_LAST_PASS] = "SELECT max(performed_at_ms) FROM checks WHERE equipment_id = ?1 AND "
                    "procedure_id = ?2 AND passed = 1 AND coalesce(suspect, 0) = 0",
    /* By allowed_uses' key: the item's uses in time order, whatever the history's size. */
    [Q_ALLOWED_WITH] = "SELECT t.clientpo_id, u.decided_at_ms FROM allowed_uses u JOIN "
                       "tests_allowed t ON t.id = u.test_id WHERE u.equipment_id = ?1 AND "
                       "u.decided_at_ms >= ?2 ORDER BY u.decided_at_ms, u.test_id",
    [Q_ADD_USES] = "INSERT OR IGNORE INTO allowed_uses (equipment_id, decided_at_ms, test_id) "
                   "SELECT value, ?2, ?1 FROM json_each(?3)",
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
    /* As Q_LOAD_CHECKS counts them: a pass suspect when recorded is history only; one made
     * suspect since stays, suspect, and counts as not done (readiness.h). */
    [Q_CHECK_AT] = "SELECT performed_at_ms, passed, detail, coalesce(suspect, 0) FROM checks "
                   "WHERE equipment_id = ?1 AND procedure_id = ?2 AND performed_at_ms <= ?3 "
                   "AND (passed = 0 OR coalesce(suspect, 0) = 0 OR "
                   "coalesce(suspect_later, 0) = 1) "
                   "ORDER BY performed_at_ms DESC, id DESC LIMIT 1",
    [Q_ADD_UNAVAILABLE] = "INSERT INTO unavailable_periods (equipment_id, kind, since_ms, "
                          "until_ms, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
    [Q_LAST_RESULTS] = "SELECT results FROM calibrations WHERE equipment_id = ?1 "
                       "AND (coalesce(suspect, 0) = 0 OR in_tolerance = 0) "
                       "ORDER BY day DESC, id DESC LIMIT 1",
    [Q_UNAVAILABLE_AT] = "SELECT kind, since_ms, until_ms, reason FROM unavailable_periods "
                         "WHERE equipment_id = ?1 AND since_ms <= ?2 AND until_ms > ?2 "
                         "ORDER BY since_ms DESC, id DESC LIMIT 1",
    /* What the review of a reference's finding reads of one record resting on it (store.h). */
    [Q_CHECK_RECORD] =
        "SELECT c.readings, (SELECT min(n.performed_at_ms) FROM checks n WHERE "
        "n.equipment_id = ?1 AND n.procedure_id = ?2 AND n.performed_at_ms > ?3) FROM checks c "
        "WHERE c.equipment_id = ?1 AND c.procedure_id = ?2 AND c.performed_at_ms = ?3 "
        "ORDER BY c.id DESC LIMIT 1",
    [Q_CALIBRATION_RECORD] =
        "SELECT c.results, (SELECT min(n.recorded_at_ms) FROM calibrations n WHERE "
        "n.equipment_id = ?1 AND n.id > c.id AND n.day >= c.day) FROM calibrations c "
        "WHERE c.equipment_id = ?1 AND c.certificate_number = ?2 ORDER BY c.id DESC LIMIT 1",
    [Q_SET_CHECK_DETAIL] = "UPDATE checks SET detail = ?4 WHERE equipment_id = ?1 AND "
                           "procedure_id = ?2 AND performed_at_ms = ?3",
    [Q_MARK_CHECKS_SUSPECT_BETWEEN] =
        "UPDATE checks SET suspect = 1, suspect_later = 1, suspect_reason = ?3 "
        "WHERE reference_instrument = ?1 AND performed_at_ms >= ?2 AND "
        "performed_at_ms < ?4 AND coalesce(suspect, 0) = 0",
};

/* What each statement does, for the error that names it. */
static const char *const query_names[Q_COUNT] = {
    [Q_BEGIN] = "begin",
    [Q_COMMIT] = "commit",
    [Q_LOAD_EQUIPMENT] = "load equipment",
    [Q_PUT_EQUIPMENT] = "save equipment",
    [Q_ADD_CALIBRATION] = "add calibration",
    [Q_LAST_GOOD_CALIBRATION] = "find the last good calibration",
    [Q_FIND_CALIBRATION] = "find a calibration by its certificate",
    [Q_PUT_LINK] = "save link",
    [Q_GET_LINK] = "read link",
    [Q_ADD_GATE] = "save allowed test",
    [Q_LOAD_CHECKS] = "load checks",
    [Q_ADD_CHECK] = "save check",
    [Q_GET_CONTRACT] = "read contract version",
    [Q_CHECKS_WITH_REFERENCE] = "find the checks made with a reference",
    [Q_MARK_CHECKS_SUSPECT] = "mark the checks made with a reference suspect",
    [Q_CALIBRATIONS_WITH_REFERENCE] = "find the calibrations made with a reference",
    [Q_PUT_CONTRACT] = "save contract version",
    [Q_GET_META] = "read the store's own record",
    [Q_PUT_META] = "save the store's own record",
    [Q_GET_TEXT_META] = "read the store's own record",
    [Q_PUT_TEXT_META] = "save the store's own record",
    [Q_CALIBRATION_ON] = "find the calibration in force on a day",
    [Q_CHECK_AT] = "find the check in force at an instant",
    [Q_ADD_UNAVAILABLE] = "save an unavailable period",
    [Q_UNAVAILABLE_AT] = "find an unavailable period",
    [Q_LAST_RESULTS] = "find the results of the last calibration",
    [Q_LAST_PASS] = "find the last pass of a procedure",
    [Q_ALLOWED_WITH] = "find the tests allowed with an item",
    [Q_ADD_USES] = "save the items of an allowed test",
    [Q_CHECK_RECORD] = "find a check resting on a reference",
    [Q_CALIBRATION_RECORD] = "find a calibration resting on a reference",
    [Q_SET_CHECK_DETAIL] = "note a check's re-judgement",
    [Q_MARK_CHECKS_SUSPECT_BETWEEN] = "mark the checks made with a reference suspect",
    [Q_PUT_EQUIPMENT_ROWS] = "save equipment",
    [Q_ADD_CALIBRATION_ROWS] = "add calibration",
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
    /* An older per-item table of the allowed tests, in stores from before; allowed_uses
     * (migrations) holds the same facts. */
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
    bool kept_sweep_due;      /* the transaction wrote the set kept (store_put_adopted_files) */
    kept_writer *kept_ahead;  /* writing the kept files (store_keep_files_ahead), or NULL */
    bool kept_renamed;        /* it renamed a file into place, whose name is not yet synced */
    char kept_dir[4096 + 32]; /* `dir`/KEPT_DIR_NAME */
};

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

/* The schema's versions since the store kept one (PRAGMA user_version): migrations[v] takes a
 * store at version v to v + 1. They run at open, after the columns added above, in the open's
 * transaction; a new store runs them all on its empty tables. */
static const char *const migrations[] = {
    /* 1: the per-event lookups by index, whatever the history's size: what was verified with a
     * reference (calibrations and checks by the reference they name), and the tests allowed
     * with each item (filled here from tests_allowed; store_add_allowed_test keeps it). */
    "CREATE INDEX IF NOT EXISTS calibrations_by_reference"
    " ON calibrations (reference_standard, day);"
    "CREATE INDEX IF NOT EXISTS checks_by_reference"
    " ON checks (reference_instrument, performed_at_ms);"
    "CREATE TABLE IF NOT EXISTS allowed_uses ("
    " equipment_id TEXT NOT NULL, decided_at_ms INTEGER NOT NULL, test_id INTEGER NOT NULL,"
    " PRIMARY KEY (equipment_id, decided_at_ms, test_id)) WITHOUT ROWID;"
    "INSERT OR IGNORE INTO allowed_uses (equipment_id, decided_at_ms, test_id)"
    " SELECT j.value, t.decided_at_ms, t.id FROM tests_allowed t, json_each(t.equipment) j;",
    /* 2: the reference indexes hold only the records that name a reference, the only ones a
     * look-up by reference can find (`reference = ?` implies NOT NULL, so SQLite still plans
     * it as a search of the index): a contract's baseline calibrations and the checks made
     * without a reference add no entry to them. */
    "DROP INDEX IF EXISTS calibrations_by_reference;"
    "CREATE INDEX calibrations_by_reference ON calibrations (reference_standard, day)"
    " WHERE reference_standard IS NOT NULL;"
    "DROP INDEX IF EXISTS checks_by_reference;"
    "CREATE INDEX checks_by_reference ON checks (reference_instrument, performed_at_ms)"
    " WHERE reference_instrument IS NOT NULL;",
};

static int migrate(sqlite3 *db, char **msg)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        *msg = sqlite3_mprintf("%s", sqlite3_errmsg(db));
        return rc;
    }
    int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    int count = (int)(sizeof migrations / sizeof migrations[0]);
    for (int v = version < 0 ? 0 : version; v < count; v++) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
        if ((rc = sqlite3_exec(db, migrations[v], NULL, NULL, msg)) != SQLITE_OK ||
            (rc = sqlite3_exec(db, sql, NULL, NULL, msg)) != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

/* One writer per data_dir: an exclusive flock on `dir`/lock (lock/lock_file.h), which holds the
 * holder's pid for the message of the process refused. */
static int take_lock(store *s, const char *dir, smart_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/lock", dir);
    long pid;
    lock_file_step step;
    int fd = lock_file_take(path, &pid, &step);
    if (fd == LOCK_FILE_BUSY) {
        char holder[48] = "another process";
        if (pid > 0)
            snprintf(holder, sizeof holder, "process %ld", pid);
        return error_set(err, SMART_EBUSY,
                         "data_dir %s is in use: %s holds %s; one module instance per data_dir",
                         dir, holder, path);
    }
    if (fd < 0)
        return error_set(err, SMART_EIO, "data_dir %s: cannot %s %s: %s", dir,
                         step == LOCK_FILE_OPEN   ? "open"
                         : step == LOCK_FILE_LOCK ? "lock"
                                                  : "write",
                         path, strerror(-fd));
    s->lock_fd = fd;
    return 0;
}

/* The text of a many-row statement: its single-row statement with the VALUES list repeated
 * ROWS_PER_WRITE times, parameters numbered on (malloc'd, or NULL when out of memory). */
static char *rows_statement(const char *single)
{
    const char *values = strstr(single, "VALUES (");
    size_t head = (size_t)(values - single) + strlen("VALUES "), params = 0;
    for (const char *c = values; *c; c++)
        params += *c == '?';
    size_t size = head + ROWS_PER_WRITE * params * 8 + 1;
    char *text = malloc(size);
    if (!text)
        return NULL;
    memcpy(text, single, head);
    size_t at = head;
    for (size_t row = 0; row < ROWS_PER_WRITE; row++)
        for (size_t p = 1; p <= params; p++)
            at += (size_t)snprintf(text + at, size - at, "%s?%zu%s",
                                   p == 1 ? (row ? ",(" : "(") : ", ", row * params + p,
                                   p == params ? ")" : "");
    return text;
}

static int prepare(store *s, int q)
{
    char *made = rows_of[q] ? rows_statement(statements[rows_of[q]]) : NULL;
    if (rows_of[q] && !made)
        return SQLITE_NOMEM;
    int rc = sqlite3_prepare_v3(s->db, made ? made : statements[q], -1, SQLITE_PREPARE_PERSISTENT,
                                &s->stmt[q], NULL);
    free(made);
    return rc;
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
    snprintf(s->kept_dir, sizeof s->kept_dir, "%s/%s", dir, KEPT_DIR_NAME);
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
        add_missing_columns(s->db, &msg) != SQLITE_OK || migrate(s->db, &msg) != SQLITE_OK ||
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
        rc = error_set(err, SMART_EIO, "store %s: %s", path, msg ? msg : "setup failed");
        sqlite3_free(msg);
        if (!sqlite3_get_autocommit(s->db))
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        store_close(s);
        return rc;
    }
    for (int i = 0; i < Q_COUNT; i++)
        if (prepare(s, i) != SQLITE_OK) {
            rc = error_set(err, SMART_EIO, "store: prepare %s: %s", query_names[i],
                           sqlite3_errmsg(s->db));
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
    store_keep_files_wait(s); /* what it made is swept by a later adoption */
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    if (s->in_transaction)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(s->db);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* after the database is closed: the next holder finds it whole */
    free(s);
}

/* Every statement is used the same way: bind (one letter per parameter, in order: 't' text,
 * NULL binding NULL; 'i' an int; 'I' an int64_t; or by bind_equipment and bind_calibration),
 * step, read the row, reset. The error a failed step returns names the statement
 * (query_names). */

static void bind_text(sqlite3_stmt *st, int i, const char *text)
{
    if (text)
        sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void bind_va(sqlite3_stmt *st, const char *types, va_list ap)
{
    for (int i = 1; types[i - 1]; i++)
        switch (types[i - 1]) {
        case 't': bind_text(st, i, va_arg(ap, const char *)); break;
        case 'i': sqlite3_bind_int(st, i, va_arg(ap, int)); break;
        default: sqlite3_bind_int64(st, i, va_arg(ap, int64_t)); break;
        }
}

/* Steps statement q once: 1 with a row to read, 0 when it has no more, or SMART_EIO. */
static int step(store *s, int q, smart_error *err)
{
    int rc = sqlite3_step(s->stmt[q]);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return error_set(err, SMART_EIO, "store: %s: %s", query_names[q], sqlite3_errmsg(s->db));
}

/* Binds statement q's parameters and steps it once (as step); finish(s, q) ends its use. */
static int query(store *s, int q, smart_error *err, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    bind_va(s->stmt[q], types, ap);
    va_end(ap);
    return step(s, q, err);
}

/* Ends a use of statement q: reset, parameters cleared (no borrowed text outlives the call).
 * Returns rc. */
static int finish(store *s, int q, int rc)
{
    sqlite3_reset(s->stmt[q]);
    sqlite3_clear_bindings(s->stmt[q]);
    return rc;
}

/* A lookup's answer from its step: 0 found, 1 none, or the error. */
static int found(int rc)
{
    return rc < 0 ? rc : rc == 1 ? 0 : 1;
}

/* The end of a visit from its last step: 0, SMART_ENOMEM when visit said so, or the error. */
static int visited(int rc, int failed, smart_error *err)
{
    if (failed)
        return error_set(err, SMART_ENOMEM, "out of memory");
    return rc;
}

/* Runs statement q, which returns no rows, in the batch transaction (opened if need be). */
static int run(store *s, int q, smart_error *err, const char *types, ...)
{
    int rc = store_begin(s, err);
    if (rc)
        return rc;
    va_list ap;
    va_start(ap, types);
    bind_va(s->stmt[q], types, ap);
    va_end(ap);
    rc = step(s, q, err);
    return finish(s, q, rc < 0 ? rc : 0);
}

int store_begin(store *s, smart_error *err)
{
    if (s->in_transaction)
        return 0;
    int rc = finish(s, Q_BEGIN, step(s, Q_BEGIN, err));
    if (rc == 0)
        s->in_transaction = true;
    return rc;
}

static void sweep_kept(store *s);

int store_commit(store *s, smart_error *err)
{
    if (!s->in_transaction)
        return 0;
    int rc = finish(s, Q_COMMIT, step(s, Q_COMMIT, err));
    s->in_transaction = false; /* a failed COMMIT is not retried: the caller fail-stops */
    if (rc == 0 && s->kept_sweep_due)
        sweep_kept(s); /* the set committed no longer names them: old kept files go */
    s->kept_sweep_due = false;
    return rc;
}

/* The calibrations' indexes, as the schema and migrations 1 and 2 make them: dropped for a bulk
 * load and made again after it in one sorted pass each (store_bulk_calibrations_end). */
static const char calibration_indexes[] =
    "CREATE INDEX IF NOT EXISTS calibrations_by_item ON calibrations (equipment_id, day);"
    "CREATE INDEX IF NOT EXISTS calibrations_by_certificate"
    " ON calibrations (equipment_id, certificate_number);"
    "CREATE INDEX IF NOT EXISTS calibrations_by_reference"
    " ON calibrations (reference_standard, day) WHERE reference_standard IS NOT NULL;";

int store_bulk_calibrations_begin(store *s, size_t adding, bool *bulk, smart_error *err)
{
    *bulk = false;
    int rc = store_begin(s, err);
    if (rc)
        return rc;
    /* Worth it when the rows added outnumber those stored: each index is then built once from
     * a sort instead of one B-tree descent per row and index (a new station's first adoption,
     * every item's baseline calibration). */
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM (SELECT 1 FROM calibrations LIMIT ?1)", -1,
                           &st, NULL) != SQLITE_OK)
        return error_set(err, SMART_EIO, "store: count the calibrations: %s",
                         sqlite3_errmsg(s->db));
    sqlite3_bind_int64(st, 1, (sqlite3_int64)adding);
    int step_rc = sqlite3_step(st);
    int64_t stored = step_rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    if (stored < 0)
        return error_set(err, SMART_EIO, "store: count the calibrations: %s",
                         sqlite3_errmsg(s->db));
    if (adding < 1000 || (size_t)stored >= adding)
        return 0;
    char *msg = NULL;
    if (sqlite3_exec(s->db,
                     "DROP INDEX calibrations_by_item; DROP INDEX calibrations_by_certificate;"
                     " DROP INDEX calibrations_by_reference;",
                     NULL, NULL, &msg) != SQLITE_OK) {
        rc = error_set(err, SMART_EIO, "store: drop the calibrations' indexes: %s",
                       msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return rc;
    }
    *bulk = true;
    return 0;
}

int store_has_calibrations(store *s, bool *any, smart_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM calibrations LIMIT 1", -1, &st, NULL) != SQLITE_OK)
        return error_set(err, SMART_EIO, "store: look for a calibration: %s",
                         sqlite3_errmsg(s->db));
    int step_rc = sqlite3_step(st);
    sqlite3_finalize(st);
    *any = step_rc == SQLITE_ROW;
    return step_rc == SQLITE_ROW || step_rc == SQLITE_DONE
               ? 0
               : error_set(err, SMART_EIO, "store: look for a calibration: %s",
                           sqlite3_errmsg(s->db));
}

int store_bulk_calibrations_end(store *s, smart_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, calibration_indexes, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = error_set(err, SMART_EIO, "store: make the calibrations' indexes: %s",
                           msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

static void copy_column(sqlite3_stmt *st, int col, char *out, size_t size)
{
    const unsigned char *text = sqlite3_column_text(st, col);
    snprintf(out, size, "%s", text ? (const char *)text : "");
}

/* The text of a column as a malloc'd copy into *out (NULL for NULL): 0 or SMART_ENOMEM. */
static int dup_column(sqlite3_stmt *st, int col, char **out, smart_error *err)
{
    const char *text = (const char *)sqlite3_column_text(st, col);
    *out = NULL;
    if (text && !(*out = strdup(text)))
        return error_set(err, SMART_ENOMEM, "out of memory");
    return 0;
}

int store_load_equipment(store *s, void (*visit)(void *ctx, const equipment_state *state),
                         void *ctx, smart_error *err)
{
    sqlite3_stmt *st = s->stmt[Q_LOAD_EQUIPMENT];
    int rc;
    /* The record's texts, cut as the fixed fields cut them: the visitor's for the call. */
    char date[DATE_TEXT_MAX], certificate[CERTIFICATE_MAX], last_alert[ALERT_TYPE_MAX];
    char reason[NOTE_MAX], note[NOTE_MAX], procedure[PROCEDURE_ID_MAX];
    for (rc = step(s, Q_LOAD_EQUIPMENT, err); rc == 1; rc = step(s, Q_LOAD_EQUIPMENT, err)) {
        equipment_state e;
        equipment_state_clear(&e);
        copy_column(st, 0, e.equipment_id, sizeof e.equipment_id);
        e.record.has_calibration = sqlite3_column_int(st, 1) != 0;
        e.record.calibrated_on = sqlite3_column_int(st, 2);
        copy_column(st, 3, date, sizeof date);
        copy_column(st, 4, certificate, sizeof certificate);
        e.record.calibration_failed = sqlite3_column_int(st, 5) != 0;
        e.record.sent_out = sqlite3_column_int(st, 6) != 0;
        e.record.out_of_service = sqlite3_column_int(st, 7) != 0;
        const unsigned char *status = sqlite3_column_text(st, 8);
        int parsed = status ? cal_status_from_name((const char *)status) : -1;
        e.has_status = parsed >= 0;
        e.status = parsed >= 0 ? (cal_status)parsed : CAL_UNKNOWN;
        copy_column(st, 9, last_alert, sizeof last_alert);
        e.last_alert_ms = sqlite3_column_int64(st, 10);
        e.out_of_service_since_ms = sqlite3_column_int64(st, 11);
        copy_column(st, 12, reason, sizeof reason);
        copy_column(st, 13, note, sizeof note);
        e.last_verification_ms = sqlite3_column_int64(st, 14);
        e.sent_out_since_ms = sqlite3_column_int64(st, 15); /* NULL (a store from before): 0 */
        copy_column(st, 16, procedure, sizeof procedure);
        e.calibration_date = date;
        e.certificate = certificate;
        e.last_alert = last_alert;
        e.out_of_service_reason = reason;
        e.failure_note = note;
        e.out_of_service_procedure = procedure;
        visit(ctx, &e);
    }
    return finish(s, Q_LOAD_EQUIPMENT, rc);
}

/* The parameters of one row of Q_PUT_EQUIPMENT (from `first`, numbered as there). */
static void bind_equipment(sqlite3_stmt *st, int first, const equipment_state *e)
{
    bool cal = e->record.has_calibration;
    int at = first;
    bind_text(st, at++, e->equipment_id);
    sqlite3_bind_int(st, at++, (int)cal);
    sqlite3_bind_int(st, at++, (int)e->record.calibrated_on);
    bind_text(st, at++, cal ? e->calibration_date : NULL);
    bind_text(st, at++, cal ? e->certificate : NULL);
    sqlite3_bind_int(st, at++, (int)e->record.calibration_failed);
    sqlite3_bind_int(st, at++, (int)e->record.sent_out);
    sqlite3_bind_int(st, at++, (int)e->record.out_of_service);
    bind_text(st, at++, e->has_status ? cal_status_name(e->status) : NULL);
    bind_text(st, at++, e->last_alert[0] ? e->last_alert : NULL);
    sqlite3_bind_int64(st, at++, (int64_t)e->last_alert_ms);
    sqlite3_bind_int64(st, at++, (int64_t)e->out_of_service_since_ms);
    bind_text(st, at++, e->out_of_service_reason[0] ? e->out_of_service_reason : NULL);
    bind_text(st, at++, e->failure_note[0] ? e->failure_note : NULL);
    sqlite3_bind_int64(st, at++, (int64_t)e->last_verification_ms);
    sqlite3_bind_int64(st, at++, (int64_t)e->sent_out_since_ms);
    bind_text(st, at, e->out_of_service_procedure[0] ? e->out_of_service_procedure : NULL);
}

/* The parameters of one row of Q_ADD_CALIBRATION (from `first`, numbered as there). */
static void bind_calibration(sqlite3_stmt *st, int first, const calibration_entry *c)
{
    int at = first;
    bind_text(st, at++, c->equipment_id);
    bind_text(st, at++, c->calibration_date);
    sqlite3_bind_int(st, at++, (int)c->day);
    bind_text(st, at++, c->certificate_number);
    bind_text(st, at++, c->provider);
    bind_text(st, at++, c->technician);
    bind_text(st, at++, c->results_json);
    bind_text(st, at++, c->notes);
    bind_text(st, at++, c->source);
    sqlite3_bind_int64(st, at++, (int64_t)c->recorded_at_ms);
    sqlite3_bind_int(st, at++, (int)!c->out_of_tolerance);
    bind_text(st, at++, c->reference_standard);
    if (c->instant_known)
        sqlite3_bind_int64(st, at++, (int64_t)c->performed_ms);
    else
        sqlite3_bind_null(st, at++);
    sqlite3_bind_int(st, at++, (int)c->suspect);
    bind_text(st, at, c->suspect_reason);
}

enum { EQUIPMENT_COLUMNS = 17, CALIBRATION_COLUMNS = 15 };

/* Writes rows [0, count) of `rows` with statement `one` (a row a statement) and `many`
 * (ROWS_PER_WRITE a statement, `columns` parameters a row), binding row i with bind(st,
 * first, row i). 0 or SMART_EIO. */
static int write_rows(store *s, int one, int many, int columns, size_t count,
                      void (*bind)(sqlite3_stmt *st, int first, const void *rows, size_t i),
                      const void *rows, smart_error *err)
{
    int rc = store_begin(s, err);
    size_t i = 0;
    for (; rc == 0 && count - i >= ROWS_PER_WRITE; i += ROWS_PER_WRITE) {
        for (size_t r = 0; r < ROWS_PER_WRITE; r++)
            bind(s->stmt[many], 1 + (int)r * columns, rows, i + r);
        rc = step(s, many, err);
        rc = finish(s, many, rc < 0 ? rc : 0);
    }
    for (; rc == 0 && i < count; i++) {
        bind(s->stmt[one], 1, rows, i);
        rc = step(s, one, err);
        rc = finish(s, one, rc < 0 ? rc : 0);
    }
    return rc;
}

static void bind_equipment_row(sqlite3_stmt *st, int first, const void *rows, size_t i)
{
    bind_equipment(st, first, ((const equipment_state *const *)rows)[i]);
}

static void bind_calibration_row(sqlite3_stmt *st, int first, const void *rows, size_t i)
{
    bind_calibration(st, first, &((const calibration_entry *)rows)[i]);
}

int store_put_equipment(store *s, const equipment_state *e, smart_error *err)
{
    return store_put_equipment_rows(s, &e, 1, err);
}

int store_put_equipment_rows(store *s, const equipment_state *const *states, size_t count,
                             smart_error *err)
{
    return write_rows(s, Q_PUT_EQUIPMENT, Q_PUT_EQUIPMENT_ROWS, EQUIPMENT_COLUMNS, count,
                      bind_equipment_row, states, err);
}

int store_add_calibration(store *s, const calibration_entry *c, smart_error *err)
{
    return store_add_calibrations(s, c, 1, err);
}

int store_add_calibrations(store *s, const calibration_entry *entries, size_t count,
                           smart_error *err)
{
    return write_rows(s, Q_ADD_CALIBRATION, Q_ADD_CALIBRATION_ROWS, CALIBRATION_COLUMNS, count,
                      bind_calibration_row, entries, err);
}

int store_checks_with_reference(store *s, const char *reference_id, int64_t since_ms,
                                int (*visit)(void *ctx, const char *equipment_id,
                                             const char *procedure_id, int64_t performed_ms),
                                void *ctx, smart_error *err)
{
    const int q = Q_CHECKS_WITH_REFERENCE;
    sqlite3_stmt *st = s->stmt[q];
    int rc, failed = 0;
    for (rc = query(s, q, err, "tI", reference_id, since_ms); !failed && rc == 1;
         rc = failed ? rc : step(s, q, err))
        failed = visit(ctx, (const char *)sqlite3_column_text(st, 0),
                       (const char *)sqlite3_column_text(st, 1), sqlite3_column_int64(st, 2));
    return finish(s, q, visited(rc, failed, err));
}

int store_mark_checks_suspect(store *s, const char *reference_id, int64_t since_ms,
                              const char *reason, smart_error *err)
{
    return run(s, Q_MARK_CHECKS_SUSPECT, err, "tIt", reference_id, since_ms, reason);
}

int store_calibrations_with_reference(store *s, const char *reference_id, civil_day since_day,
                                      int (*visit)(void *ctx, const char *equipment_id,
                                                   const char *certificate_number,
                                                   const char *calibration_date),
                                      void *ctx, smart_error *err)
{
    const int q = Q_CALIBRATIONS_WITH_REFERENCE;
    sqlite3_stmt *st = s->stmt[q];
    int rc, failed = 0;
    for (rc = query(s, q, err, "ti", reference_id, (int)since_day); !failed && rc == 1;
         rc = failed ? rc : step(s, q, err))
        failed = visit(ctx, (const char *)sqlite3_column_text(st, 0),
                       (const char *)sqlite3_column_text(st, 1),
                       (const char *)sqlite3_column_text(st, 2));
    return finish(s, q, visited(rc, failed, err));
}

int store_put_link(store *s, const char *clientpo_id, const char *equipment_ids,
                   int64_t linked_at_ms, smart_error *err)
{
    return run(s, Q_PUT_LINK, err, "ttI", clientpo_id, equipment_ids, linked_at_ms);
}

int store_get_link(store *s, const char *clientpo_id, char **equipment_ids, smart_error *err)
{
    *equipment_ids = NULL;
    int rc = query(s, Q_GET_LINK, err, "t", clientpo_id);
    if (rc == 1) {
        const char *text = (const char *)sqlite3_column_text(s->stmt[Q_GET_LINK], 0);
        *equipment_ids = strdup(text ? text : "");
        rc = *equipment_ids ? 0 : error_set(err, SMART_ENOMEM, "out of memory");
    }
    return finish(s, Q_GET_LINK, rc);
}

int store_add_allowed_test(store *s, const char *clientpo_id, int64_t decided_at_ms,
                           const char *equipment_json, int64_t *test_id, smart_error *err)
{
    int rc = run(s, Q_ADD_GATE, err, "tIt", clientpo_id, decided_at_ms, equipment_json);
    if (rc)
        return rc;
    *test_id = sqlite3_last_insert_rowid(s->db);
    return run(s, Q_ADD_USES, err, "IIt", *test_id, decided_at_ms, equipment_json);
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
    for (rc = step(s, Q_LOAD_CHECKS, err); rc == 1; rc = step(s, Q_LOAD_CHECKS, err)) {
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
    return finish(s, Q_LOAD_CHECKS, rc);
}

int store_add_check(store *s, const check_state *c, int64_t valid_until_ms, const char *technician,
                    const char *reference_instrument, const char *readings_json,
                    const char *suspect_reason, smart_error *err)
{
    return run(s, Q_ADD_CHECK, err, "ttIiIttttit", c->equipment_id, c->procedure_id,
               (int64_t)c->performed_ms, (int)c->passed, valid_until_ms,
               c->detail[0] ? c->detail : NULL, technician, reference_instrument, readings_json,
               (int)c->suspect, c->suspect ? suspect_reason : NULL);
}

int store_get_meta(store *s, const char *key, int64_t *value, smart_error *err)
{
    int rc = query(s, Q_GET_META, err, "t", key);
    if (rc == 1)
        *value = sqlite3_column_int64(s->stmt[Q_GET_META], 0);
    return finish(s, Q_GET_META, found(rc));
}

int store_put_meta(store *s, const char *key, int64_t value, smart_error *err)
{
    return run(s, Q_PUT_META, err, "tI", key, value);
}

int store_get_text_meta(store *s, const char *key, char *value, size_t size, smart_error *err)
{
    int rc = query(s, Q_GET_TEXT_META, err, "t", key);
    if (rc == 1)
        copy_column(s->stmt[Q_GET_TEXT_META], 0, value, size);
    return finish(s, Q_GET_TEXT_META, found(rc));
}

int store_put_text_meta(store *s, const char *key, const char *value, smart_error *err)
{
    return run(s, Q_PUT_TEXT_META, err, "tt", key, value);
}

int store_get_contract_version(store *s, const char *contract_id, int64_t *version, char sha256[65],
                               smart_error *err)
{
    sqlite3_stmt *st = s->stmt[Q_GET_CONTRACT];
    int rc = query(s, Q_GET_CONTRACT, err, "t", contract_id);
    if (rc == 1) {
        *version = sqlite3_column_int64(st, 0);
        copy_column(st, 1, sha256, 65);
    }
    return finish(s, Q_GET_CONTRACT, found(rc));
}

int store_put_contract_version(store *s, const char *contract_id, int64_t version,
                               const char *sha256, const char *file, int64_t now_ms,
                               smart_error *err)
{
    return run(s, Q_PUT_CONTRACT, err, "tIttI", contract_id, version, sha256, file, now_ms);
}

int store_find_calibration(store *s, const char *equipment_id, const char *certificate_number,
                           char *calibration_date, size_t size, smart_error *err)
{
    int rc = query(s, Q_FIND_CALIBRATION, err, "tt", equipment_id, certificate_number);
    if (rc == 1)
        copy_column(s->stmt[Q_FIND_CALIBRATION], 0, calibration_date, size);
    return finish(s, Q_FIND_CALIBRATION, found(rc));
}

int store_last_good_calibration(store *s, const char *equipment_id, civil_day *day,
                                bool *instant_known, int64_t *performed_ms, smart_error *err)
{
    sqlite3_stmt *st = s->stmt[Q_LAST_GOOD_CALIBRATION];
    int rc = query(s, Q_LAST_GOOD_CALIBRATION, err, "t", equipment_id);
    if (rc == 1) {
        *day = sqlite3_column_int(st, 0);
        *instant_known = sqlite3_column_type(st, 1) != SQLITE_NULL;
        *performed_ms = sqlite3_column_int64(st, 1);
    }
    return finish(s, Q_LAST_GOOD_CALIBRATION, found(rc));
}

int store_calibration_on(store *s, const char *equipment_id, civil_day day, civil_day *cal_day,
                         char *calibration_date, size_t size, bool *in_tolerance, smart_error *err)
{
    sqlite3_stmt *st = s->stmt[Q_CALIBRATION_ON];
    int rc = query(s, Q_CALIBRATION_ON, err, "ti", equipment_id, (int)day);
    if (rc == 1) {
        *cal_day = sqlite3_column_int(st, 0);
        copy_column(st, 1, calibration_date, size);
        *in_tolerance = sqlite3_column_int(st, 2) != 0;
    }
    return finish(s, Q_CALIBRATION_ON, found(rc));
}

int store_last_calibration_results(store *s, const char *equipment_id, char **results_json,
                                   smart_error *err)
{
    *results_json = NULL;
    int rc = query(s, Q_LAST_RESULTS, err, "t", equipment_id);
    if (rc == 1)
        rc = dup_column(s->stmt[Q_LAST_RESULTS], 0, results_json, err);
    return finish(s, Q_LAST_RESULTS, rc);
}

int store_check_at(store *s, const char *equipment_id, const char *procedure_id, int64_t at_ms,
                   check_state *check, smart_error *err)
{
    sqlite3_stmt *st = s->stmt[Q_CHECK_AT];
    int rc = query(s, Q_CHECK_AT, err, "ttI", equipment_id, procedure_id, at_ms);
    if (rc == 1) {
        memset(check, 0, sizeof *check);
        snprintf(check->equipment_id, sizeof check->equipment_id, "%s", equipment_id);
        snprintf(check->procedure_id, sizeof check->procedure_id, "%s", procedure_id);
        check->performed_ms = sqlite3_column_int64(st, 0);
        check->passed = sqlite3_column_int(st, 1) != 0;
        copy_column(st, 2, check->detail, sizeof check->detail);
        check->suspect = sqlite3_column_int(st, 3) != 0;
    }
    return finish(s, Q_CHECK_AT, found(rc));
}

int store_add_unavailable(store *s, const char *equipment_id, const char *kind, int64_t since_ms,
                          int64_t until_ms, const char *reason, smart_error *err)
{
    return run(s, Q_ADD_UNAVAILABLE, err, "ttIIt", equipment_id, kind, since_ms, until_ms,
               reason && *reason ? reason : NULL);
}

int store_unavailable_at(store *s, const char *equipment_id, int64_t at_ms,
                         unavailable_period *period, smart_error *err)
{
    sqlite3_stmt *st = s->stmt[Q_UNAVAILABLE_AT];
    int rc = query(s, Q_UNAVAILABLE_AT, err, "tI", equipment_id, at_ms);
    if (rc == 1) {
        copy_column(st, 0, period->kind, sizeof period->kind);
        period->since_ms = sqlite3_column_int64(st, 1);
        period->until_ms = sqlite3_column_int64(st, 2);
        copy_column(st, 3, period->reason, sizeof period->reason);
    }
    return finish(s, Q_UNAVAILABLE_AT, found(rc));
}

int store_last_pass(store *s, const char *equipment_id, const char *procedure_id,
                    int64_t *performed_ms, smart_error *err)
{
    sqlite3_stmt *st = s->stmt[Q_LAST_PASS];
    int rc = query(s, Q_LAST_PASS, err, "tt", equipment_id, procedure_id);
    if (rc == 1) { /* max() gives one row, NULL when it never passed */
        rc = sqlite3_column_type(st, 0) != SQLITE_NULL;
        *performed_ms = sqlite3_column_int64(st, 0);
    }
    return finish(s, Q_LAST_PASS, found(rc));
}

int store_allowed_tests_with(store *s, const char *equipment_id, int64_t since_ms,
                             int (*visit)(void *ctx, const char *clientpo_id,
                                          int64_t decided_at_ms),
                             void *ctx, smart_error *err)
{
    const int q = Q_ALLOWED_WITH;
    sqlite3_stmt *st = s->stmt[q];
    int rc, failed = 0;
    for (rc = query(s, q, err, "tI", equipment_id, since_ms); !failed && rc == 1;
         rc = failed ? rc : step(s, q, err))
        failed = visit(ctx, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1));
    return finish(s, q, visited(rc, failed, err));
}

/* One row of statement q: its first column as malloc'd text, and, with a second column not
 * NULL, that integer. 0, 1 when no row, SMART_ENOMEM or the error. */
static int text_and_next(store *s, int q, int rc, char **text, bool *has_int, int64_t *value,
                         smart_error *err)
{
    sqlite3_stmt *st = s->stmt[q];
    *text = NULL;
    *has_int = false;
    if (rc == 1) {
        *has_int = sqlite3_column_type(st, 1) != SQLITE_NULL;
        if (*has_int)
            *value = sqlite3_column_int64(st, 1);
        rc = dup_column(st, 0, text, err);
        return finish(s, q, rc);
    }
    return finish(s, q, found(rc));
}

int store_check_record(store *s, const char *equipment_id, const char *procedure_id,
                       int64_t performed_ms, char **readings_json, bool *has_next, int64_t *next_ms,
                       smart_error *err)
{
    int rc = query(s, Q_CHECK_RECORD, err, "ttI", equipment_id, procedure_id, performed_ms);
    return text_and_next(s, Q_CHECK_RECORD, rc, readings_json, has_next, next_ms, err);
}

int store_calibration_record(store *s, const char *equipment_id, const char *certificate_number,
                             char **results_json, bool *has_next, int64_t *next_ms,
                             smart_error *err)
{
    int rc = query(s, Q_CALIBRATION_RECORD, err, "tt", equipment_id, certificate_number);
    return text_and_next(s, Q_CALIBRATION_RECORD, rc, results_json, has_next, next_ms, err);
}

int store_set_check_detail(store *s, const char *equipment_id, const char *procedure_id,
                           int64_t performed_ms, const char *detail, smart_error *err)
{
    return run(s, Q_SET_CHECK_DETAIL, err, "ttIt", equipment_id, procedure_id, performed_ms,
               detail);
}

int store_mark_checks_suspect_between(store *s, const char *reference_id, int64_t since_ms,
                                      int64_t until_ms, const char *reason, smart_error *err)
{
    return run(s, Q_MARK_CHECKS_SUSPECT_BETWEEN, err, "tItI", reference_id, since_ms, reason,
               until_ms);
}

int store_query_plan(store *s, store_plan_query which, char *plan, size_t size, smart_error *err)
{
    static const int statement_of[STORE_PLAN_COUNT] = {
        [STORE_PLAN_CHECKS_WITH_REFERENCE] = Q_CHECKS_WITH_REFERENCE,
        [STORE_PLAN_MARK_CHECKS_SUSPECT] = Q_MARK_CHECKS_SUSPECT,
        [STORE_PLAN_MARK_CHECKS_SUSPECT_BETWEEN] = Q_MARK_CHECKS_SUSPECT_BETWEEN,
        [STORE_PLAN_CALIBRATIONS_WITH_REFERENCE] = Q_CALIBRATIONS_WITH_REFERENCE,
        [STORE_PLAN_ALLOWED_TESTS_WITH] = Q_ALLOWED_WITH,
        [STORE_PLAN_LAST_GOOD_CALIBRATION] = Q_LAST_GOOD_CALIBRATION,
    };
    int q = statement_of[which];
    char *sql = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", statements[q]);
    if (!sql)
        return error_set(err, SMART_ENOMEM, "out of memory");
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK)
        return error_set(err, SMART_EIO, "store: plan of %s: %s", query_names[q],
                         sqlite3_errmsg(s->db));
    size_t used = 0;
    plan[0] = '\0';
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && used < size) {
        const char *detail =
            (const char *)sqlite3_column_text(st, 3); /* id, parent, notused, detail */
        int n = snprintf(plan + used, size - used, "%s\n", detail ? detail : "");
        used += n > 0 ? (size_t)n : 0;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return error_set(err, SMART_EIO, "store: plan of %s: %s", query_names[q],
                         sqlite3_errmsg(s->db));
    return 0;
}

/* The adopted set's files: rarely written (an adoption) and read once (a refused start), so
 * their table and statements are made where used rather than kept prepared. The table names
 * each file and its SHA-256; the bytes are kept beside the store (kept_files.h), outside the
 * WAL, where an empty `content` says so. A store from before holds them in `content`: read as
 * they are, and moved out at the next adoption. */
/* Their statements are made here, not in the table of statements: an error names what. */
static int adopted_error(store *s, smart_error *err, const char *what)
{
    return error_set(err, SMART_EIO, "store: %s: %s", what, sqlite3_errmsg(s->db));
}

static const char adopted_schema[] =
    "CREATE TABLE IF NOT EXISTS adopted_files ("
    " file TEXT PRIMARY KEY, sha256 TEXT NOT NULL, content BLOB NOT NULL,"
    " adopted_at_ms INTEGER NOT NULL) WITHOUT ROWID";

/* Deletes the adopted files not among files[0..count); sets *changed when it did. 0 or
 * SMART_EIO. */
static int delete_stale_adopted(store *s, const char *const *files, size_t count, bool *changed,
                                smart_error *err)
{
    sqlite3_stmt *list = NULL, *del = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT file FROM adopted_files", -1, &list, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "DELETE FROM adopted_files WHERE file = ?1", -1, &del, NULL) !=
            SQLITE_OK) {
        sqlite3_finalize(list);
        sqlite3_finalize(del);
        return adopted_error(s, err, "save the adopted contract files");
    }
    /* The stale names are gathered first: a table is not changed under its own SELECT. */
    char **stale = NULL;
    size_t n = 0, cap = 0;
    int rc = 0, step;
    while (rc == 0 && (step = sqlite3_step(list)) == SQLITE_ROW) {
        const char *file = (const char *)sqlite3_column_text(list, 0);
        bool kept = false;
        for (size_t i = 0; file && !kept && i < count; i++)
            kept = strcmp(files[i], file) == 0;
        if (kept || !file)
            continue;
        if (n == cap) {
            size_t grown_cap = cap ? 2 * cap : 8;
            char **grown = realloc(stale, grown_cap * sizeof *grown);
            if (!grown) {
                rc = error_set(err, SMART_ENOMEM, "out of memory");
                break;
            }
            stale = grown;
            cap = grown_cap;
        }
        if (!(stale[n] = strdup(file)))
            rc = error_set(err, SMART_ENOMEM, "out of memory");
        else
            n++;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = adopted_error(s, err, "save the adopted contract files");
    sqlite3_finalize(list);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        bind_text(del, 1, stale[i]);
        if (sqlite3_step(del) != SQLITE_DONE)
            rc = adopted_error(s, err, "save the adopted contract files");
        sqlite3_reset(del);
    }
    sqlite3_finalize(del);
    for (size_t i = 0; i < n; i++)
        free(stale[i]);
    free(stale);
    *changed = *changed || (rc == 0 && n > 0);
    return rc;
}

/* Whether the row of `file` names `sha256` with its bytes kept beside the store. */
static int adopted_as(store *s, sqlite3_stmt *get, const char *file, const char *sha256, bool *same,
                      smart_error *err)
{
    bind_text(get, 1, file);
    int step = sqlite3_step(get);
    *same = step == SQLITE_ROW && sqlite3_column_int64(get, 1) == 0 &&
            strcmp((const char *)sqlite3_column_text(get, 0), sha256) == 0;
    sqlite3_reset(get);
    return step == SQLITE_ROW || step == SQLITE_DONE
               ? 0
               : adopted_error(s, err, "save the adopted contract files");
}

void store_keep_files_wait(store *s)
{
    bool renamed;
    kept_writer_wait(s->kept_ahead, &renamed); /* the names are synced by the adoption's own */
    s->kept_ahead = NULL;
    s->kept_renamed = s->kept_renamed || renamed;
}

int store_keep_files_ahead(store *s, const char *const *sha256, const char *const *texts,
                           const size_t *lens, size_t count, smart_error *err)
{
    store_keep_files_wait(s);
    return kept_writer_start(s->kept_dir, sha256, texts, lens, count, &s->kept_ahead, err);
}

int store_put_adopted_files(store *s, const char *const *files, const char *const *sha256,
                            const char *const *texts, const size_t *lens, size_t count,
                            int64_t now_ms, smart_error *err)
{
    /* The files written ahead are found kept below (same name and size) and not written again. */
    store_keep_files_wait(s);
    bool renamed = s->kept_renamed;
    int rc = store_begin(s, err);
    if (rc)
        return rc;
    if (sqlite3_exec(s->db, adopted_schema, NULL, NULL, NULL) != SQLITE_OK)
        return adopted_error(s, err, "save the adopted contract files");
    /* Only what changed is written: the files no longer in the set go, a new or changed one is
     * written, one with the same bytes (its SHA-256) is kept as it is, with the time it was
     * adopted. Every start adopts the directory again, and writing every contract's text each
     * time was most of a restart at 100,000 items (some 60 MB through the WAL). */
    bool changed = false;
    if ((rc = delete_stale_adopted(s, files, count, &changed, err)) ||
        (count && (rc = kept_make_dir(s->kept_dir, err))))
        return rc;
    sqlite3_stmt *get = NULL, *put = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT sha256, length(content) FROM adopted_files WHERE file = ?1", -1,
                           &get, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db,
                           "INSERT INTO adopted_files (file, sha256, content, adopted_at_ms) "
                           "VALUES (?1, ?2, x'', ?3) ON CONFLICT (file) DO UPDATE SET "
                           "content = x'', adopted_at_ms = CASE WHEN adopted_files.sha256 = "
                           "excluded.sha256 THEN adopted_files.adopted_at_ms ELSE "
                           "excluded.adopted_at_ms END, sha256 = excluded.sha256",
                           -1, &put, NULL) != SQLITE_OK) {
        sqlite3_finalize(get);
        return adopted_error(s, err, "save the adopted contract files");
    }
    for (size_t i = 0; rc == 0 && i < count; i++) {
        bool same = false, made = false;
        if (strlen(sha256[i]) != 64)
            rc = error_set(err, SMART_EIO, "store: adopted contract %s has no SHA-256", files[i]);
        /* Its file is put back when missing, whatever the row says (a size check, no read). */
        if (rc == 0 && (rc = adopted_as(s, get, files[i], sha256[i], &same, err)) == 0)
            rc = kept_put(s->kept_dir, sha256[i], texts[i], lens[i], &made, err);
        renamed = renamed || made;
        if (rc || same)
            continue;
        bind_text(put, 1, files[i]);
        bind_text(put, 2, sha256[i]);
        sqlite3_bind_int64(put, 3, now_ms);
        rc = sqlite3_step(put) == SQLITE_DONE
                 ? 0
                 : adopted_error(s, err, "save the adopted contract files");
        sqlite3_reset(put);
        changed = true;
    }
    sqlite3_finalize(get);
    sqlite3_finalize(put);
    /* Durable before the commit that names them: the files were synced as written, and their
     * names (a row may name a file a crash left renamed but not yet synced) are now. */
    if (rc == 0 && (changed || renamed))
        rc = kept_sync(s->kept_dir, err);
    s->kept_renamed = s->kept_renamed && rc != 0;
    /* Swept after the commit even when nothing changed: a crash after the last commit's and
     * before its sweep left files no row names (a directory listing of a few names). */
    if (rc == 0)
        s->kept_sweep_due = true;
    return rc;
}

/* After a commit that wrote the set kept: removes the kept files it no longer names (and
 * what a crash left). Best effort: what stays is removed by a later one. */
static void sweep_kept(store *s)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT DISTINCT sha256 FROM adopted_files", -1, &st, NULL) !=
        SQLITE_OK) {
        sqlite3_finalize(st);
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    bool ok = true;
    while (ok && sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            size_t grown_cap = cap ? 2 * cap : 16;
            char **grown = realloc(names, grown_cap * sizeof *grown);
            if (!(ok = grown != NULL))
                break;
            names = grown;
            cap = grown_cap;
        }
        ok = (names[n] = strdup((const char *)sqlite3_column_text(st, 0))) != NULL;
        n += ok;
    }
    sqlite3_finalize(st);
    smart_error ignored;
    if (ok)
        kept_sweep(s->kept_dir, (const char *const *)names, n, &ignored);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
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
                                                              : adopted_error(s, err,
                                                                              "read the "
                                                                              "adopted contract "
                                                                              "files");
    }
    int result = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *file = (const char *)sqlite3_column_text(st, 0);
        const char *sha256 = (const char *)sqlite3_column_text(st, 1);
        const char *blob = sqlite3_column_blob(st, 2);
        size_t len = (size_t)sqlite3_column_bytes(st, 2);
        char *kept = NULL;
        if (len) /* kept in the store, by a module from before */
            result = kept_check(file, "in the store", sha256, blob, len, err);
        else if ((result = kept_read(s->kept_dir, file, sha256, &kept, &len, err)) == 0)
            blob = kept;
        if (result == 0)
            result = visit(ctx, file, sha256, blob, len);
        free(kept);
        if (result)
            break;
    }
    if (!result && rc != SQLITE_DONE)
        result = adopted_error(s, err, "read the adopted contract files");
    sqlite3_finalize(st);
    return result;
}
