/* report_cli.c — `smart-host report KIND LEDGER [options]`: arguments, then read, compute,
 * write (report.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/diag.h"
#include "report/report.h"
#include "run/host.h"

typedef struct kind {
    const char *name, *title;
    int (*build)(const rep_ledger *, const rep_query *, rep_doc *);
    unsigned wants; /* the record kinds it reads (REP_WANT_*) */
} kind;

#define DUE_WANTS (REP_WANT_TRANSITIONS | REP_WANT_CALIBRATIONS | REP_WANT_TAGS | REP_WANT_RETIRED)

static const kind KINDS[] = {
    {"due", "Due list (recall list)", report_due_list, DUE_WANTS},
    {"history", "Equipment history", report_history,
     REP_WANT_CALIBRATIONS | REP_WANT_CHECKS | REP_WANT_TRANSITIONS | REP_WANT_TAGS |
         REP_WANT_GATES},
    {"oot", "Out-of-tolerance register", report_oot_register,
     REP_WANT_OOTS | REP_WANT_CALIBRATIONS},
    {"gate", "Gate activity", report_gate_activity, REP_WANT_GATES},
    {"compliance", "Check compliance", report_compliance, REP_WANT_CHECKS | REP_WANT_GATES},
    {"trend", "Accuracy trend and interval analysis", report_trend,
     REP_WANT_CALIBRATIONS | REP_WANT_CHECKS},
    {"audit", "Audit pack", report_audit_pack, REP_WANT_ALL},
};

static const char USAGE[] =
    "usage: smart-host report KIND LEDGER [--from DATE] [--to DATE] [--within DAYS]\n"
    "                         [--equipment ID] [--format html|csv|json] [--out FILE]\n"
    "                         [--key PUB [--checkpoints FILE]]\n"
    "  KIND: due, history, oot, gate, compliance, trend, audit\n";

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
    if (v->signed_checked && v->ok)
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
static int parse_options(int argc, char **argv, rep_query *q, rep_read_options *o,
                         const char **format, const char **out_path)
{
    for (int i = 4; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc || a[0] != '-') {
            char why[300];
            snprintf(why, sizeof why, "unexpected '%.200s'", a);
            return usage(why);
        }
        const char *v = argv[++i];
        if (strcmp(a, "--from") == 0) {
            if (day_arg(a, v, &q->from) < 0)
                return HOST_EXIT_USAGE;
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

int report_command(int argc, char **argv)
{
    if (argc < 4)
        return usage("needs KIND and LEDGER");
    const kind *k = NULL;
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++)
        if (strcmp(argv[2], KINDS[i].name) == 0)
            k = &KINDS[i];
    if (k == NULL) {
        char why[300];
        snprintf(why, sizeof why, "unknown kind '%.200s'", argv[2]);
        return usage(why);
    }
    const char *ledger_path = argv[3], *format = "html", *out_path = NULL;
    rep_query q = {.from = REP_NO_DAY, .to = REP_NO_DAY, .within_days = 30};
    rep_read_options o = {.progress = true};
    int bad = parse_options(argc, argv, &q, &o, &format, &out_path);
    if (bad != HOST_EXIT_OK)
        return bad;
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
    char from[16] = "", to[16] = "";
    if (q.from != REP_NO_DAY)
        civil_format(q.from, from, sizeof from);
    if (q.to != REP_NO_DAY)
        civil_format(q.to, to, sizeof to);
    if (from[0] || to[0])
        d.period = rep_printf(&d.arena, "period %s to %s", from[0] ? from : "the first record",
                              to[0] ? to : "the last record");
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
