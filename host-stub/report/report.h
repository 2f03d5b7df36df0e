/*
 * report.h — `smart-host report KIND LEDGER ...`: reports for the quality manager and the
 * auditor, built from the ledger's records alone (README "Reports").
 *
 * Three layers, one file per concern:
 *   - report_ledger.c reads and verifies the ledger (ledger_verify_file, or ledger_audit with
 *     a key) and turns the module's records into the plain records below (rep_ledger);
 *   - one file per kind (due_list.c, history.c, oot_register.c, gate_activity.c,
 *     compliance.c, trend.c, audit_pack.c) computes a rep_doc from a rep_ledger and a
 *     rep_query: pure, no I/O, plain values in, rows out;
 *   - one writer per format (write_csv.c, write_json.c, write_html.c) prints a rep_doc.
 * Every row carries the ledger seqs it came from.
 *
 * Ownership: a rep_ledger and a rep_doc own every string they point at (in their arena);
 * nothing is shared between them except by copy. Single-threaded; no global state.
 * Errors: 0 or a negative errno, with a message in a caller-owned buffer.
 */
#ifndef SMART_HOST_REPORT_H
#define SMART_HOST_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/dates.h"
#include "core/zone_rules.h"

#define REP_NO_DAY INT32_MIN

/* ---- an arena: every string and array of a ledger or doc, freed at once ---- */
typedef struct rep_arena_block rep_arena_block;
typedef struct rep_arena {
    rep_arena_block *head;
} rep_arena;

