/* write_html.c — a report as one self-contained HTML page: no script, no network, the styles
 * inline, every chart an SVG drawn here; readable on a phone (fluid tables that scroll, charts
 * that scale) and printable on A4 or Letter (@media print, @page). All text is escaped. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "report/report.h"

static void esc(FILE *out, const char *text)
{
    for (const char *p = text ? text : ""; *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: fputc(*p, out);
        }
    }
}

static const char STYLE[] =
    "<style>\n"
    ":root{--ok:#1b6e3a;--bad:#b3261e;--warn:#8a5a00;--line:#ccd;}\n"
    "body{font:15px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;"
    "max-width:1100px;padding:12px;color:#111;background:#fff}\n"
    "code{overflow-wrap:anywhere}h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;margin:1.4em "
    "0 .4em;border-bottom:2px "
    "solid "
    "#335}\n"
    ".verify{padding:10px 12px;border-radius:6px;margin:10px 0;border:2px solid;"
    "overflow-wrap:anywhere}\n"
    ".verify.ok{border-color:var(--ok);background:#eef8f0}.verify.failed{border-color:var(--bad);"
    "background:#fdeeee}\n"
    ".scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}\n"
    "table{border-collapse:collapse;width:100%;font-size:.9em}\n"
    "th,td{border:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top}\n"
    "th{background:#eef;position:sticky;top:0}td.n{text-align:right;font-variant-numeric:"
    "tabular-nums}\n"
    "tr.bad td{background:#fdeeee}tr.warn td{background:#fff6e0}\n"
    "td.seqs{font-size:.8em;color:#445;word-break:break-all}\n"
    ".note{color:#333;margin:.3em 0}.reason{background:#f5f5fa;padding:6px 10px;margin:.4em 0;"
    "border-left:3px solid #88a}\n"
    "figure{margin:10px 0;break-inside:avoid}figcaption{font-weight:600}\n"
    "svg.chart{width:100%;max-width:720px;height:auto;border:1px solid var(--line)}\n"
    ".band{fill:#d8f0dd}.limit{stroke:var(--bad);stroke-dasharray:6 4;stroke-width:1.5}\n"
    ".series{fill:none;stroke:#225;stroke-width:1.5}.pt{fill:#225}.pt.outside{fill:var(--bad)}\n"
    ".axis{stroke:#667;stroke-width:1}.tick{font-size:11px;fill:#445}\n"
    ".toc ol{columns:2 18em;margin:.3em 0;padding-left:1.4em}.toc a{color:#225}\n"
    "@media (max-width:600px){body{font-size:14px;padding:6px}th,td{padding:2px 4px}}\n"
    "@page{size:auto;margin:14mm}\n"
    "@media print{body{max-width:none;padding:0;font-size:8pt}th{position:static}"
    "table{font-size:7.5pt}td,th{padding:1px 3px;word-break:break-word}.toc{break-after:page}"
    "h2{break-after:avoid}tr{break-inside:avoid}.scroll{overflow:visible}"
    "a{color:inherit;text-decoration:none}section{break-before:auto}}\n"
    "</style>\n";

static void number(FILE *out, double v)
{
    fprintf(out, "%.6g", v);
}

#define W 720.0
#define H 300.0
#define L 70.0 /* left margin, for the y ticks */
#define R 16.0
#define T 16.0
#define B 40.0

/* The chart's value range (the points and limits, padded by a tenth) and its day range. */
static void chart_range(const rep_chart *c, double *ymin_out, double *ymax_out, civil_day *dmin_out,
                        civil_day *dmax_out)
{
    size_t n = c->points.count;
    double ymin = INFINITY, ymax = -INFINITY;
    civil_day dmin = INT32_MAX, dmax = INT32_MIN;
    for (size_t i = 0; i < n; i++) {
        const rep_point *p = REP_AT(c->points, rep_point, i);
        ymin = fmin(ymin, p->y);
        ymax = fmax(ymax, p->y);
        dmin = p->day < dmin ? p->day : dmin;
        dmax = p->day > dmax ? p->day : dmax;
    }
    if (c->has_low) {
        ymin = fmin(ymin, c->low);
        ymax = fmax(ymax, c->low);
    }
    if (c->has_high) {
        ymin = fmin(ymin, c->high);
        ymax = fmax(ymax, c->high);
    }
    double pad = (ymax - ymin) * 0.1;
    if (pad == 0)
        pad = fabs(ymax) * 0.1 + 1;
    ymin -= pad;
    ymax += pad;
    if (dmax == dmin)
        dmax = dmin + 1;
    *ymin_out = ymin;
    *ymax_out = ymax;
    *dmin_out = dmin;
    *dmax_out = dmax;
}

