/* report_cli.c — `smart-host report KIND LEDGER [options]`: arguments, then read, compute,
 * write (report.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/diag.h"
#include "report/report.h"
#include "report/report_db.h"
#include "report/report_fleet.h"
#include "run/host.h"

typedef struct kind {
    const char *name, *title;
    int (*build)(const rep_ledger *, const rep_query *, rep_doc *);
    unsigned wants; /* the record kinds it reads (REP_WANT_*) */
    /* Its fleet-wide form's title (--from a database, every station or --node's), or NULL:
     * from a database it reads one station (--node). */
    const char *fleet_title;
} kind;

static const kind KINDS[] = {
    {"due", "Due list (recall list)", report_due_list, REP_WANTS_DUE, "Due list across stations"},
    {"history", "Equipment history", report_history,
     REP_WANT_CALIBRATIONS | REP_WANT_CHECKS | REP_WANT_TRANSITIONS | REP_WANT_TAGS |
         REP_WANT_GATES,
     NULL},
    {"oot", "Out-of-tolerance register", report_oot_register, REP_WANTS_OOT,
     "Out-of-tolerance impact across stations"},
    {"gate", "Gate activity", report_gate_activity, REP_WANT_GATES, NULL},
    {"compliance", "Check compliance", report_compliance, REP_WANT_CHECKS | REP_WANT_GATES, NULL},
    {"trend", "Accuracy trend and interval analysis", report_trend,
     REP_WANT_CALIBRATIONS | REP_WANT_CHECKS, NULL},
    {"audit", "Audit pack", report_audit_pack, REP_WANT_ALL, NULL},
    /* The fleet database's own: no ledger file holds what it stored and refused. */
    {"integrity", "Ledger integrity per station", NULL, 0, "Ledger integrity per station"},
};

static const char USAGE[] =
    "usage: smart-host report KIND LEDGER [--from DATE] [--to DATE] [--within DAYS]\n"
    "                         [--equipment ID] [--format html|csv|json] [--out FILE]\n"
    "                         [--key PUB [--checkpoints FILE]]\n"
    "       smart-host report KIND --from postgresql://... [--node ID] [options as above]\n"
    "  KIND: due, history, oot, gate, compliance, trend, audit; from the fleet database\n"
    "  also integrity (due, oot and integrity across stations, the others for one --node)\n";

static int usage(const char *why)
{
    host_diag("report: %s", why);
    fputs(USAGE, stderr);
    return HOST_EXIT_USAGE;
}

static int day_arg(const char *name, const char *text, civil_day *out)
{
    date_value v;
    char why[120];
    if (date_parse(text, &v, why, sizeof why) < 0 || v.has_time) {
        host_diag("report: %s: '%s' is not a date (YYYY-MM-DD)%s%s", name, text, why[0] ? ": " : "",
                  why);
        return -1;
    }
    *out = v.day;
    return 0;
}

static void add_verification(rep_doc *d)
{
    static const char *const columns[] = {"ledger",      "verified", "records", "head_hash",
                                          "checkpoints", "detail",   NULL};
    rep_section *s = rep_section_add(d, "verification", "Ledger verification", columns);
    rep_row *r = s ? rep_row_add(d, s) : NULL;
    if (r == NULL)
        return;
    const rep_verification *v = &d->verification;
    rep_set_text(d, r, 0, d->ledger_path);
    rep_set_bool(r, 1, v->ok);
    rep_set_int(r, 2, (int64_t)v->records);
    rep_set_text(d, r, 3, v->head_hash);
    char text[1000];
    if (v->stored)
        snprintf(text, sizeof text, "%s",
                 "stored in the fleet database: each record checked against the station's "
                 "chain by fleet.ingest when it arrived (report integrity shows its "
                 "checkpoints)");
    else if (v->signed_checked && v->ok)
        snprintf(text, sizeof text,
                 "verified: last signed checkpoint at seq %" PRIu64 ", %" PRIu64
                 " records after it not yet signed",
                 v->last_signed_seq, v->unsigned_after);
    else
        snprintf(text, sizeof text, "%s",
                 v->signed_checked ? "checked" : "not checked (no --key): unanchored");
    rep_set_text(d, r, 4, text);
    if (v->ok)
        rep_set_text(d, r, 5, "hash chain intact");
    else {
        snprintf(text, sizeof text, "NOT VERIFIED: the chain breaks at seq %" PRIu64 ": %s",
                 v->bad_seq, v->why);
        rep_set_text(d, r, 5, text);
        r->mark = REP_MARK_BAD;
    }
}

/* The options after KIND and LEDGER into the query, the read options, the format and the
 * output path: HOST_EXIT_OK, or HOST_EXIT_USAGE with the reason told. */
