/* report_fleet.c — the fleet-wide kinds (report_fleet.h): each station's records read from the
 * database one station at a time (rep_db_read), the station's own kind run on them (due_list.c,
 * oot_register.c), its rows copied out with a station column, the station's records freed
 * before the next is read. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_fleet.h"
#include "run/clock.h"

static int oom(char *msg, size_t msg_size)
{
    snprintf(msg, msg_size, "out of memory");
    return -ENOMEM;
}

static const rep_section *find_section(const rep_doc *d, const char *id)
{
    for (size_t i = 0; i < d->sections.count; i++)
        if (strcmp(REP_SECTION(d, i)->id, id) == 0)
            return REP_SECTION(d, i);
    return NULL;
}

/* Every row of `from`'s section into `to` (whose columns are "station" and then, by name,
 * those of `from`), the station in the first column; the seqs are the station's. */
static int copy_rows(rep_doc *d, rep_section *to, const rep_doc *src, const char *id,
                     const char *station)
{
    const rep_section *from = find_section(src, id);
    if (from == NULL)
        return 0;
    for (size_t j = 0; j < from->rows.count; j++) {
        const rep_row *fr = REP_ROW(from, j);
        rep_row *r = rep_row_add(d, to);
        if (r == NULL)
            return -ENOMEM;
        rep_set_text(d, r, 0, station);
        for (size_t c = 1; c < to->column_count; c++) {
            int k = rep_column(from, to->columns[c]);
            if (k >= 0)
                rep_copy_cell(d, r, c, &fr->cells[k]);
        }
        for (size_t k = 0; k < fr->seqs.count; k++)
            if (rep_row_seq(r, *REP_AT(fr->seqs, uint64_t, k)) < 0)
                return -ENOMEM;
        r->mark = fr->mark;
    }
    if (from->note) {
        const char *note = rep_printf(&d->arena, "%s: %s", station, from->note);
        if (note == NULL)
            return -ENOMEM;
        rep_note(d, to, note);
    }
    return 0;
}

/* The stations read, with their stored heads. */
static rep_section *stations_section(rep_doc *d)
{
    static const char *const cols[] = {"station",      "records",     "head_hash",
                                       "first_record", "last_record", NULL};
    rep_section *s = rep_section_add(d, "stations", "Stations read", cols);
    if (s)
        s->note = "Each station's records as stored in the fleet database, up to its stored head "
                  "(every one checked against the station's chain by fleet.ingest when it "
                  "arrived). Seqs in the rows below are the row's station's.";
    return s;
}

static int station_row(rep_doc *d, rep_section *s, const rep_ledger *l)
{
    rep_row *r = rep_row_add(d, s);
    if (r == NULL)
        return -ENOMEM;
    rep_set_text(d, r, 0, l->node_id);
    rep_set_int(r, 1, (int64_t)l->records);
    rep_set_text(d, r, 2, l->verification.head_hash);
    if (l->records) {
        rep_set_time(d, r, 3, l->first_ms);
        rep_set_time(d, r, 4, l->last_ms);
    }
    return 0;
}

static int by_due_date(const void *a, const void *b)
{
    const rep_row *x = *(rep_row *const *)a, *y = *(rep_row *const *)b;
    static const int order[] = {FLEET_DUE_DATE, 0, 2}; /* due date, station, item */
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const rep_cell *p = &x->cells[order[i]], *q = &y->cells[order[i]];
        if (p->kind != q->kind) /* no due date: last */
            return p->kind == REP_NULL ? 1 : -1;
        int c = p->kind == REP_TEXT ? strcmp(p->text, q->text) : 0;
        if (c != 0)
            return c;
    }
    return 0;
}

int report_fleet_due(rep_db *db, const rep_vec *stations, const rep_query *q, rep_doc *d, char *msg,
                     size_t msg_size)
{
    static const char *const cols[] = {"station",  "urgency",   "equipment_id",     "status",
                                       "due_date", "days_left", "last_certificate", NULL};
    rep_section *st = stations_section(d);
    rep_section *s = st ? rep_section_add(d, "due_list", "Due list across stations", cols) : NULL;
    if (s == NULL)
        return oom(msg, msg_size);
    s->note = "Every station's due list (as `report due` gives it for the station's ledger, as of "
              "the station's last record or --to), sorted by due date; items without one last.";
    rep_read_options o = {.wants = REP_WANTS_DUE, .bulk_from = REP_NO_DAY, .bulk_to = REP_NO_DAY};
    int rc = 0;
    for (size_t i = 0; i < stations->count && rc == 0; i++) {
        const rep_station *station = REP_AT(*stations, rep_station, i);
        rep_ledger l = {0};
        rep_doc one = {0};
        rc = rep_db_read(db, station, &o, &l, msg, msg_size);
        if (rc == 0 && (station_row(d, st, &l) < 0 || report_due_list(&l, q, &one) < 0 ||
                        copy_rows(d, s, &one, "due_list", station->node_id) < 0))
            rc = oom(msg, msg_size);
        rep_doc_free(&one);
        rep_ledger_free(&l);
    }
    if (rc == 0)
        qsort(s->rows.items, s->rows.count, sizeof(rep_row *), by_due_date);
    return rc;
}

