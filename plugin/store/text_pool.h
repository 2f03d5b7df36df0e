/* text_pool.h — immutable texts shared by the module's item records (store/equipment.h): each
 * distinct text is kept once, in arena blocks, so that an item's certificate, date, notes and
 * last alert cost their length rather than a fixed field's size, and a copy of an item shares
 * them. Texts are never freed one by one: the pool grows by what is put into it, and the module
 * rebuilds it from the items in force now and then (maintenance_compact_texts), so that what
 * old calibrations left behind is dropped.
 *
 * Ownership: the pool owns every text it returns; they stay valid until text_pool_free. Not
 * thread-safe: one pool per module instance, on the loop thread. */
#ifndef SMART_TEXT_POOL_H
#define SMART_TEXT_POOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct text_pool {
    struct text_block *blocks; /* newest first */
    const char **slots;        /* open-addressed set of the texts (NULL: empty slot) */
    uint32_t *hashes;          /* the hash of each slot's text */
    size_t slot_mask;          /* slots - 1 (slots a power of 2; 0 before the first put) */
    size_t count;              /* texts held */
    size_t bytes;              /* their bytes, NULs included */
} text_pool;

/* An empty pool (owns nothing yet). */
void text_pool_init(text_pool *p);

/* Frees every text of the pool; the pool is then empty again. */
void text_pool_free(text_pool *p);

/* The pool's copy of `text` (NUL-terminated, borrowed): the same pointer for equal texts; ""
 * is a static empty text, never stored. NULL only when out of memory (nothing changed). */
const char *text_pool_put(text_pool *p, const char *text);

/* The bytes of the texts the pool holds. */
size_t text_pool_bytes(const text_pool *p);

#endif
