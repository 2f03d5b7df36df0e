/* report_ledger.c — verify the ledger, then read the module's records into plain records
 * (report.h). Each verified line's head (seq, time, node_id, module, action: the first fields,
 * in the fixed order of ledger.h) is read by a yajl scan that stops after the action; only a
 * record the report uses is then parsed in full by jansson, as the host's own audit does. On a
 * ledger of a million records most are gate decisions a due list never looks at, and a tree
 * per record would cost more than all the rest. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>
#include <yajl/yajl_parse.h>

#include "ledger/ledger.h"
#include "ledger/ledger_audit.h"
#include "report/report.h"
#include "run/clock.h"
#include "zone/station_zone.h"

static const char *str(rep_ledger *l, const json_t *obj, const char *key)
{
    return rep_strdup(&l->arena, json_string_value(json_object_get(obj, key)));
}

static bool num(const json_t *obj, const char *key, double *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_number(v))
        return false;
    *out = json_number_value(v);
    return true;
}

static bool flag(const json_t *obj, const char *key)
{
    return json_is_true(json_object_get(obj, key));
}

static civil_day day_of(const json_t *obj, const char *key)
{
    const char *text = json_string_value(json_object_get(obj, key));
    date_value v;
    if (text == NULL || date_parse(text, &v, NULL, 0) < 0)
        return REP_NO_DAY;
    return v.day;
}

/* The tolerance of a result: the one of the same parameter and nominal among `tolerances`. */
static void match_tolerance(rep_result *r, const json_t *tolerances)
{
    size_t i;
    const json_t *t;
    json_array_foreach (tolerances, i, t) {
        const char *parameter = json_string_value(json_object_get(t, "parameter"));
        double nominal;
        bool has_nominal = num(t, "nominal", &nominal);
        if (parameter == NULL || strcmp(parameter, r->parameter) != 0 ||
            has_nominal != r->has_nominal || (has_nominal && nominal != r->nominal))
            continue;
        r->has_min = num(t, "min", &r->min);
        r->has_max = num(t, "max", &r->max);
        return;
    }
}

static int read_calibration(rep_ledger *l, uint64_t seq, int64_t ms, const json_t *m)
{
    rep_calibration *c = rep_vec_push(&l->calibrations, sizeof *c);
    if (c == NULL)
        return -ENOMEM;
    c->seq = seq;
    c->time_ms = ms;
    c->equipment = str(l, m, "equipment_id");
    c->equipment_type = str(l, m, "equipment_type");
    c->certificate = str(l, m, "certificate_number");
    c->provider = str(l, m, "provider");
    c->technician = str(l, m, "technician");
    c->reference = str(l, m, "reference_standard");
    c->date = day_of(m, "calibration_date");
    c->due = day_of(m, "due_date");
    c->found_in = flag(m, "as_found_in_tolerance");
    c->left_in = flag(m, "as_left_in_tolerance");
    c->suspect = flag(m, "suspect");
    c->retired = flag(m, "retired");
    const json_t *results = json_object_get(m, "results");
    size_t n = json_array_size(results);
    c->results = n ? rep_alloc(&l->arena, n * sizeof *c->results) : NULL;
    if (n && c->results == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const json_t *r = json_array_get(results, i);
        rep_result *out = &c->results[c->result_count++];
        out->parameter = str(l, r, "parameter");
        out->unit = str(l, r, "unit");
        if (out->parameter == NULL)
            out->parameter = "";
        out->has_nominal = num(r, "nominal", &out->nominal);
        out->has_found = num(r, "as_found", &out->found);
        out->has_left = num(r, "as_left", &out->left);
        match_tolerance(out, json_object_get(m, "tolerances"));
    }
    return 0;
}

/* A step's limit as the module words it (plugin/core/limits.c): "A to B U", "min A U",
 * "max B U". Only the numbers are taken; an unknown wording leaves the step without limits. */
static void read_limit(rep_step *s)
{
    if (s->limit == NULL)
        return;
    char unit[64];
    double a, b;
    if (sscanf(s->limit, "min %lf", &a) == 1) {
        s->has_min = true;
        s->min = a;
    } else if (sscanf(s->limit, "max %lf", &b) == 1) {
        s->has_max = true;
        s->max = b;
    } else if (sscanf(s->limit, "%lf to %lf %63s", &a, &b, unit) >= 2) {
        s->has_min = s->has_max = true;
        s->min = a;
        s->max = b;
    }
}