typedef struct source {
    const char *ledger_path; /* LEDGER, or NULL */
    const char *database;    /* --from postgresql://..., or NULL */
    const char *node;        /* --node, or NULL */
} source;

static int parse_options(int argc, char **argv, int first, rep_query *q, rep_read_options *o,
                         const char **format, const char **out_path, source *src)
{
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc || a[0] != '-') {
            char why[300];
            snprintf(why, sizeof why, "unexpected '%.200s'", a);
            return usage(why);
        }
        const char *v = argv[++i];
        if (strcmp(a, "--from") == 0 && rep_db_is_url(v)) {
            src->database = v;
        } else if (strcmp(a, "--from") == 0) {
            date_value dv;
            char why[120];
            if (date_parse(v, &dv, why, sizeof why) < 0 || dv.has_time) {
                host_diag("report: --from: '%s' is neither a date (YYYY-MM-DD) nor a fleet "
                          "database URL (postgresql://...)",
                          v);
                return HOST_EXIT_USAGE;
            }
            q->from = dv.day;
        } else if (strcmp(a, "--node") == 0) {
            src->node = v;
        } else if (strcmp(a, "--to") == 0) {
            if (day_arg(a, v, &q->to) < 0)
                return HOST_EXIT_USAGE;
        } else if (strcmp(a, "--within") == 0) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 0 || n > 36500)
                return usage("--within: a number of days, 0 to 36500");
            q->within_days = (int)n;
        } else if (strcmp(a, "--equipment") == 0) {
            q->equipment = v;
        } else if (strcmp(a, "--format") == 0) {
            if (strcmp(v, "html") && strcmp(v, "csv") && strcmp(v, "json"))
                return usage("--format: html, csv or json");
            *format = v;
        } else if (strcmp(a, "--out") == 0) {
            *out_path = v;
        } else if (strcmp(a, "--key") == 0) {
            o->key_path = v;
        } else if (strcmp(a, "--checkpoints") == 0) {
            o->checkpoints_path = v;
        } else {
            char why[300];
            snprintf(why, sizeof why, "unknown option '%.200s'", a);
            return usage(why);
        }
    }
    if (src->database && src->ledger_path)
        return usage("give LEDGER or --from a database, not both");
    if (!src->database && !src->ledger_path)
        return usage("needs KIND and LEDGER (or --from postgresql://...)");
    if (src->node && !src->database)
        return usage("--node needs --from postgresql://... (the fleet database)");
    if (src->database && (o->key_path || o->checkpoints_path))
        return usage("--key and --checkpoints check a ledger file; the fleet database checked "
                     "its records on ingest (report integrity)");
    if (o->checkpoints_path && !o->key_path)
        return usage("--checkpoints needs --key (the node's public key)");
    if (q->from != REP_NO_DAY && q->to != REP_NO_DAY && q->from > q->to)
        return usage("--from is after --to");
    return HOST_EXIT_OK;
}

/* The document in its format to --out or standard output: HOST_EXIT_OK or HOST_EXIT_IO. */
static int write_report(const rep_doc *d, const char *format, const char *out_path)
{
    int status = HOST_EXIT_OK;
    int rc;
    FILE *out = out_path ? fopen(out_path, "w") : stdout;
    if (out == NULL) {
        host_diag("report: --out %s: %s", out_path, strerror(errno));
        status = HOST_EXIT_IO;
    } else {
        rc = strcmp(format, "csv") == 0    ? rep_write_csv(d, out)
             : strcmp(format, "json") == 0 ? rep_write_json(d, out)
                                           : rep_write_html(d, out);
        if ((out_path ? fclose(out) : fflush(out)) != 0 || rc < 0) {
            host_diag("report: writing %s failed", out_path ? out_path : "standard output");
            status = HOST_EXIT_IO;
        }
    }
    return status;
}

static void set_period(rep_doc *d, const rep_query *q)
{
    char from[16] = "", to[16] = "";
    if (q->from != REP_NO_DAY)
        civil_format(q->from, from, sizeof from);
    if (q->to != REP_NO_DAY)
        civil_format(q->to, to, sizeof to);
    if (from[0] || to[0])
        d->period = rep_printf(&d->arena, "period %s to %s", from[0] ? from : "the first record",
                               to[0] ? to : "the last record");
}

static int exit_of(int rc)
{
    return rc == -EINVAL || rc == -EACCES || rc == -ENOENT ? HOST_EXIT_USAGE : HOST_EXIT_IO;
}

/* The report from the fleet database: a fleet-wide kind over every station (or --node's), or
 * any other kind over --node's records alone, read through the same seam as a file. */
