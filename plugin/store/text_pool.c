/* text_pool.c — immutable shared texts in arena blocks; see text_pool.h. */
#include "store/text_pool.h"

#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE (64 * 1024)

typedef struct text_block {
    struct text_block *next;
    size_t used, cap;
    char data[];
} text_block;

static const char EMPTY[] = "";

void text_pool_init(text_pool *p)
{
    memset(p, 0, sizeof *p);
}

void text_pool_free(text_pool *p)
{
    for (text_block *b = p->blocks, *next; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    free(p->slots);
    free(p->hashes);
    text_pool_init(p);
}

/* FNV-1a, as the item index's. */
static uint32_t text_hash(const char *text, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)text[i]) * 16777619u;
    return h;
}

/* The slot holding `text`, or the empty slot where it goes. */
static size_t find_slot(const text_pool *p, const char *text, uint32_t hash)
{
    size_t at = hash & p->slot_mask;
    while (p->slots[at] != NULL && (p->hashes[at] != hash || strcmp(p->slots[at], text) != 0))
        at = (at + 1) & p->slot_mask;
    return at;
}

/* Doubles the set (or makes its first 64 slots). 0 or -1 (out of memory, nothing changed). */
static int grow_slots(text_pool *p)
{
    size_t slots = p->slots ? 2 * (p->slot_mask + 1) : 64;
    const char **grown = calloc(slots, sizeof *grown);
    uint32_t *hashes = calloc(slots, sizeof *hashes);
    if (grown == NULL || hashes == NULL) {
        free(grown);
        free(hashes);
        return -1;
    }
    text_pool old = *p;
    p->slots = grown;
    p->hashes = hashes;
    p->slot_mask = slots - 1;
    for (size_t i = 0; old.slots && i <= old.slot_mask; i++)
        if (old.slots[i] != NULL) {
            size_t at = find_slot(p, old.slots[i], old.hashes[i]);
            p->slots[at] = old.slots[i];
            p->hashes[at] = old.hashes[i];
        }
    free(old.slots);
    free(old.hashes);
    return 0;
}

/* Room for `size` bytes in the newest block (a new block when it has none); NULL when out of
 * memory. */
static char *block_room(text_pool *p, size_t size)
{
    text_block *b = p->blocks;
    if (b == NULL || b->cap - b->used < size) {
        size_t cap = size > BLOCK_SIZE ? size : BLOCK_SIZE;
        if ((b = malloc(sizeof *b + cap)) == NULL)
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = p->blocks;
        p->blocks = b;
    }
    char *room = b->data + b->used;
    b->used += size;
    return room;
}

const char *text_pool_put(text_pool *p, const char *text)
{
    if (text[0] == '\0')
        return EMPTY;
    size_t len = strlen(text);
    uint32_t hash = text_hash(text, len);
    if (p->slots != NULL) {
        size_t at = find_slot(p, text, hash);
        if (p->slots[at] != NULL)
            return p->slots[at];
    }
    if ((p->count + 1) * 2 > (p->slots ? p->slot_mask + 1 : 0) && grow_slots(p) < 0)
        return NULL; /* at most half full */
    char *copy = block_room(p, len + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, text, len + 1);
    size_t at = find_slot(p, text, hash);
    p->slots[at] = copy;
    p->hashes[at] = hash;
    p->count++;
    p->bytes += len + 1;
    return copy;
}

size_t text_pool_bytes(const text_pool *p)
{
    return p->bytes;
}
