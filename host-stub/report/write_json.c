/* write_json.c — a report as JSON (schemas/report.schema.json), built with jansson. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "report/report.h"

/* A real rounded to its decimals, so that JSON says what CSV and HTML print. */
static json_t *real(double v, int decimals)
{
    double scale = pow(10, decimals);
    double r = round(v * scale) / scale;
    return json_real(r == 0 ? 0 : r);
}

static json_t *cell(const rep_cell *c)
{
    switch (c->kind) {
    case REP_TEXT: return json_string(c->text);
    case REP_INT: return json_integer(c->i);
    case REP_REAL: return real(c->r, c->decimals);
    case REP_BOOL: return json_boolean(c->b);
    case REP_NULL:
    default: return json_null();
    }
}

static const char *const MARKS[] = {"none", "warn", "bad"};

static json_t *section(const rep_section *s)
{
    json_t *columns = json_array(), *rows = json_array(), *charts = json_array(),
           *notes = json_array();
    for (size_t c = 0; c < s->column_count; c++)
        json_array_append_new(columns, json_string(s->columns[c]));
    for (size_t j = 0; j < s->rows.count; j++) {
        const rep_row *r = REP_ROW(s, j);
        json_t *values = json_object(), *seqs = json_array();
        for (size_t c = 0; c < s->column_count; c++)
            json_object_set_new(values, s->columns[c], cell(&r->cells[c]));
        for (size_t k = 0; k < r->seqs.count; k++)
            json_array_append_new(seqs, json_integer((json_int_t)*REP_AT(r->seqs, uint64_t, k)));
        json_array_append_new(rows, json_pack("{s:o,s:o,s:s}", "values", values, "seqs", seqs,
                                              "mark", MARKS[r->mark]));
    }
    for (size_t j = 0; j < s->charts.count; j++) {
        const rep_chart *ch = REP_CHART(s, j);
        json_t *points = json_array();
        for (size_t k = 0; k < ch->points.count; k++) {
            const rep_point *p = REP_AT(ch->points, rep_point, k);
            char day[16];
            civil_format(p->day, day, sizeof day);
            json_array_append_new(points,
                                  json_pack("{s:s,s:o,s:I,s:b}", "date", day, "y", real(p->y, 6),
                                            "seq", (json_int_t)p->seq, "outside", p->outside));
        }
        json_array_append_new(
            charts, json_pack("{s:s,s:s,s:s,s:o,s:o,s:o}", "id", ch->id, "title", ch->title, "unit",
                              ch->unit, "low", ch->has_low ? real(ch->low, 6) : json_null(), "high",
                              ch->has_high ? real(ch->high, 6) : json_null(), "points", points));
    }
    for (size_t j = 0; j < s->notes.count; j++)
        json_array_append_new(notes, json_string(*REP_AT(s->notes, const char *, j)));
    return json_pack("{s:s,s:s,s:o,s:o,s:o,s:o,s:o}", "id", s->id, "title", s->title, "note",
                     s->note ? json_string(s->note) : json_null(), "columns", columns, "rows", rows,
                     "charts", charts, "notes", notes);
}

static int dump(json_t *doc, FILE *out)
{
    if (doc == NULL)
        return -ENOMEM;
    int rc = json_dumpf(doc, out, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(doc);
    fputc('\n', out);
    return rc < 0 || ferror(out) ? -EIO : 0;
}

/* A fleet-wide report (schemas/fleet-KIND.schema.json): the database and station instead of
 * a ledger and its verification, which the stations section and `report integrity` carry. */
static int write_fleet(const rep_doc *d, FILE *out)
{
    json_t *sections = json_array();
    for (size_t i = 0; i < d->sections.count; i++)
        json_array_append_new(sections, section(REP_SECTION(d, i)));
    return dump(json_pack("{s:s,s:s,s:s?,s:{s:s,s:s?,s:s},s:o}", "report", d->kind, "title",
                          d->title, "period", d->period, "fleet", "database", d->ledger_path,
                          "node", d->node_id, "checked", d->source_note, "sections", sections),
                out);
}

int rep_write_json(const rep_doc *d, FILE *out)
{
    if (d->fleet)
        return write_fleet(d, out);
    const rep_verification *v = &d->verification;
    json_t *verification =
        json_pack("{s:b,s:I,s:s,s:b}", "ok", v->ok, "records", (json_int_t)v->records, "head_hash",
                  v->head_hash, "checkpoints_checked", v->signed_checked);
    if (v->signed_checked && v->ok) {
        json_object_set_new(verification, "last_signed_seq",
                            json_integer((json_int_t)v->last_signed_seq));
        json_object_set_new(verification, "unsigned_after",
                            json_integer((json_int_t)v->unsigned_after));
    }
    if (!v->ok) {
        json_object_set_new(verification, "bad_seq", json_integer((json_int_t)v->bad_seq));
        json_object_set_new(verification, "why", json_string(v->why));
    }
    json_t *sections = json_array();
    for (size_t i = 0; i < d->sections.count; i++)
        json_array_append_new(sections, section(REP_SECTION(d, i)));
    json_t *doc =
        json_pack("{s:s,s:s,s:s?,s:{s:s,s:s?},s:o,s:o}", "report", d->kind, "title", d->title,
                  "period", d->period, "ledger", "path", d->ledger_path, "node_id", d->node_id,
                  "verification", verification, "sections", sections);
    return dump(doc, out);
}