static int read_check(rep_ledger *l, uint64_t seq, int64_t ms, const char *user, const json_t *m)
{
    rep_check *c = rep_vec_push(&l->checks, sizeof *c);
    if (c == NULL)
        return -ENOMEM;
    c->seq = seq;
    c->time_ms = ms;
    c->equipment = str(l, m, "equipment_id");
    c->procedure = str(l, m, "check_type");
    c->frequency = str(l, m, "frequency");
    c->every = (int)json_integer_value(json_object_get(m, "every"));
    const json_t *shifts = json_object_get(m, "shift_starts");
    for (size_t i = 0; i < json_array_size(shifts) && c->shift_count < 8; i++) {
        const char *t = json_string_value(json_array_get(shifts, i));
        int hh, mm;
        if (t && sscanf(t, "%2d:%2d", &hh, &mm) == 2 && hh >= 0 && hh < 24 && mm >= 0 && mm < 60 &&
            (c->shift_count == 0 || hh * 60 + mm > c->shift_starts[c->shift_count - 1]))
            c->shift_starts[c->shift_count++] = hh * 60 + mm;
    }
    c->technician = rep_strdup(&l->arena, user);
    c->reference = str(l, m, "reference_instrument");
    c->passed = flag(m, "passed");
    c->suspect = flag(m, "suspect");
    const json_t *steps = json_object_get(m, "steps");
    size_t n = json_array_size(steps);
    c->steps = n ? rep_alloc(&l->arena, n * sizeof *c->steps) : NULL;
    if (n && c->steps == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_array_get(steps, i);
        rep_step *out = &c->steps[c->step_count++];
        out->id = str(l, s, "step_id");
        out->unit = str(l, s, "unit");
        out->limit = str(l, s, "limit");
        out->passed = flag(s, "passed");
        out->taken = !json_is_false(json_object_get(s, "taken"));
        out->has_value = num(s, "value", &out->value);
        out->reading = out->unit != NULL;
        read_limit(out);
    }
    return 0;
}

static int read_transition(rep_ledger *l, uint64_t seq, int64_t ms, const json_t *m)
{
    rep_transition *t = rep_vec_push(&l->transitions, sizeof *t);
    if (t == NULL)
        return -ENOMEM;
    t->seq = seq;
    t->time_ms = ms;
    t->equipment = str(l, m, "equipment_id");
    t->from = str(l, m, "from");
    t->to = str(l, m, "to");
    t->cause = str(l, m, "cause");
    t->ready = flag(m, "ready");
    t->due = day_of(m, "due_date");
    return 0;
}

static int read_tag(rep_ledger *l, uint64_t seq, int64_t ms, rep_tag_kind kind, const char *user,
                    const char *details, const json_t *m)
{
    rep_tag *t = rep_vec_push(&l->tags, sizeof *t);
    if (t == NULL)
        return -ENOMEM;
    t->seq = seq;
    t->time_ms = ms;
    t->kind = kind;
    t->equipment = str(l, m, "equipment_id");
    t->user = rep_strdup(&l->arena, user);
    t->text = rep_strdup(&l->arena, details);
    return 0;
}

static int read_gate(rep_ledger *l, uint64_t seq, int64_t ms, const char *target, const json_t *m)
{
    rep_gate *g = rep_vec_push(&l->gates, sizeof *g);
    if (g == NULL)
        return -ENOMEM;
    g->seq = seq;
    g->time_ms = ms;
    g->clientpo = rep_strdup(&l->arena, target);
    g->allowed = flag(m, "allowed");
    const json_t *items = json_object_get(m, "equipment");
    const json_t *blocked = json_object_get(m, "not_ready");
    size_t n = json_array_size(items), nb = json_array_size(blocked);
    g->equipment = rep_alloc(&l->arena, (n + 1) * sizeof *g->equipment);
    g->blocked = rep_alloc(&l->arena, (nb + 1) * sizeof *g->blocked);
    if (g->equipment == NULL || g->blocked == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(json_array_get(items, i));
        if (id)
            g->equipment[g->equipment_count++] = rep_strdup(&l->arena, id);
    }
    for (size_t i = 0; i < nb; i++) {
        const json_t *b = json_array_get(blocked, i);
        rep_block *out = &g->blocked[g->blocked_count++];
        out->equipment = str(l, b, "equipment_id");
        out->status = str(l, b, "status");
        out->reason = str(l, b, "reason");
    }
    return 0;
}

