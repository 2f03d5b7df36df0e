/* report_doc.c — the arena, growable arrays and the document model of report.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

struct rep_arena_block {
    rep_arena_block *next;
    size_t used, cap;
    max_align_t data[];
};

#define ARENA_BLOCK (1u << 20)

void *rep_alloc(rep_arena *a, size_t size)
{
    size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    rep_arena_block *b = a->head;
    if (b == NULL || b->cap - b->used < size) {
        size_t cap = size > ARENA_BLOCK ? size : ARENA_BLOCK;
        b = malloc(sizeof *b + cap);
        if (b == NULL)
            return NULL;
        b->cap = cap;
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

char *rep_strdup(rep_arena *a, const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = rep_alloc(a, n);
    if (p)
        memcpy(p, s, n);
    return p;
}

char *rep_printf(rep_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = rep_alloc(a, (size_t)n + 1);
    if (p == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void rep_arena_free(rep_arena *a)
{
    while (a->head) {
        rep_arena_block *next = a->head->next;
        free(a->head);
        a->head = next;
    }
}

void *rep_vec_push(rep_vec *v, size_t elem)
{
    v->elem = elem;
    if (v->count == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        void *grown = realloc(v->items, cap * elem);
        if (grown == NULL)
            return NULL;
        v->items = grown;
        v->cap = cap;
    }
    void *p = (char *)v->items + v->count * elem;
    memset(p, 0, elem);
    v->count++;
    return p;
}

void rep_vec_free(rep_vec *v)
{
    free(v->items);
    memset(v, 0, sizeof *v);
}

rep_section *rep_section_add(rep_doc *d, const char *id, const char *title,
                             const char *const *columns)
{
    rep_section *s = rep_alloc(&d->arena, sizeof *s);
    rep_section **slot = s ? rep_vec_push(&d->sections, sizeof *slot) : NULL;
    if (slot == NULL)
        return NULL;
    *slot = s;
    s->id = id;
    s->title = title;
    size_t n = 0;
    while (columns[n])
        n++;
    s->columns = (const char **)columns;
    s->column_count = n;
    return s;
}

rep_row *rep_row_add(rep_doc *d, rep_section *s)
{
    rep_cell *cells = rep_alloc(&d->arena, (s->column_count ? s->column_count : 1) * sizeof *cells);
    if (cells == NULL)
        return NULL;
    rep_row *r = rep_alloc(&d->arena, sizeof *r);
    rep_row **slot = r ? rep_vec_push(&s->rows, sizeof *slot) : NULL;
    if (slot == NULL)
        return NULL;
    *slot = r;
    r->cells = cells;
    return r;
}

void rep_set_text(rep_doc *d, rep_row *r, size_t col, const char *text)
{
    if (text == NULL) {
        r->cells[col].kind = REP_NULL;
        return;
    }
    r->cells[col].kind = REP_TEXT;
    r->cells[col].text = rep_strdup(&d->arena, text);
    if (r->cells[col].text == NULL)
        r->cells[col].kind = REP_NULL;
}

void rep_set_int(rep_row *r, size_t col, int64_t value)
{
    r->cells[col].kind = REP_INT;
    r->cells[col].i = value;
}

void rep_set_real(rep_row *r, size_t col, double value, int decimals)
{
    r->cells[col].kind = REP_REAL;
    r->cells[col].r = value;
    r->cells[col].decimals = decimals;
}

void rep_set_bool(rep_row *r, size_t col, bool value)
{
    r->cells[col].kind = REP_BOOL;
    r->cells[col].b = value;
}

void rep_set_day(rep_doc *d, rep_row *r, size_t col, civil_day day)
{
    if (day == REP_NO_DAY) {
        r->cells[col].kind = REP_NULL;
        return;
    }
    char text[16];
    civil_format(day, text, sizeof text);
    rep_set_text(d, r, col, text);
}

void rep_set_time(rep_doc *d, rep_row *r, size_t col, int64_t ms)
{
    char text[32];
    instant_format(ms, text, sizeof text);
    rep_set_text(d, r, col, text);
}

int rep_row_seq(rep_row *r, uint64_t seq)
{
    uint64_t *p = rep_vec_push(&r->seqs, sizeof *p);
    if (p == NULL)
        return -ENOMEM;
    *p = seq;
    return 0;
}

void rep_note(rep_doc *d, rep_section *s, const char *text)
{
    const char **p = rep_vec_push(&s->notes, sizeof *p);
    if (p)
        *p = rep_strdup(&d->arena, text);
}

rep_chart *rep_chart_add(rep_doc *d, rep_section *s, const char *id, const char *title,
                         const char *unit)
{
    rep_chart *c = rep_alloc(&d->arena, sizeof *c);
    rep_chart **slot = c ? rep_vec_push(&s->charts, sizeof *slot) : NULL;
    if (slot == NULL)
        return NULL;
    *slot = c;
    c->id = rep_strdup(&d->arena, id);
    c->title = rep_strdup(&d->arena, title);
    c->unit = rep_strdup(&d->arena, unit ? unit : "");
    return c;
}

int rep_chart_point(rep_chart *c, civil_day day, double y, uint64_t seq, bool outside)
{
    rep_point *p = rep_vec_push(&c->points, sizeof *p);
    if (p == NULL)
        return -ENOMEM;
    p->day = day;
    p->y = y;
    p->seq = seq;
    p->outside = outside;
    return 0;
}

void rep_doc_free(rep_doc *d)
{
    for (size_t i = 0; i < d->sections.count; i++) {
        rep_section *s = REP_SECTION(d, i);
        for (size_t j = 0; j < s->rows.count; j++)
            rep_vec_free(&REP_ROW(s, j)->seqs);
        for (size_t j = 0; j < s->charts.count; j++)
            rep_vec_free(&REP_CHART(s, j)->points);
        rep_vec_free(&s->rows);
        rep_vec_free(&s->charts);
        rep_vec_free(&s->notes);
    }
    rep_vec_free(&d->sections);
    rep_arena_free(&d->arena);
}

int rep_column(const rep_section *s, const char *name)
{
    for (size_t i = 0; i < s->column_count; i++)
        if (strcmp(s->columns[i], name) == 0)
            return (int)i;
    return -1;
}

const station_zone *rep_zone_at(const rep_ledger *l, int64_t ms)
{
    /* The last zone recorded at or before `ms` (the first one for earlier instants: the
     * station had one before it said so). A binary search: a ledger holds one per start. */
    size_t lo = 0, hi = l->zones.count;
    if (hi == 0)
        return NULL;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (REP_AT(l->zones, rep_zone, mid)->time_ms <= ms)
            lo = mid;
        else
            hi = mid;
    }
    return REP_AT(l->zones, rep_zone, lo)->zone;
}

