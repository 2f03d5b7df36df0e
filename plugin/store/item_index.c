/* item_index.c — the module's items by id: an open-addressed hash index over the sorted array
 * of items, built when the items change (start-up, a contract adoption). */
#include "error.h"
#include "maintenance.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a: ids are short, and a gate looks up each of its items. */
static uint32_t id_hash(const char *id)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

int maintenance_index_items(const equipment_state *items, size_t count, uint32_t **index,
                            size_t *mask, smart_error *err)
{
    size_t slots = 16;
    while (slots < 2 * count) /* at most half full */
        slots *= 2;
    if (count >= UINT32_MAX || !(*index = calloc(slots, sizeof **index)))
        return error_set(err, SMART_ENOMEM, "out of memory");
    *mask = slots - 1;
    for (size_t i = 0; i < count; i++) {
        size_t at = id_hash(items[i].equipment_id) & *mask;
        while ((*index)[at])
            at = (at + 1) & *mask;
        (*index)[at] = (uint32_t)i + 1;
    }
    return 0;
}

equipment_state *maintenance_find(maintenance *m, const char *equipment_id)
{
    if (!m->item_index)
        return NULL;
    for (size_t at = id_hash(equipment_id) & m->item_index_mask; m->item_index[at];
         at = (at + 1) & m->item_index_mask) {
        equipment_state *e = &m->items[m->item_index[at] - 1];
        if (strcmp(e->equipment_id, equipment_id) == 0)
            return e;
    }
    return NULL;
}