static int database_report(const kind *k, const source *src, const rep_query *q,
                           rep_read_options *o, const char *format, const char *out_path)
{
    if (k->fleet_title == NULL && src->node == NULL) {
        char why[300];
        snprintf(why, sizeof why,
                 "report %s from the fleet database reads one station: give --node ID "
                 "(across stations: due, oot, integrity)",
                 k->name);
        return usage(why);
    }
    char msg[1024];
    rep_db *db = NULL;
    int rc = rep_db_open(src->database, &db, msg, sizeof msg);
    if (rc < 0) {
        host_diag("report: %s", msg);
        return exit_of(rc);
    }
    rep_doc d = {.kind = k->name,
                 .title = k->fleet_title ? k->fleet_title : k->title,
                 .ledger_path = rep_db_name(db),
                 .node_id = src->node,
                 .fleet = k->fleet_title != NULL};
    d.source_note = "Read from the fleet database in one snapshot: every record was checked "
                    "against its station's chain by fleet.ingest when it arrived (report "
                    "integrity shows each station's head, last checkpoint and what was refused).";
    set_period(&d, q);
    rep_arena arena = {0};
    rep_vec stations = {0};
    rep_ledger l = {0};
    if (k->build == NULL)
        rc = report_fleet_integrity(db, src->node, &d, msg, sizeof msg);
    else
        rc = rep_db_stations(db, src->node, &arena, &stations, msg, sizeof msg);
    if (rc == 0 && k->build != NULL && d.fleet)
        rc = (k->build == report_due_list ? report_fleet_due : report_fleet_oot)(
            db, &stations, q, &d, msg, sizeof msg);
    else if (rc == 0 && k->build != NULL) {
        o->wants = k->wants;
        o->bulk_from = q->from;
        o->bulk_to = q->to;
        rc = rep_db_read(db, REP_AT(stations, rep_station, 0), o, &l, msg, sizeof msg);
        d.verification = l.verification;
        d.ledger_path = l.path;
        add_verification(&d);
        if (rc == 0 && k->build(&l, q, &d) < 0) {
            snprintf(msg, sizeof msg, "out of memory");
            rc = -ENOMEM;
        }
    }
    int status = rc < 0 ? exit_of(rc) : write_report(&d, format, out_path);
    if (rc < 0)
        host_diag("report: %s", msg);
    rep_ledger_free(&l);
    rep_doc_free(&d);
    rep_vec_free(&stations);
    rep_arena_free(&arena);
    rep_db_close(db);
    return status;
}

int report_command(int argc, char **argv)
{
    if (argc < 4)
        return usage("needs KIND and LEDGER (or --from postgresql://...)");
    const kind *k = NULL;
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++)
        if (strcmp(argv[2], KINDS[i].name) == 0)
            k = &KINDS[i];
    if (k == NULL) {
        char why[300];
        snprintf(why, sizeof why, "unknown kind '%.200s'", argv[2]);
        return usage(why);
    }
    source src = {.ledger_path = argv[3][0] != '-' ? argv[3] : NULL};
    const char *format = "html", *out_path = NULL;
    rep_query q = {.from = REP_NO_DAY, .to = REP_NO_DAY, .within_days = 30};
    rep_read_options o = {.progress = true};
    int bad = parse_options(argc, argv, src.ledger_path ? 4 : 3, &q, &o, &format, &out_path, &src);
    if (bad != HOST_EXIT_OK)
        return bad;
    if (src.database)
        return database_report(k, &src, &q, &o, format, out_path);
    if (k->build == NULL)
        return usage("report integrity reads the fleet database: --from postgresql://...");
    const char *ledger_path = src.ledger_path;
    /* Checks and gate decisions are read for the period only: every kind looks at them there
     * alone (the due list not at all). */
    o.wants = k->wants;
    o.bulk_from = q.from;
    o.bulk_to = q.to;
    rep_ledger l = {0};
    char msg[1024];
    int rc = rep_ledger_read(ledger_path, &o, &l, msg, sizeof msg);
    if (rc < 0) {
        host_diag("report: %s", msg);
        rep_ledger_free(&l);
        return rc == -EINVAL ? HOST_EXIT_USAGE : HOST_EXIT_IO;
    }
    rep_doc d = {.kind = k->name,
                 .title = k->title,
                 .ledger_path = ledger_path,
                 .node_id = l.node_id,
                 .verification = l.verification};
    set_period(&d, &q);
    add_verification(&d);
    if (l.verification.ok)
        rc = k->build(&l, &q, &d);
    int status = HOST_EXIT_OK;
    if (rc < 0) {
        host_diag("report: out of memory");
        status = HOST_EXIT_IO;
    } else {
        status = write_report(&d, format, out_path);
        if (status == HOST_EXIT_OK && !l.verification.ok) {
            host_diag("report: ledger %s NOT VERIFIED, no record presented: %s", ledger_path,
                      l.verification.why);
            status = HOST_EXIT_VERIFY_FAILED;
        }
    }
    rep_doc_free(&d);
    rep_ledger_free(&l);
    return status;
}