/* Returns zeroed memory owned by `a`, or NULL when out of memory. */
void *rep_alloc(rep_arena *a, size_t size);
/* A copy of `s` (NULL gives NULL) owned by `a`; NULL also when out of memory. */
char *rep_strdup(rep_arena *a, const char *s);
char *rep_printf(rep_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rep_arena_free(rep_arena *a);

/* A growable array of `elem` bytes each (heap; rep_vec_free). */
typedef struct rep_vec {
    void *items;
    size_t count, cap, elem;
} rep_vec;
/* Appends one zeroed element and returns it, or NULL when out of memory. */
void *rep_vec_push(rep_vec *v, size_t elem);
void rep_vec_free(rep_vec *v);
#define REP_AT(vec, type, i) (&((type *)(vec).items)[i])
/* A doc's sections, a section's rows and charts are arrays of pointers (stable addresses). */
#define REP_SECTION(doc, i)   (((rep_section **)(doc)->sections.items)[i])
#define REP_ROW(section, i)   (((rep_row **)(section)->rows.items)[i])
#define REP_CHART(section, i) (((rep_chart **)(section)->charts.items)[i])

/* A map from strings (borrowed: they must outlive it) to dense indices 0, 1, 2... in order of
 * first insertion. Heap; rep_map_free. */
typedef struct rep_map {
    const char **keys; /* keys[index] */
    size_t count;
    size_t *slots; /* open addressing: index + 1, 0 empty */
    size_t slot_count;
} rep_map;
/* The index of `key`, added when missing (*added true). Returns -1 when out of memory. */
long rep_map_put(rep_map *m, const char *key, bool *added);
/* The index of `key`, or -1. */
long rep_map_get(const rep_map *m, const char *key);
void rep_map_free(rep_map *m);

/* ---- the plain records (report_ledger.c) ---- */

typedef struct rep_result { /* one calibration point */
    const char *parameter, *unit;
    bool has_nominal, has_found, has_left, has_min, has_max;
    double nominal, found, left, min, max;
} rep_result;

typedef struct rep_calibration {
    uint64_t seq;
    int64_t time_ms;
    civil_day date, due; /* due REP_NO_DAY when the record gives none (failed, suspect) */
    const char *equipment, *equipment_type, *certificate, *provider, *technician, *reference;
    bool found_in, left_in, suspect, retired;
    rep_result *results;
    size_t result_count;
} rep_calibration;

typedef struct rep_transition {
    uint64_t seq;
    int64_t time_ms;
    const char *equipment, *from, *to, *cause; /* from NULL: the first state on record */
    bool ready;
    civil_day due;
} rep_transition;

typedef struct rep_step {
    const char *id, *unit, *limit;
    bool reading, taken, passed, has_value, has_min, has_max;
    double value, min, max;
} rep_step;

typedef struct rep_check {
    uint64_t seq;
    int64_t time_ms;
    const char *equipment, *procedure, *frequency, *technician, *reference;
    int every;
    /* The contract's shift starts (minutes after local midnight, ascending) a per-shift or
     * every-N-hours check follows; 0: not recorded (a daily one, or an older record). */
    int shift_starts[8];
    size_t shift_count;
    bool passed, suspect;
    rep_step *steps;
    size_t step_count;
} rep_check;

typedef enum rep_tag_kind { REP_TAG_OUT, REP_TAG_RETURN, REP_TAG_SENT_OUT } rep_tag_kind;
typedef struct rep_tag {
    uint64_t seq;
    int64_t time_ms;
    rep_tag_kind kind;
    const char *equipment, *user, *text;
} rep_tag;

typedef struct rep_block { /* one item a gate decision found not ready */
    const char *equipment, *status, *reason;
} rep_block;

typedef struct rep_gate {
    uint64_t seq;
    int64_t time_ms;
    const char *clientpo;
    bool allowed;
    const char **equipment;
    size_t equipment_count;
    rep_block *blocked;
    size_t blocked_count;
} rep_gate;

typedef struct rep_affected { /* something an out-of-tolerance finding makes suspect */
    const char *kind;         /* "clientpo", "check", "calibration", "chain" */
    const char *subject, *what, *when;
} rep_affected;

typedef struct rep_oot {
    uint64_t seq;
    int64_t time_ms;
    const char *equipment, *certificate, *finding, *since, *until;
    rep_affected *affected;
    size_t affected_count;
} rep_oot;

typedef struct rep_contract {
    const char *contract_id, *file, *sha256;
    int64_t version;
} rep_contract;

typedef struct rep_contracts { /* a contracts.loaded record: the set in force from then on */
    uint64_t seq;
    int64_t time_ms;
    const char *cause;
    rep_contract *contracts;
    size_t count;
} rep_contracts;

typedef struct rep_retired {
    uint64_t seq;
    int64_t time_ms;
    const char *equipment;
} rep_retired;

/* What verification found. */
typedef struct rep_verification {
    bool ok;
    bool signed_checked; /* a key was given: checkpoints were checked */
    uint64_t records;
    uint64_t bad_seq; /* !ok */
    uint64_t last_signed_seq, unsigned_after, checkpoints;
    /* Read from the fleet database (report_db.c), not a file: every record was checked against
     * the stored chain by fleet.ingest when it arrived, and is not hashed again here. */
    bool stored;
    char head_hash[65];
    char why[900]; /* !ok: where the chain breaks and why */
} rep_verification;

/* The station's civil time from a store.opened record (the module's first at every start):
 * in force from that record until the next one that names another zone. */
typedef struct rep_zone {
    uint64_t seq;
    int64_t time_ms;
    const char *name;   /* the IANA name, or the fixed offset "+HH:MM" */
    const char *tzdata; /* the tz data version the module read the IANA zone from, or NULL */
    station_zone *zone; /* owned by the ledger; opened from this host's ICU */
} rep_zone;

typedef struct rep_ledger {
    rep_arena arena;
    const char *path;
    const char *node_id;
    rep_verification verification;
    uint64_t records;
    int64_t first_ms, last_ms;
    rep_vec calibrations, transitions, checks, tags, gates, oots, contracts, retired;
    /* rep_zone, in seq order; none (a ledger from before the module recorded its zone, or
     * plain records built in memory): the station's days are UTC days. */
    rep_vec zones;
    /* Why a recorded zone could not be opened here (this host's ICU does not know it) or was
     * read from other tz data than the module's, or NULL: said in the report's zone note. */
    const char *zone_warning;
    char last_hash[65]; /* the last complete line's "hash" ("" when none) */
} rep_ledger;

/* The record kinds a report reads (rep_read_options.wants): the others are not parsed. */
enum {
    REP_WANT_CALIBRATIONS = 1u << 0,
    REP_WANT_TRANSITIONS = 1u << 1,
    REP_WANT_CHECKS = 1u << 2,
    REP_WANT_TAGS = 1u << 3,
    REP_WANT_GATES = 1u << 4,
    REP_WANT_OOTS = 1u << 5,
    REP_WANT_CONTRACTS = 1u << 6,
    REP_WANT_RETIRED = 1u << 7,
    REP_WANT_ALL = 0xffu,
};
/* What the due list and the out-of-tolerance register read (report_cli.c, report_fleet.c). */
#define REP_WANTS_DUE                                                                              \
    (REP_WANT_TRANSITIONS | REP_WANT_CALIBRATIONS | REP_WANT_TAGS | REP_WANT_RETIRED)
#define REP_WANTS_OOT (REP_WANT_OOTS | REP_WANT_CALIBRATIONS)

typedef struct rep_read_options {
    unsigned wants; /* REP_WANT_*; 0 reads every kind */
    /* Checks and gate decisions (the bulk of a ledger) outside these days are not parsed;
     * REP_NO_DAY: open. Every other kind is read whatever its day. */
    civil_day bulk_from, bulk_to;
    const char *key_path;         /* the node's public key, or NULL: the chain only */
    const char *checkpoints_path; /* with a key: the exported checkpoints file, or NULL */
    bool progress;                /* a progress line on stderr for a large ledger */
} rep_read_options;

/* Verify the ledger at `path` and read its records into *out (zeroed by the caller). The
 * verification runs on a thread of its own (libuv's) while the records are read; when it
 * fails, out->verification says where and why and every record read is dropped (a report on a
 * broken chain presents none). Returns 0 (verified or not), or a negative errno when the
 * file or key cannot be read, with `msg`. rep_ledger_free in every case. */
int rep_ledger_read(const char *path, const rep_read_options *options, rep_ledger *out, char *msg,
                    size_t msg_size);
void rep_ledger_free(rep_ledger *l);

/* The record source seam: one verified record line (`len` bytes, no newline) into *l, as
 * rep_ledger_read does for each line of its file; the database source (report_db.c) feeds the
 * lines it streams through it, so every kind reads the same plain records from either. Lines
 * must come in seq order. l->path names the source in messages. Returns 0, -ENOMEM or -EINVAL
 * (not JSON), with `msg`. */
int rep_ledger_line(rep_ledger *l, const rep_read_options *options, const char *line, size_t len,
                    char *msg, size_t msg_size);

/* The ledger actions a report reading `wants` (REP_WANT_*; 0 every kind) parses, with
 * "store.opened" (the zone) first, into actions[0..max): returns how many (all of them when
 * `max` is large enough; 16 is). The strings are constants. */
size_t rep_wanted_actions(unsigned wants, const char **actions, size_t max);
/* Whether `action` is of the bulk (checks and gate decisions), read for the period only. */
bool rep_bulk_action(const char *action);

/* ---- the query ---- */

typedef struct rep_query {
    civil_day from, to;    /* REP_NO_DAY: open */
    int within_days;       /* due list: how far ahead (default 30) */
    const char *equipment; /* NULL: every item */
} rep_query;

/* ---- the document every kind computes and every writer prints ---- */

typedef enum rep_cell_kind { REP_NULL, REP_TEXT, REP_INT, REP_REAL, REP_BOOL } rep_cell_kind;

typedef struct rep_cell {
    rep_cell_kind kind;
    const char *text;
    int64_t i;
    double r;
    int decimals; /* REP_REAL: digits after the point, as printed everywhere */
    bool b;
} rep_cell;

typedef enum rep_mark { REP_MARK_NONE, REP_MARK_WARN, REP_MARK_BAD } rep_mark;

typedef struct rep_row {
    rep_cell *cells; /* one per column of its section */
    rep_vec seqs;    /* uint64_t: the ledger seqs it came from */
    rep_mark mark;
} rep_row;

typedef struct rep_point {
    civil_day day;
    double y;
    uint64_t seq;
    bool outside;
} rep_point;

typedef struct rep_chart {
    const char *id, *title, *unit;
    bool has_low, has_high;
    double low, high; /* the tolerance band or the limit */
    rep_vec points;   /* rep_point, in time order */
} rep_chart;

typedef struct rep_section {
    const char *id, *title, *note;
    const char **columns;
    size_t column_count;
    rep_vec rows;   /* rep_row * */
    rep_vec charts; /* rep_chart * */
    rep_vec notes;  /* const char *: reasoning, shown after the table */
} rep_section;

typedef struct rep_doc {
    rep_arena arena;
    const char *kind, *title, *period;
    const char *ledger_path, *node_id;
    rep_verification verification;
    rep_vec sections; /* rep_section * */
    /* A fleet-wide report (report_fleet.c): ledger_path names the database, node_id the one
     * station it was restricted to (NULL: every station), `verification` is unused and
     * `source_note` says what the stored records were checked by. Its JSON form is
     * schemas/fleet-KIND.schema.json. */
    bool fleet;
    const char *source_note;
} rep_doc;

/* Building a doc (report_doc.c). Each returns NULL / a negative errno when out of memory. */
rep_section *rep_section_add(rep_doc *d, const char *id, const char *title,
                             const char *const *columns);
rep_row *rep_row_add(rep_doc *d, rep_section *s);
void rep_set_text(rep_doc *d, rep_row *r, size_t col, const char *text);
void rep_set_int(rep_row *r, size_t col, int64_t value);
void rep_set_real(rep_row *r, size_t col, double value, int decimals);
void rep_set_bool(rep_row *r, size_t col, bool value);
void rep_set_day(rep_doc *d, rep_row *r, size_t col, civil_day day);
void rep_set_time(rep_doc *d, rep_row *r, size_t col, int64_t ms);
int rep_row_seq(rep_row *r, uint64_t seq);
void rep_note(rep_doc *d, rep_section *s, const char *text);
rep_chart *rep_chart_add(rep_doc *d, rep_section *s, const char *id, const char *title,
                         const char *unit);
int rep_chart_point(rep_chart *c, civil_day day, double y, uint64_t seq, bool outside);
void rep_doc_free(rep_doc *d);
/* A cell as text ("" for null; true/false; reals with their decimals): `buf` or the cell's own
 * text. */
const char *rep_cell_format(const rep_cell *c, char *buf, size_t size);
/* The column index of `name` in `s`, or -1. */
int rep_column(const rep_section *s, const char *name);

/* Shared helpers of the kinds. The station's zone in force at an instant (NULL: UTC), and
 * the station's day of an instant in it, as the module counts its days. */
const station_zone *rep_zone_at(const rep_ledger *l, int64_t ms);
civil_day rep_day_of(const rep_ledger *l, int64_t ms);
/* The instant the station's day `day` begins (local midnight) in the zone in force at `near_ms`. */
int64_t rep_day_start_ms(const rep_ledger *l, civil_day day, int64_t near_ms);
/* "Days are the station's, in Pacific/Auckland (tzdata 2025b)": for a section's note. */
const char *rep_zone_text(const rep_ledger *l, rep_doc *d);
bool rep_in_period(const rep_ledger *l, const rep_query *q, int64_t ms);
/* The day the report is "as of": q->to, else the day of the ledger's last record. */
civil_day rep_as_of(const rep_ledger *l, const rep_query *q);

/* ---- the kinds (one file each). Each fills `d` (set up by the caller with the ledger's
 * verification) and returns 0 or -ENOMEM. ---- */
int report_due_list(const rep_ledger *l, const rep_query *q, rep_doc *d);
int report_history(const rep_ledger *l, const rep_query *q, rep_doc *d);
int report_oot_register(const rep_ledger *l, const rep_query *q, rep_doc *d);
int report_gate_activity(const rep_ledger *l, const rep_query *q, rep_doc *d);
int report_compliance(const rep_ledger *l, const rep_query *q, rep_doc *d);
int report_trend(const rep_ledger *l, const rep_query *q, rep_doc *d);
int report_audit_pack(const rep_ledger *l, const rep_query *q, rep_doc *d);

/* ---- the writers: 0 or -EIO ---- */
#include <stdio.h>
int rep_write_csv(const rep_doc *d, FILE *out);
int rep_write_json(const rep_doc *d, FILE *out);
int rep_write_html(const rep_doc *d, FILE *out);

/* Copy cell `from` (of another doc) into column `col` of `r`, its text into d's arena. */
void rep_copy_cell(rep_doc *d, rep_row *r, size_t col, const rep_cell *from);

/* The command: argv as main got it (argv[1] "report"). Returns the exit status. */
int report_command(int argc, char **argv);

#endif /* SMART_HOST_REPORT_H */