/* The figure's opening: its caption and the svg element with its title. */
static void chart_open(FILE *out, const rep_chart *c, size_t n)
{
    fprintf(out, "<figure data-chart=\"");
    esc(out, c->id);
    fprintf(out, "\" data-points=\"%zu\"><figcaption>", n);
    esc(out, c->title);
    if (c->unit[0]) {
        fputs(" (", out);
        esc(out, c->unit);
        fputs(")", out);
    }
    fprintf(out,
            "</figcaption>\n<svg class=\"chart\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
            "xmlns=\"http://www.w3.org/2000/svg\"><title>",
            W, H);
    esc(out, c->title);
    fputs("</title>\n", out);
}

static void chart(FILE *out, const rep_chart *c)
{
    size_t n = c->points.count;
    if (n == 0)
        return;
    double ymin, ymax;
    civil_day dmin, dmax;
    chart_range(c, &ymin, &ymax, &dmin, &dmax);
#define X(day) (L + ((double)(day)-dmin) / (dmax - dmin) * (W - L - R))
#define Y(v)   (T + (ymax - (v)) / (ymax - ymin) * (H - T - B))
    chart_open(out, c, n);
    if (c->has_low && c->has_high)
        fprintf(out,
                "<rect class=\"band\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n", L,
                Y(c->high), W - L - R, Y(c->low) - Y(c->high));
    if (c->has_low)
        fprintf(out,
                "<line class=\"limit\" data-limit=\"low\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" "
                "y2=\"%.1f\"/>\n",
                L, W - R, Y(c->low), Y(c->low));
    if (c->has_high)
        fprintf(out,
                "<line class=\"limit\" data-limit=\"high\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" "
                "y2=\"%.1f\"/>\n",
                L, W - R, Y(c->high), Y(c->high));
    fprintf(out, "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", L, L, T,
            H - B);
    fprintf(out, "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>\n", L,
            W - R, H - B, H - B);
    for (int k = 0; k <= 4; k++) {
        double v = ymin + (ymax - ymin) * k / 4;
        fprintf(out, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", L - 4,
                Y(v) + 4);
        number(out, v);
        fputs("</text>", out);
    }
    char day[16];
    civil_format(dmin, day, sizeof day);
    fprintf(out, "\n<text class=\"tick\" x=\"%.1f\" y=\"%.1f\">%s</text>", L, H - B + 16, day);
    if (dmax - dmin > 2) {
        civil_format(dmin + (dmax - dmin) / 2, day, sizeof day);
        fprintf(out, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>",
                X(dmin + (dmax - dmin) / 2), H - B + 16, day);
    }
    civil_format(dmax, day, sizeof day);
    fprintf(out, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
            W - R, H - B + 16, day);
    fputs("<polyline class=\"series\" points=\"", out);
    for (size_t i = 0; i < n; i++) {
        const rep_point *p = REP_AT(c->points, rep_point, i);
        fprintf(out, "%s%.1f,%.1f", i ? " " : "", X(p->day), Y(p->y));
    }
    fputs("\"/>\n", out);
    for (size_t i = 0; i < n; i++) {
        const rep_point *p = REP_AT(c->points, rep_point, i);
        civil_format(p->day, day, sizeof day);
        fprintf(out,
                "<circle class=\"pt%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\" data-seq=\"%" PRIu64
                "\" data-y=\"",
                p->outside ? " outside" : "", X(p->day), Y(p->y), p->seq);
        number(out, p->y);
        fprintf(out, "\"><title>%s: ", day);
        number(out, p->y);
        fprintf(out, " (seq %" PRIu64 ")</title></circle>\n", p->seq);
    }
    fputs("</svg></figure>\n", out);
#undef X
#undef Y
}

#define SEQS_SHOWN 20

static void section(FILE *out, const rep_section *s)
{
    fputs("<section id=\"", out);
    esc(out, s->id);
    fputs("\"><h2>", out);
    esc(out, s->title);
    fputs("</h2>\n", out);
    if (s->note) {
        fputs("<p class=\"note\">", out);
        esc(out, s->note);
        fputs("</p>\n", out);
    }
    for (size_t j = 0; j < s->charts.count; j++)
        chart(out, REP_CHART(s, j));
    if (s->rows.count == 0) {
        fputs("<p class=\"note empty\">Nothing on record for this section.</p>\n", out);
    } else {
        fputs("<div class=\"scroll\"><table><thead><tr>", out);
        for (size_t c = 0; c < s->column_count; c++) {
            fputs("<th>", out);
            esc(out, s->columns[c]);
            fputs("</th>", out);
        }
        fputs("<th>ledger seqs</th></tr></thead><tbody>\n", out);
        for (size_t j = 0; j < s->rows.count; j++) {
            const rep_row *r = REP_ROW(s, j);
            fprintf(out, "<tr%s>",
                    r->mark == REP_MARK_BAD    ? " class=\"bad\""
                    : r->mark == REP_MARK_WARN ? " class=\"warn\""
                                               : "");
            char buf[64];
            for (size_t c = 0; c < s->column_count; c++) {
                const rep_cell *cell = &r->cells[c];
                fprintf(out, "<td data-col=\"%s\"%s>", s->columns[c],
                        cell->kind == REP_INT || cell->kind == REP_REAL ? " class=\"n\"" : "");
                esc(out, rep_cell_format(cell, buf, sizeof buf));
                fputs("</td>", out);
            }
            fputs("<td class=\"seqs\">", out);
            for (size_t k = 0; k < r->seqs.count && k < SEQS_SHOWN; k++)
                fprintf(out, "%s%" PRIu64, k ? " " : "", *REP_AT(r->seqs, uint64_t, k));
            if (r->seqs.count > SEQS_SHOWN)
                fprintf(out, " &hellip; (%zu in all)", r->seqs.count);
            fputs("</td></tr>\n", out);
        }
        fputs("</tbody></table></div>\n", out);
    }
    for (size_t j = 0; j < s->notes.count; j++) {
        fputs("<p class=\"reason\">", out);
        esc(out, *REP_AT(s->notes, const char *, j));
        fputs("</p>\n", out);
    }
    fputs("</section>\n", out);
}

