/* usage_index.c — the allowed tests per item, in memory; see usage_index.h. */
#include "store/usage_index.h"

#include "error.h"

#include <stdlib.h>
#include <string.h>

int usage_index_start(usage_index *u, size_t item_count, smart_error *err)
{
    usage_index_clear(u);
    u->items = calloc(item_count ? item_count : 1, sizeof *u->items);
    if (!u->items)
        return error_set(err, SMART_ENOMEM, "out of memory");
    u->item_count = item_count;
    return 0;
}

void usage_index_clear(usage_index *u)
{
    for (size_t i = 0; u->items && i < u->item_count; i++)
        free(u->items[i].at);
    free(u->items);
    u->items = NULL;
    u->item_count = 0;
}

int usage_index_add(usage_index *u, size_t item, int64_t test_id, int64_t decided_at_ms,
                    smart_error *err)
{
    item_uses *l = &u->items[item];
    if (l->count > 0 && l->at[l->count - 1].test_id == test_id)
        return 0;
    if (l->count == l->capacity) {
        size_t capacity = l->capacity ? l->capacity * 2 : 8;
        test_use *at = realloc(l->at, capacity * sizeof *at);
        if (!at)
            return error_set(err, SMART_ENOMEM, "out of memory");
        l->at = at;
        l->capacity = capacity;
    }
    l->at[l->count++] = (test_use){.test_id = test_id, .decided_at_ms = decided_at_ms};
    return 0;
}

void usage_index_drop_before(usage_index *u, size_t item, int64_t before_ms)
{
    item_uses *l = &u->items[item];
    size_t kept = 0;
    for (size_t i = 0; i < l->count; i++)
        if (l->at[i].decided_at_ms >= before_ms)
            l->at[kept++] = l->at[i];
    l->count = kept;
}

static int by_time(const void *a, const void *b)
{
    const test_use *x = a, *y = b;
    if (x->decided_at_ms != y->decided_at_ms)
        return x->decided_at_ms < y->decided_at_ms ? -1 : 1;
    return (x->test_id > y->test_id) - (x->test_id < y->test_id);
}

int usage_index_since(const usage_index *u, size_t item, int64_t since_ms, test_use **uses,
                      size_t *count, smart_error *err)
{
    const item_uses *l = &u->items[item];
    *uses = NULL;
    *count = 0;
    if (l->count == 0)
        return 0;
    test_use *out = malloc(l->count * sizeof *out);
    if (!out)
        return error_set(err, SMART_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < l->count; i++)
        if (l->at[i].decided_at_ms >= since_ms)
            out[n++] = l->at[i];
    /* Kept in the order added; a clock set back across a restart can break time order. */
    if (n == 0) {
        free(out);
        return 0;
    }
    qsort(out, n, sizeof *out, by_time);
    *uses = out;
    *count = n;
    return 0;
}