static int add_affected(rep_ledger *l, rep_vec *v, const char *kind, const char *subject,
                        const char *what, const char *when)
{
    rep_affected *a = rep_vec_push(v, sizeof *a);
    if (a == NULL)
        return -ENOMEM;
    a->kind = kind;
    a->subject = rep_strdup(&l->arena, subject);
    a->what = rep_strdup(&l->arena, what);
    a->when = rep_strdup(&l->arena, when);
    return 0;
}

static const char *get(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int read_oot(rep_ledger *l, uint64_t seq, int64_t ms, const json_t *m)
{
    rep_oot *o = rep_vec_push(&l->oots, sizeof *o);
    if (o == NULL)
        return -ENOMEM;
    o->seq = seq;
    o->time_ms = ms;
    o->equipment = str(l, m, "equipment_id");
    o->certificate = str(l, m, "certificate_number");
    o->finding = str(l, m, "out_of_tolerance");
    o->since = str(l, m, "suspect_since");
    o->until = str(l, m, "suspect_until");
    rep_vec v = {0};
    int rc = 0;
    size_t i, j;
    const json_t *x, *y;
    /* A finding whose lists were cut short lists everything in the review.page records after
     * it (read_review_page): the cut lists here would only repeat their first rows. */
    bool paged = json_object_get(m, "review_pages") != NULL;
    json_array_foreach (paged ? NULL : json_object_get(m, "clientpos"), i, x)
        rc = rc ? rc
                : add_affected(l, &v, "clientpo", get(x, "clientpo_id"), "test allowed",
                               get(x, "decided_at"));
    const json_t *verified = paged ? NULL : json_object_get(m, "verified_with_it");
    json_array_foreach (json_object_get(verified, "checks"), i, x) {
        char what[300];
        snprintf(what, sizeof what, "check %s", get(x, "check_type") ? get(x, "check_type") : "");
        rc = rc ? rc
                : add_affected(l, &v, "check", get(x, "equipment_id"), what,
                               get(x, "performed_at") ? get(x, "performed_at") : get(x, "time"));
    }
    json_array_foreach (json_object_get(verified, "calibrations"), i, x) {
        char what[300];
        snprintf(what, sizeof what, "calibration %s",
                 get(x, "certificate_number") ? get(x, "certificate_number") : "");
        rc = rc ? rc
                : add_affected(l, &v, "calibration", get(x, "equipment_id"), what,
                               get(x, "calibration_date"));
    }
    json_array_foreach (paged ? NULL : json_object_get(m, "chain"), i, x) {
        rc = rc ? rc : add_affected(l, &v, "chain", get(x, "equipment_id"), get(x, "via"), NULL);
        json_array_foreach (paged ? NULL : json_object_get(x, "clientpos"), j, y)
            rc = rc ? rc
                    : add_affected(l, &v, "clientpo", get(y, "clientpo_id"),
                                   "test allowed, down the chain", get(y, "decided_at"));
    }
    if (rc == 0 && v.count) {
        o->affected = rep_alloc(&l->arena, v.count * sizeof *o->affected);
        if (o->affected == NULL)
            rc = -ENOMEM;
        else {
            memcpy(o->affected, v.items, v.count * sizeof *o->affected);
            o->affected_count = v.count;
        }
    }
    rep_vec_free(&v);
    return rc;
}

/* One record of a review.page, as read_oot reads the same record in the finding. */
static int add_paged_record(rep_ledger *l, rep_vec *v, const char *list, const json_t *x)
{
    char what[300];
    if (strcmp(list, "checks") == 0) {
        snprintf(what, sizeof what, "check %s", get(x, "check_type") ? get(x, "check_type") : "");
        return add_affected(l, v, "check", get(x, "equipment_id"), what, get(x, "performed_at"));
    }
    if (strcmp(list, "calibrations") == 0) {
        snprintf(what, sizeof what, "calibration %s",
                 get(x, "certificate_number") ? get(x, "certificate_number") : "");
        return add_affected(l, v, "calibration", get(x, "equipment_id"), what,
                            get(x, "calibration_date"));
    }
    return add_affected(l, v, "chain", get(x, "equipment_id"), get(x, "via"), NULL);
}

/* A page of what a finding cut short lists (review.page of an oot.impact): added to the work
 * to assess of the latest finding it names. A page of a failed check's review is not in any
 * report. */
static int read_review_page(rep_ledger *l, const json_t *m)
{
    const char *of = get(m, "of"), *equipment = get(m, "equipment_id"),
               *certificate = get(m, "certificate_number");
    if (!of || strcmp(of, "oot.impact") != 0 || !equipment || !certificate)
        return 0;
    rep_oot *o = NULL;
    for (size_t i = l->oots.count; i-- > 0 && !o;) {
        rep_oot *c = REP_AT(l->oots, rep_oot, i);
        if (c->equipment && c->certificate && strcmp(c->equipment, equipment) == 0 &&
            strcmp(c->certificate, certificate) == 0)
            o = c;
    }
    if (!o)
        return 0;
    rep_vec v = {0};
    int rc = 0;
    size_t i;
    const json_t *x;
    json_array_foreach (json_object_get(m, "jobs"), i, x) {
        const char *list = get(x, "list");
        rc = rc ? rc
                : add_affected(l, &v, "clientpo", get(x, "clientpo_id"),
                               list && strcmp(list, "chain") == 0 ? "test allowed, down the chain"
                                                                  : "test allowed",
                               get(x, "decided_at"));
    }
    json_array_foreach (json_object_get(m, "records"), i, x) {
        const char *list = get(x, "list");
        rc = rc || !list ? rc : add_paged_record(l, &v, list, json_object_get(x, "record"));
    }
    rep_affected *all =
        rc || !v.count ? NULL : rep_alloc(&l->arena, (o->affected_count + v.count) * sizeof *all);
    if (rc == 0 && v.count && all == NULL)
        rc = -ENOMEM;
    if (rc == 0 && all) {
        if (o->affected_count)
            memcpy(all, o->affected, o->affected_count * sizeof *all);
        memcpy(all + o->affected_count, v.items, v.count * sizeof *all);
        o->affected = all;
        o->affected_count += v.count;
    }
    rep_vec_free(&v);
    return rc;
}

static int read_contracts(rep_ledger *l, uint64_t seq, int64_t ms, const json_t *m)
{
    rep_contracts *c = rep_vec_push(&l->contracts, sizeof *c);
    if (c == NULL)
        return -ENOMEM;
    c->seq = seq;
    c->time_ms = ms;
    c->cause = str(l, m, "cause");
    const json_t *list = json_object_get(m, "contracts");
    size_t n = json_array_size(list);
    c->contracts = rep_alloc(&l->arena, (n + 1) * sizeof *c->contracts);
    if (c->contracts == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(list, i);
        rep_contract *out = &c->contracts[c->count++];
        out->contract_id = str(l, x, "contract_id");
        out->file = str(l, x, "file");
        out->sha256 = str(l, x, "sha256");
        out->version = json_integer_value(json_object_get(x, "version"));
    }
    return 0;
}

/* A store.opened record: the station's zone from then on (a record before the module said
 * its zone names none, and changes nothing). The same zone as the one before is not opened
 * again. A zone this host's ICU does not know is said in the report, and its days stay those
 * of the zone before (UTC when none). */
static int read_zone(rep_ledger *l, uint64_t seq, int64_t ms, const json_t *m)
{
    const char *iana = json_string_value(json_object_get(m, "time_zone"));
    const char *offset = json_string_value(json_object_get(m, "utc_offset"));
    const char *name = iana ? iana : offset;
    if (name == NULL)
        return 0;
    const char *tzdata = json_string_value(json_object_get(m, "tzdata"));
    if (l->zones.count) {
        const rep_zone *last = REP_AT(l->zones, rep_zone, l->zones.count - 1);
        if (strcmp(last->name, name) == 0)
            return 0;
    }
    station_zone *z = NULL;
    smart_error err = {0, ""};
    int minutes = 0;
    int rc = iana ? station_zone_open(iana, "store.opened time_zone", &z, &err)
             : utc_offset_parse(offset, &minutes) == 0 ? station_zone_fixed(minutes, &z, &err)
                                                       : SMART_EINVAL;
    if (rc == SMART_ENOMEM)
        return -ENOMEM;
    if (rc != 0) {
        l->zone_warning = rep_printf(&l->arena,
                                     "record %" PRIu64 " names the zone '%.64s', "
                                     "which this host cannot open (%s): its days are counted "
                                     "in the zone before it",
                                     seq, name, err.text[0] ? err.text : "not +HH:MM");
        return l->zone_warning ? 0 : -ENOMEM;
    }
    rep_zone *slot = rep_vec_push(&l->zones, sizeof *slot);
    if (slot == NULL) {
        station_zone_free(z);
        return -ENOMEM;
    }
    *slot = (rep_zone){.seq = seq,
                       .time_ms = ms,
                       .name = rep_strdup(&l->arena, name),
                       .tzdata = rep_strdup(&l->arena, tzdata),
                       .zone = z};
    const char *here = station_zone_tzdata_version();
    if (iana && tzdata && strcmp(tzdata, here) != 0)
        l->zone_warning = rep_printf(&l->arena,
                                     "the module read %s from tzdata %s, this host "
                                     "from %s: a day near a changed rule may differ",
                                     name, tzdata, here);
    return 0;
}

/* The head of a line, from a yajl scan of its top-level fields up to "action". */
typedef struct head {
    int depth;
    int field; /* which top-level key is next: 0 none of ours */
    char time[48], node_id[256], module[64], action[64];
} head;

enum { F_NONE, F_TIME, F_NODE, F_MODULE, F_ACTION };

static int scan_key(void *ctx, const unsigned char *key, size_t len)
{
    head *h = ctx;
    h->field = F_NONE;
    if (h->depth != 1)
        return 1;
    static const struct {
        const char *name;
        int field;
    } keys[] = {{"time", F_TIME}, {"node_id", F_NODE}, {"module", F_MODULE}, {"action", F_ACTION}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strlen(keys[i].name) == len && memcmp(keys[i].name, key, len) == 0)
            h->field = keys[i].field;
    return 1;
}

static int scan_string(void *ctx, const unsigned char *s, size_t len)
{
    head *h = ctx;
    char *to = h->field == F_TIME     ? h->time
               : h->field == F_NODE   ? h->node_id
               : h->field == F_MODULE ? h->module
               : h->field == F_ACTION ? h->action
                                      : NULL;
    size_t size = h->field == F_TIME   ? sizeof h->time
                  : h->field == F_NODE ? sizeof h->node_id
                                       : sizeof h->module; /* module and action: 64 */
    if (to && h->depth == 1) {
        if (len >= size)
            len = size - 1;
        memcpy(to, s, len);
        to[len] = '\0';
    }
    bool last = h->field == F_ACTION && h->depth == 1;
    h->field = F_NONE;
    return last ? 0 : 1; /* the action is the last field needed: stop there */
}

static int scan_other(void *ctx)
{
    ((head *)ctx)->field = F_NONE;
    return 1;
}
static int scan_bool(void *ctx, int b)
{
    (void)b;
    return scan_other(ctx);
}
static int scan_number(void *ctx, const char *n, size_t len)
{
    (void)n;
    (void)len;
    return scan_other(ctx);
}
static int scan_open(void *ctx)
{
    head *h = ctx;
    h->depth++;
    h->field = F_NONE;
    return 1;
}
static int scan_close(void *ctx)
{
    ((head *)ctx)->depth--;
    return 1;
}

static const yajl_callbacks HEAD_CALLBACKS = {
    .yajl_null = scan_other,
    .yajl_boolean = scan_bool,
    .yajl_number = scan_number,
    .yajl_string = scan_string,
    .yajl_start_map = scan_open,
    .yajl_map_key = scan_key,
    .yajl_end_map = scan_close,
    .yajl_start_array = scan_open,
    .yajl_end_array = scan_close,
};

/* Which kind each action the reports read is (the one table: the file's reader and the
 * database's query, rep_wanted_actions, both follow it). */
static const struct {
    const char *action;
    unsigned want;
    bool bulk;
} WANTS[] = {
    {"gate.decision", REP_WANT_GATES, true},
    {"maintenance.checked", REP_WANT_CHECKS, true},
    {"status.transition", REP_WANT_TRANSITIONS, false},
    {"calibration.recorded", REP_WANT_CALIBRATIONS, false},
    {"equipment.out_of_service", REP_WANT_TAGS, false},
    {"equipment.return_to_service", REP_WANT_TAGS, false},
    {"calibration.scheduled", REP_WANT_TAGS, false},
    {"oot.impact", REP_WANT_OOTS, false},
    {"review.page", REP_WANT_OOTS, false},
    {"contracts.loaded", REP_WANT_CONTRACTS, false},
    {"equipment.retired", REP_WANT_RETIRED, false},
};

static unsigned want_of(const char *action, bool *bulk)
{
    for (size_t i = 0; i < sizeof WANTS / sizeof WANTS[0]; i++)
        if (strcmp(action, WANTS[i].action) == 0) {
            *bulk = WANTS[i].bulk;
            return WANTS[i].want;
        }
    return 0;
}

size_t rep_wanted_actions(unsigned wants, const char **actions, size_t max)
{
    size_t n = 0;
    if (n < max)
        actions[n] = "store.opened"; /* the zone: every kind counts the station's days */
    n++;
    for (size_t i = 0; i < sizeof WANTS / sizeof WANTS[0]; i++)
        if (wants == 0 || (wants & WANTS[i].want)) {
            if (n < max)
                actions[n] = WANTS[i].action;
            n++;
        }
    return n;
}

bool rep_bulk_action(const char *action)
{
    bool bulk = false;
    want_of(action, &bulk);
    return bulk;
}

/* One verified line. */
int rep_ledger_line(rep_ledger *l, const rep_read_options *o, const char *line, size_t len,
                    char *msg, size_t msg_size)
{
    head h = {0};
    yajl_handle y = yajl_alloc(&HEAD_CALLBACKS, NULL, &h);
    if (y == NULL) {
        snprintf(msg, msg_size, "ledger %s: out of memory", l->path);
        return -ENOMEM;
    }
    yajl_parse(y, (const unsigned char *)line, len); /* cancelled at the action, by design */
    yajl_free(y);
    int64_t ms = 0;
    char why[200];
    if (h.time[0])
        rfc3339_parse(h.time, &ms, why, sizeof why);
    l->records++;
    if (l->records == 1) {
        l->first_ms = ms;
        l->node_id = rep_strdup(&l->arena, h.node_id);
    }
    l->last_ms = ms;
    bool bulk = false;
    bool mine = strcmp(h.module, "smart-maintenance") == 0;
    /* The zone is read whatever the kind: every kind counts the station's days. */
    bool zone = mine && strcmp(h.action, "store.opened") == 0;
    unsigned want = mine ? want_of(h.action, &bulk) : 0;
    if (!zone && (want == 0 || (o->wants && !(o->wants & want))))
        return 0;
    if (bulk) {
        civil_day day = rep_day_of(l, ms);
        if ((o->bulk_from != REP_NO_DAY && day < o->bulk_from) ||
            (o->bulk_to != REP_NO_DAY && day > o->bulk_to))
            return 0;
    }
    json_error_t error;
    json_t *rec = json_loadb(line, len, 0, &error);
    if (!json_is_object(rec)) {
        json_decref(rec);
        snprintf(msg, msg_size, "ledger %s: record %" PRIu64 " (a verified line): %s", l->path,
                 l->records, error.text);
        return -EINVAL;
    }
    uint64_t seq = (uint64_t)json_integer_value(json_object_get(rec, "seq"));
    const char *action = h.action, *user = get(rec, "user_id");
    const char *target = get(rec, "target"), *details = get(rec, "details");
    json_t *m = json_object_get(rec, "metadata");
    int rc = 0;
    if (zone)
        rc = read_zone(l, seq, ms, m);
    else if (strcmp(action, "calibration.recorded") == 0)
        rc = read_calibration(l, seq, ms, m);
    else if (strcmp(action, "maintenance.checked") == 0)
        rc = read_check(l, seq, ms, user, m);
    else if (strcmp(action, "status.transition") == 0)
        rc = read_transition(l, seq, ms, m);
    else if (strcmp(action, "equipment.out_of_service") == 0)
        rc = read_tag(l, seq, ms, REP_TAG_OUT, user, details, m);
    else if (strcmp(action, "equipment.return_to_service") == 0)
        rc = read_tag(l, seq, ms, REP_TAG_RETURN, user, details, m);
    else if (strcmp(action, "calibration.scheduled") == 0)
        rc = read_tag(l, seq, ms, REP_TAG_SENT_OUT, user, details, m);
    else if (strcmp(action, "gate.decision") == 0)
        rc = read_gate(l, seq, ms, target, m);
    else if (strcmp(action, "oot.impact") == 0)
        rc = read_oot(l, seq, ms, m);
    else if (strcmp(action, "review.page") == 0)
        rc = read_review_page(l, m);
    else if (strcmp(action, "contracts.loaded") == 0)
        rc = read_contracts(l, seq, ms, m);
    else if (strcmp(action, "equipment.retired") == 0) {
        rep_retired *r = rep_vec_push(&l->retired, sizeof *r);
        if (r == NULL)
            rc = -ENOMEM;
        else {
            r->seq = seq;
            r->time_ms = ms;
            r->equipment = rep_strdup(&l->arena, target);
        }
    }
    json_decref(rec);
    if (rc == -ENOMEM)
        snprintf(msg, msg_size, "ledger %s: out of memory", l->path);
    return rc;
}

#define PROGRESS_BYTES (64ull << 20) /* a ledger this large gets a progress line */

static int read_records(rep_ledger *l, const rep_read_options *o, char *msg, size_t msg_size)
{
    FILE *f = fopen(l->path, "rb");
    if (f == NULL) {
        int rc = -errno;
        snprintf(msg, msg_size, "ledger %s: cannot open: %s", l->path, strerror(errno));
        return rc;
    }
    struct stat st;
    uint64_t size = fstat(fileno(f), &st) == 0 ? (uint64_t)st.st_size : 0;
    bool progress = o->progress && size >= PROGRESS_BYTES;
    static const size_t buffer_size = 1u << 20;
    setvbuf(f, NULL, _IOFBF, buffer_size);
    /* Two buffers in turn, so the last complete line is still at hand at the end. */
    char *lines[2] = {NULL, NULL};
    size_t caps[2] = {0, 0};
    int cur = 0;
    ssize_t n, last_n = 0;
    uint64_t done = 0, shown = 0;
    int rc = 0;
    /* Complete lines only: a last line without its newline is a torn write, which the
     * verification running meanwhile refuses. */
    while (rc == 0 && (n = getline(&lines[cur], &caps[cur], f)) > 0 && lines[cur][n - 1] == '\n') {
        done += (uint64_t)n;
        rc = rep_ledger_line(l, o, lines[cur], (size_t)n - 1, msg, msg_size);
        last_n = n;
        cur ^= 1;
        if (progress && done - shown >= size / 10) {
            shown = done;
            fprintf(stderr, "smart-host report: read %" PRIu64 " records (%" PRIu64 " %%)\n",
                    l->records, done * 100 / size);
        }
    }
    /* The last record's hash: the chain's head once the verification has found it intact
     * (and the same number of records), so the audit with a key need not walk the chain a
     * second time for it. */
    if (rc == 0 && last_n > 0) {
        json_t *last = json_loadb(lines[cur ^ 1], (size_t)last_n - 1, 0, NULL);
        const char *hash = json_string_value(json_object_get(last, "hash"));
        if (hash && strlen(hash) == sizeof l->last_hash - 1)
            memcpy(l->last_hash, hash, sizeof l->last_hash);
        json_decref(last);
    }
    free(lines[0]);
    free(lines[1]);
    fclose(f);
    return rc;
}

/* The verification, on a thread of its own while the records are read: it is most of the cost
 * (every byte hashed and scanned), and the two together take the machine's two cores. */
typedef struct verify_job {
    const char *path;
    const rep_read_options *o;
    rep_verification v;
    int rc;
    char msg[1024];
} verify_job;

static void verify(void *arg)
{
    verify_job *job = arg;
    rep_verification *v = &job->v;
    const char *path = job->path;
    if (job->o->key_path == NULL) {
        ledger_verify_result chain;
        job->rc = ledger_verify_file(path, &chain, job->msg, sizeof job->msg);
        if (job->rc < 0)
            return;
        v->ok = chain.ok;
        v->records = chain.records;
        memcpy(v->head_hash, chain.head_hash, sizeof v->head_hash);
        if (!chain.ok) {
            v->bad_seq = chain.bad_seq;
            ledger_describe_failure(path, &chain, v->why, sizeof v->why);
        }
        return;
    }
    smart_error err = {0, ""};
    msig_public_key key;
    if (msig_init(&err) < 0 || msig_public_key_load(job->o->key_path, &key, &err) < 0) {
        snprintf(job->msg, sizeof job->msg, "--key: %s", err.text);
        job->rc = -EINVAL;
        return;
    }
    ledger_audit_result r;
    job->rc = ledger_audit(path, &key, job->o->checkpoints_path, &r, job->msg, sizeof job->msg);
    if (job->rc < 0)
        return;
    v->signed_checked = true;
    v->ok = r.ok;
    v->records = r.records;
    v->bad_seq = r.bad_seq;
    v->last_signed_seq = r.last_signed_seq;
    v->unsigned_after = r.unsigned_after;
    v->checkpoints = r.checkpoints;
    if (!r.ok) {
        snprintf(v->why, sizeof v->why, "%s", r.why);
        /* The chain's head as far as it holds, for the report to name. (When the audit holds,
         * the head is the last record's hash, which the reader keeps: rep_ledger_read.) */
        ledger_verify_result chain;
        if (ledger_verify_file(path, &chain, job->msg, sizeof job->msg) == 0)
            memcpy(v->head_hash, chain.head_hash, sizeof v->head_hash);
    }
}

static void drop_records(rep_ledger *l)
{
    rep_vec *vecs[] = {&l->calibrations, &l->transitions, &l->checks,    &l->tags,
                       &l->gates,        &l->oots,        &l->contracts, &l->retired};
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++)
        rep_vec_free(vecs[i]);
    l->records = 0;
    l->node_id = NULL;
}