civil_day rep_day_of(const rep_ledger *l, int64_t ms)
{
    const station_zone *z = rep_zone_at(l, ms);
    return z ? station_zone_day(z, ms) : civil_day_of_instant(ms, 0);
}

int64_t rep_day_start_ms(const rep_ledger *l, civil_day day, int64_t near_ms)
{
    const station_zone *z = rep_zone_at(l, near_ms);
    return z ? station_zone_day_start_ms(z, day) : (int64_t)day * MS_PER_DAY;
}

const char *rep_zone_text(const rep_ledger *l, rep_doc *d)
{
    if (l->zones.count == 0)
        return "Days are UTC days: the ledger does not record the station's time zone.";
    const rep_zone *z = REP_AT(l->zones, rep_zone, l->zones.count - 1);
    return rep_printf(&d->arena, "Days are the station's, in %s%s%s%s (store.opened, seq %llu)%s%s",
                      z->name, z->tzdata ? " (tzdata " : "", z->tzdata ? z->tzdata : "",
                      z->tzdata ? ")" : "", (unsigned long long)z->seq,
                      l->zone_warning ? "; " : ".", l->zone_warning ? l->zone_warning : "");
}

bool rep_in_period(const rep_ledger *l, const rep_query *q, int64_t ms)
{
    civil_day day = rep_day_of(l, ms);
    return (q->from == REP_NO_DAY || day >= q->from) && (q->to == REP_NO_DAY || day <= q->to);
}

civil_day rep_as_of(const rep_ledger *l, const rep_query *q)
{
    if (q->to != REP_NO_DAY)
        return q->to;
    return l->records ? rep_day_of(l, l->last_ms) : REP_NO_DAY;
}

static size_t hash_text(const char *s)
{
    size_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

long rep_map_get(const rep_map *m, const char *key)
{
    if (m->slot_count == 0 || key == NULL)
        return -1;
    for (size_t i = hash_text(key) & (m->slot_count - 1);; i = (i + 1) & (m->slot_count - 1)) {
        if (m->slots[i] == 0)
            return -1;
        if (strcmp(m->keys[m->slots[i] - 1], key) == 0)
            return (long)m->slots[i] - 1;
    }
}

long rep_map_put(rep_map *m, const char *key, bool *added)
{
    bool dummy;
    if (added == NULL)
        added = &dummy;
    *added = false;
    if (key == NULL)
        key = "";
    long found = rep_map_get(m, key);
    if (found >= 0)
        return found;
    if ((m->count + 1) * 2 > m->slot_count) {
        size_t n = m->slot_count ? m->slot_count * 2 : 64;
        size_t *slots = calloc(n, sizeof *slots);
        const char **keys = realloc(m->keys, n * sizeof *keys);
        if (slots == NULL || keys == NULL) {
            free(slots);
            if (keys)
                m->keys = keys;
            return -1;
        }
        m->keys = keys;
        for (size_t k = 0; k < m->count; k++) {
            size_t i = hash_text(keys[k]) & (n - 1);
            while (slots[i])
                i = (i + 1) & (n - 1);
            slots[i] = k + 1;
        }
        free(m->slots);
        m->slots = slots;
        m->slot_count = n;
    }
    size_t i = hash_text(key) & (m->slot_count - 1);
    while (m->slots[i])
        i = (i + 1) & (m->slot_count - 1);
    m->keys[m->count] = key;
    m->slots[i] = ++m->count;
    *added = true;
    return (long)m->count - 1;
}

void rep_map_free(rep_map *m)
{
    free(m->keys);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

const char *rep_cell_format(const rep_cell *c, char *buf, size_t size)
{
    switch (c->kind) {
    case REP_TEXT: return c->text;
    case REP_INT: snprintf(buf, size, "%lld", (long long)c->i); return buf;
    case REP_REAL:
        snprintf(buf, size, "%.*f", c->decimals, c->r);
        if (strcmp(buf, "-0") == 0 ||
            (strncmp(buf, "-0.", 3) == 0 && strspn(buf + 3, "0") == strlen(buf + 3)))
            memmove(buf, buf + 1, strlen(buf)); /* no "-0.0" */
        return buf;
    case REP_BOOL: return c->b ? "true" : "false";
    case REP_NULL:
    default: return "";
    }
}

void rep_copy_cell(rep_doc *d, rep_row *r, size_t col, const rep_cell *from)
{
    if (from->kind == REP_TEXT)
        rep_set_text(d, r, col, from->text);
    else {
        r->cells[col] = *from;
        r->cells[col].text = NULL;
    }
}