/* A finding, kept from the first pass for the second. */
typedef struct finding {
    size_t station;
    const char *equipment, *certificate;
    int64_t since_ms, until_ms;
    uint64_t seq;
} finding;

static int64_t instant(const char *text, int64_t otherwise)
{
    int64_t ms;
    char why[120];
    return text && rfc3339_parse(text, &ms, why, sizeof why) == 0 ? ms : otherwise;
}

/* One row of a finding's `oot_across` section: the record at `seq` of `station` (`kind`, the id
 * `what`, `detail`) made with the finding's item. Returns 0 or -ENOMEM. */
static int across_row(rep_doc *d, rep_section *s, const char *finding_station, const finding *f,
                      const char *station, uint64_t seq, const char *kind, const char *what,
                      const char *detail, int64_t time_ms, rep_mark mark)
{
    rep_row *r = rep_row_add(d, s);
    if (r == NULL || rep_row_seq(r, seq) < 0)
        return -ENOMEM;
    rep_set_text(d, r, 0, finding_station);
    rep_set_text(d, r, 1, f->equipment);
    rep_set_text(d, r, 2, f->certificate);
    rep_set_text(d, r, 3, station);
    rep_set_text(d, r, 4, kind);
    rep_set_text(d, r, 5, what);
    rep_set_text(d, r, 6, detail);
    rep_set_time(d, r, 7, time_ms);
    r->mark = mark;
    return 0;
}

/* Whether a record citing `reference` at `time_ms` rests on the finding's item in its window. */
static bool cites_in_window(const finding *f, const char *reference, int64_t time_ms)
{
    return reference && strcmp(reference, f->equipment) == 0 && time_ms >= f->since_ms &&
           time_ms <= f->until_ms;
}

/* The station's records made with a finding's item, in its suspect window: jobs allowed with it
 * (the item went to that station) and checks or calibrations that cite it as their reference. */
