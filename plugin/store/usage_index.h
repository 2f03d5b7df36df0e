/* usage_index.h — which allowed tests used each item: what an out-of-tolerance finding makes
 * suspect (ISO/IEC 17025 §7.10).
 *
 * The store keeps the durable record, one row per allowed test with the ids of its items. This
 * is the per-item view of it, in memory: the gate would otherwise write one index row per item
 * per test, most of which no out-of-tolerance finding ever reads. It is built from the store
 * the first time a finding asks (after start-up or an adoption of contracts, which renumbers
 * the items), then kept up by the gate. An item's uses from before its last good calibration
 * can never be suspect again and are dropped. */
#ifndef SMART_USAGE_INDEX_H
#define SMART_USAGE_INDEX_H

#include "smart_plugin.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct test_use {
    int64_t test_id; /* the store's id of the allowed test */
    int64_t decided_at_ms;
} test_use;

typedef struct item_uses {
    test_use *at; /* in the order added */
    size_t count, capacity;
} item_uses;

typedef struct usage_index {
    item_uses *items; /* parallel to the module's items; NULL until built */
    size_t item_count;
} usage_index;

/* Whether the index holds every item's uses (and so must be told of new ones). */
static inline bool usage_index_built(const usage_index *u)
{
    return u->items != NULL;
}

/* Starts an empty index for item_count items; 0 or SMART_ENOMEM (then not built). */
int usage_index_start(usage_index *u, size_t item_count, smart_error *err);

/* Frees everything; the index is not built until started again. */
void usage_index_clear(usage_index *u);

/* Notes that test test_id, decided at decided_at_ms, used item `item`. A second use by the same
 * test is one use. 0 or SMART_ENOMEM. */
int usage_index_add(usage_index *u, size_t item, int64_t test_id, int64_t decided_at_ms,
                    smart_error *err);

/* Drops the item's uses decided before before_ms. */
void usage_index_drop_before(usage_index *u, size_t item, int64_t before_ms);

/* The item's uses decided at or after since_ms, oldest first (ties by test id): a malloc'd
 * array the caller frees, *count entries (NULL when none). 0 or SMART_ENOMEM. */
int usage_index_since(const usage_index *u, size_t item, int64_t since_ms, test_use **uses,
                      size_t *count, smart_error *err);

#endif
