/* write_csv.c — a report as CSV (RFC 4180: CRLF line ends, a field with a comma, quote, CR or
 * LF quoted, quotes doubled). Every section is a block of rows whose first field is the
 * section's id, under a header row of its own; every row is padded to the widest section, and
 * its last field lists the ledger seqs it came from, separated by spaces. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "report/report.h"

static void field(FILE *out, const char *text, bool first)
{
    if (!first)
        fputc(',', out);
    if (text[strcspn(text, ",\"\r\n")] == '\0') {
        fputs(text, out);
        return;
    }
    fputc('"', out);
    for (const char *p = text; *p; p++) {
        if (*p == '"')
            fputc('"', out);
        fputc(*p, out);
    }
    fputc('"', out);
}

int rep_write_csv(const rep_doc *d, FILE *out)
{
    size_t width = 0;
    for (size_t i = 0; i < d->sections.count; i++)
        if (REP_SECTION(d, i)->column_count > width)
            width = REP_SECTION(d, i)->column_count;
    for (size_t i = 0; i < d->sections.count; i++) {
        const rep_section *s = REP_SECTION(d, i);
        field(out, "section", true);
        for (size_t c = 0; c < width; c++)
            field(out, c < s->column_count ? s->columns[c] : "", false);
        field(out, "seqs", false);
        fputs("\r\n", out);
        for (size_t j = 0; j < s->rows.count; j++) {
            const rep_row *r = REP_ROW(s, j);
            field(out, s->id, true);
            char buf[64];
            for (size_t c = 0; c < width; c++)
                field(out,
                      c < s->column_count ? rep_cell_format(&r->cells[c], buf, sizeof buf) : "",
                      false);
            fputc(',', out);
            for (size_t k = 0; k < r->seqs.count; k++)
                fprintf(out, "%s%" PRIu64, k ? " " : "", *REP_AT(r->seqs, uint64_t, k));
            fputs("\r\n", out);
        }
    }
    return ferror(out) ? -EIO : 0;
}