int rep_ledger_read(const char *path, const rep_read_options *o, rep_ledger *l, char *msg,
                    size_t msg_size)
{
    l->path = rep_strdup(&l->arena, path);
    if (o->progress) {
        struct stat st;
        if (stat(path, &st) == 0 && (uint64_t)st.st_size >= PROGRESS_BYTES)
            fprintf(stderr, "smart-host report: verifying and reading %s (%lld MB)\n", path,
                    (long long)(st.st_size >> 20));
    }
    verify_job job = {.path = path, .o = o};
    uv_thread_t thread;
    bool threaded = uv_thread_create(&thread, verify, &job) == 0;
    if (!threaded)
        verify(&job);
    int rc = read_records(l, o, msg, msg_size);
    if (threaded)
        uv_thread_join(&thread);
    l->verification = job.v;
    if (job.rc < 0) {
        snprintf(msg, msg_size, "%s", job.msg);
        drop_records(l);
        return job.rc;
    }
    if (!job.v.ok) {
        drop_records(l); /* nothing of a broken chain is presented */
        return 0;
    }
    if (job.v.signed_checked && l->records == job.v.records)
        memcpy(l->verification.head_hash, l->last_hash, sizeof l->last_hash);
    if (rc == 0 && l->records != job.v.records) {
        snprintf(msg, msg_size,
                 "ledger %s changed while it was read (%" PRIu64 " records verified, %" PRIu64
                 " read): run the report again",
                 path, job.v.records, l->records);
        rc = -EIO;
    }
    if (rc < 0)
        drop_records(l);
    return rc;
}

void rep_ledger_free(rep_ledger *l)
{
    drop_records(l);
    for (size_t i = 0; i < l->zones.count; i++)
        station_zone_free(REP_AT(l->zones, rep_zone, i)->zone);
    rep_vec_free(&l->zones);
    rep_arena_free(&l->arena);
}