static int across_rows(rep_doc *d, rep_section *s, const rep_ledger *l, const char *station,
                       const char *finding_station, const finding *f)
{
    for (size_t i = 0; i < l->gates.count; i++) {
        const rep_gate *g = REP_AT(l->gates, rep_gate, i);
        bool with_it = false;
        for (size_t k = 0; k < g->equipment_count && !with_it; k++)
            with_it = g->equipment[k] && strcmp(g->equipment[k], f->equipment) == 0;
        if (!g->allowed || !with_it || g->time_ms < f->since_ms || g->time_ms > f->until_ms)
            continue;
        if (across_row(d, s, finding_station, f, station, g->seq, "clientpo", g->clientpo,
                       "test allowed with it", g->time_ms, REP_MARK_BAD) < 0)
            return -ENOMEM;
    }
    for (size_t i = 0; i < l->checks.count; i++) {
        const rep_check *c = REP_AT(l->checks, rep_check, i);
        if (cites_in_window(f, c->reference, c->time_ms) &&
            across_row(d, s, finding_station, f, station, c->seq, "check", c->equipment,
                       rep_printf(&d->arena, "check %s", c->procedure ? c->procedure : ""),
                       c->time_ms, REP_MARK_WARN) < 0)
            return -ENOMEM;
    }
    for (size_t i = 0; i < l->calibrations.count; i++) {
        const rep_calibration *c = REP_AT(l->calibrations, rep_calibration, i);
        if (cites_in_window(f, c->reference, c->time_ms) &&
            across_row(
                d, s, finding_station, f, station, c->seq, "calibration", c->equipment,
                rep_printf(&d->arena, "calibration %s", c->certificate ? c->certificate : ""),
                c->time_ms, REP_MARK_WARN) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* Pass 1: each station's register, and its findings kept (strings in d's arena). */
static int oot_pass1(rep_db *db, const rep_vec *stations, const rep_query *q, rep_doc *d,
                     rep_section *st, rep_section *fs, rep_section *as, rep_vec *findings,
                     char *msg, size_t msg_size)
{
    rep_read_options o = {.wants = REP_WANTS_OOT, .bulk_from = REP_NO_DAY, .bulk_to = REP_NO_DAY};
    int rc = 0;
    for (size_t i = 0; i < stations->count && rc == 0; i++) {
        const rep_station *station = REP_AT(*stations, rep_station, i);
        rep_ledger l = {0};
        rep_doc one = {0};
        rc = rep_db_read(db, station, &o, &l, msg, msg_size);
        if (rc == 0 && (station_row(d, st, &l) < 0 || report_oot_register(&l, q, &one) < 0 ||
                        copy_rows(d, fs, &one, "oot_findings", station->node_id) < 0 ||
                        copy_rows(d, as, &one, "oot_affected", station->node_id) < 0))
            rc = oom(msg, msg_size);
        for (size_t k = 0; k < l.oots.count && rc == 0; k++) {
            const rep_oot *x = REP_AT(l.oots, rep_oot, k);
            if (!x->equipment || !rep_in_period(&l, q, x->time_ms) ||
                (q->equipment && strcmp(q->equipment, x->equipment) != 0))
                continue;
            finding *f = rep_vec_push(findings, sizeof *f);
            if (f == NULL)
                return oom(msg, msg_size);
            *f = (finding){.station = i,
                           .equipment = rep_strdup(&d->arena, x->equipment),
                           .certificate = rep_strdup(&d->arena, x->certificate),
                           .since_ms = instant(x->since, INT64_MIN),
                           .until_ms = instant(x->until, x->time_ms),
                           .seq = x->seq};
        }
        rep_doc_free(&one);
        rep_ledger_free(&l);
    }
    return rc;
}

int report_fleet_oot(rep_db *db, const rep_vec *stations, const rep_query *q, rep_doc *d, char *msg,
                     size_t msg_size)
{
    static const char *const fcols[] = {
        "station",       "recorded",      "equipment_id", "certificate",      "finding",
        "suspect_since", "suspect_until", "clientpos",    "verified_with_it", NULL};
    static const char *const acols[] = {"station", "equipment_id", "certificate", "affected",
                                        "subject", "what",         "when",        NULL};
    static const char *const xcols[] = {
        "finding_station", "equipment_id", "certificate", "station", "affected",
        "subject",         "what",         "when",        NULL};
    rep_section *st = stations_section(d);
    rep_section *fs =
        st ? rep_section_add(d, "oot_findings", "Out-of-tolerance findings", fcols) : NULL;
    rep_section *as =
        fs ? rep_section_add(d, "oot_affected",
                             "Work to assess on the finding's own station (its impact record)",
                             acols)
           : NULL;
    rep_section *xs =
        as ? rep_section_add(d, "oot_across",
                             "Work to assess on the other stations: made with the item in its "
                             "suspect window",
                             xcols)
           : NULL;
    if (xs == NULL)
        return oom(msg, msg_size);
    xs->note = "A finding's item on another station (the same equipment id): the jobs allowed "
               "there with it, and the checks and calibrations there that cite it as their "
               "reference, from its suspect window's start to its end. Seqs are the affected "
               "station's; the finding's are in its row above.";
    rep_vec findings = {0};
    int rc = oot_pass1(db, stations, q, d, st, fs, as, &findings, msg, msg_size);
    if (rc == 0 && findings.count > 0) {
        /* Pass 2: the bulk only around the windows. */
        int64_t lo = INT64_MAX, hi = INT64_MIN;
        for (size_t k = 0; k < findings.count; k++) {
            const finding *f = REP_AT(findings, finding, k);
            lo = f->since_ms < lo ? f->since_ms : lo;
            hi = f->until_ms > hi ? f->until_ms : hi;
        }
        rep_read_options o = {.wants = REP_WANT_GATES | REP_WANT_CHECKS | REP_WANT_CALIBRATIONS,
                              .bulk_from =
                                  lo == INT64_MIN ? REP_NO_DAY : civil_day_of_instant(lo, 0) - 1,
                              .bulk_to = civil_day_of_instant(hi, 0) + 1};
        for (size_t i = 0; i < stations->count && rc == 0; i++) {
            const rep_station *station = REP_AT(*stations, rep_station, i);
            rep_ledger l = {0};
            rc = rep_db_read(db, station, &o, &l, msg, msg_size);
            for (size_t k = 0; k < findings.count && rc == 0; k++) {
                const finding *f = REP_AT(findings, finding, k);
                if (f->station != i &&
                    across_rows(d, xs, &l, station->node_id,
                                REP_AT(*stations, rep_station, f->station)->node_id, f) < 0)
                    rc = oom(msg, msg_size);
            }
            rep_ledger_free(&l);
        }
    }
    rep_vec_free(&findings);
    return rc;
}

int report_fleet_integrity(rep_db *db, const char *node, rep_doc *d, char *msg, size_t msg_size)
{
    static const char *const cols[] = {"station",
                                       "records",
                                       "head_seq",
                                       "head_hash",
                                       "complete",
                                       "last_checkpoint_seq",
                                       "last_checkpoint_signed_at",
                                       "checkpoint_verified",
                                       "last_shipped_seq",
                                       "last_shipped_at",
                                       "alerts",
                                       NULL};
    static const char *const acols[] = {"station",   "seq",       "kind", "detail",
                                        "raised_by", "raised_at", NULL};
    rep_section *s = rep_section_add(d, "integrity", "Ledger integrity per station", cols);
    rep_section *a = s ? rep_section_add(d, "alerts", "What the database refused", acols) : NULL;
    if (a == NULL)
        return oom(msg, msg_size);
    s->note = "records: rows stored for the station (the head's seq when the first stored "
              "is seq 1 and the last the head: fleet.ingest stores no record past a gap); "
              "complete: they are seqs 1 to the head without a hole; the last checkpoint's claim "
              "(the chain's hash at its seq) checked "
              "again against the record stored there (its signature was checked with the "
              "station's registered key before it was shipped); last shipped: the stored head "
              "and when it arrived. A full re-hash of every chain: SELECT * FROM "
              "fleet.verify_chains(); of one station's: fleet.verify_chains('NODE').";
    a->note = "Each record or checkpoint fleet.ingest refused (a gap, a fork, a rewritten or "
              "forged record, another node's record), naming the station and seq.";
    rep_arena arena = {0};
    rep_vec rows = {0}, alerts = {0};
    int rc = rep_db_integrity(db, node, &arena, &rows, &alerts, msg, msg_size);
    for (size_t i = 0; i < rows.count && rc == 0; i++) {
        const rep_integrity *x = REP_AT(rows, rep_integrity, i);
        rep_row *r = rep_row_add(d, s);
        if (r == NULL) {
            rc = oom(msg, msg_size);
            break;
        }
        bool complete = x->records == x->head_seq;
        rep_set_text(d, r, 0, x->node_id);
        rep_set_int(r, 1, (int64_t)x->records);
        rep_set_int(r, 2, (int64_t)x->head_seq);
        rep_set_text(d, r, 3, x->head_hash);
        rep_set_bool(r, 4, complete);
        if (x->has_checkpoint) {
            rep_set_int(r, 5, (int64_t)x->checkpoint_seq);
            rep_set_text(d, r, 6, x->checkpoint_signed_at);
            rep_set_bool(r, 7, x->checkpoint_ok);
        }
        if (x->has_head) {
            rep_set_int(r, 8, (int64_t)x->head_seq);
            rep_set_time(d, r, 9, x->head_received_ms);
            if (rep_row_seq(r, x->head_seq) < 0)
                rc = oom(msg, msg_size);
        }
        rep_set_int(r, 10, (int64_t)x->alerts);
        r->mark = !complete || (x->has_checkpoint && !x->checkpoint_ok) ? REP_MARK_BAD
                  : x->alerts || !x->has_checkpoint                     ? REP_MARK_WARN
                                                                        : REP_MARK_NONE;
    }
    for (size_t i = 0; i < alerts.count && rc == 0; i++) {
        const rep_alert *x = REP_AT(alerts, rep_alert, i);
        rep_row *r = rep_row_add(d, a);
        if (r == NULL) {
            rc = oom(msg, msg_size);
            break;
        }
        rep_set_text(d, r, 0, x->node_id);
        if (x->has_seq)
            rep_set_int(r, 1, (int64_t)x->seq);
        rep_set_text(d, r, 2, x->kind);
        rep_set_text(d, r, 3, x->detail);
        rep_set_text(d, r, 4, x->raised_by);
        rep_set_time(d, r, 5, x->raised_ms);
        r->mark = REP_MARK_BAD;
    }
    rep_vec_free(&rows);
    rep_vec_free(&alerts);
    rep_arena_free(&arena);
    return rc;
}