/* The verification of a ledger file, above everything. */
static void file_banner(FILE *out, const rep_verification *v)
{
    fprintf(out,
            "<div class=\"verify %s\" id=\"verification\" data-ok=\"%s\" data-records=\"%" PRIu64
            "\">",
            v->ok ? "ok" : "failed", v->ok ? "true" : "false", v->records);
    if (v->ok) {
        fprintf(out, "<b>Ledger verified</b>: hash chain intact, %" PRIu64 " records, head ",
                v->records);
        esc(out, v->head_hash);
        if (v->signed_checked)
            fprintf(out,
                    "; signed checkpoints verified, the last at seq %" PRIu64 " (%" PRIu64
                    " records after it not yet signed)",
                    v->last_signed_seq, v->unsigned_after);
        else
            fputs("; no key given, so the checkpoints were not checked (the chain is unanchored)",
                  out);
        fputs(". Every row below cites the ledger seqs it comes from.", out);
    } else {
        fprintf(out, "<b>LEDGER NOT VERIFIED</b>: the chain breaks at seq %" PRIu64 ": ",
                v->bad_seq);
        esc(out, v->why);
        fputs(". No record of it is presented as evidence.", out);
    }
    fputs("</div>\n", out);
}

int rep_write_html(const rep_doc *d, FILE *out)
{
    const rep_verification *v = &d->verification;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'; img-src data:\">\n<title>",
          out);
    esc(out, d->title);
    fputs("</title>\n", out);
    fputs(STYLE, out);
    fputs("</head><body>\n<header><h1>", out);
    esc(out, d->title);
    if (d->fleet) {
        fputs("</h1>\n<p class=\"note\">Fleet database <code>", out);
        esc(out, d->ledger_path);
        fputs("</code>, ", out);
        if (d->node_id) {
            fputs("station <b>", out);
            esc(out, d->node_id);
            fputs("</b>", out);
        } else
            fputs("every station", out);
    } else {
        fputs("</h1>\n<p class=\"note\">Node <b>", out);
        esc(out, d->node_id ? d->node_id : "?");
        fputs("</b>, ledger <code>", out);
        esc(out, d->ledger_path);
        fputs("</code>", out);
    }
    if (d->period) {
        fputs(", ", out);
        esc(out, d->period);
    }
    fputs("</p>\n", out);
    if (d->fleet) {
        fputs("<div class=\"verify ok\" id=\"verification\" data-fleet=\"true\">", out);
        esc(out, d->source_note);
        fputs("</div>\n", out);
    } else if (v->stored) {
        fprintf(out,
                "<div class=\"verify ok\" id=\"verification\" data-ok=\"true\" "
                "data-records=\"%" PRIu64 "\"><b>Stored chain</b>: %" PRIu64 " records, head ",
                v->records, v->records);
        esc(out, v->head_hash);
        fputs(", read from the fleet database; each record was checked against the station's "
              "chain by fleet.ingest when it arrived. Every row below cites the station's "
              "ledger seqs it comes from.</div>\n",
              out);
    } else
        file_banner(out, v);
    if (d->sections.count > 4) { /* a long report: its contents first */
        fputs("<nav class=\"toc\"><b>Contents</b><ol>", out);
        for (size_t i = 0; i < d->sections.count; i++) {
            const rep_section *s = REP_SECTION(d, i);
            if (strcmp(s->id, "verification") == 0)
                continue;
            fputs("<li><a href=\"#", out);
            esc(out, s->id);
            fputs("\">", out);
            esc(out, s->title);
            fprintf(out, "</a> (%zu)</li>", s->rows.count);
        }
        fputs("</ol></nav>\n", out);
    }
    fputs("</header>\n<main>\n", out);
    for (size_t i = 0; i < d->sections.count; i++) /* the banner above says it all */
        if (strcmp(REP_SECTION(d, i)->id, "verification") != 0)
            section(out, REP_SECTION(d, i));
    fputs("</main>\n<footer><p class=\"note\">Generated by smart-host report from the ledger's "
          "records alone.</p></footer>\n</body></html>\n",
          out);
    return ferror(out) ? -EIO : 0;
}
