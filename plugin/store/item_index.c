/* item_index.c — the module's items by id: an open-addressed hash index over the sorted array
 * of items, built when the items change (start-up, a contract adoption); and their texts, kept
 * in the instance's pool (store/text_pool.h). */
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

/* ---- the items' texts -------------------------------------------------------------------- */

/* Slack over twice the live texts before the pool is rebuilt: a small station never is. */
#define TEXTS_SLACK (1024 * 1024)

const char *maintenance_text(maintenance *m, const char *text, size_t size, smart_error *err)
{
    char cut[NOTE_MAX + 1]; /* the largest field's size (store/equipment.h) */
    if (size > sizeof cut)
        size = sizeof cut;
    if (strlen(text) >= size) { /* cut as snprintf into a fixed field of `size` bytes cut it */
        memcpy(cut, text, size - 1);
        cut[size - 1] = '\0';
        text = cut;
    }
    const char *kept = text_pool_put(&m->texts, text);
    if (!kept)
        error_set(err, SMART_ENOMEM, "out of memory");
    return kept;
}

/* Puts each text of `e` into `pool` and points e at the pool's copy. 0 or -1 (out of memory). */
static int put_texts(text_pool *pool, equipment_state *e)
{
    const char **texts[] = {
        &e->calibration_date,         &e->certificate, &e->last_alert, &e->out_of_service_reason,
        &e->out_of_service_procedure, &e->failure_note};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        const char *kept = text_pool_put(pool, *texts[i]);
        if (!kept)
            return -1;
        *texts[i] = kept;
    }
    return 0;
}

int maintenance_keep_texts(maintenance *m, equipment_state *e)
{
    return put_texts(&m->texts, e);
}

void maintenance_compact_texts(maintenance *m)
{
    if (text_pool_bytes(&m->texts) <= 2 * m->texts_live + TEXTS_SLACK)
        return;
    text_pool fresh;
    text_pool_init(&fresh);
    for (size_t i = 0; i < m->item_count; i++) { /* every text first, on copies: may fail */
        equipment_state copy = m->items[i];
        if (put_texts(&fresh, &copy) < 0) {
            text_pool_free(&fresh);
            return;
        }
    }
    for (size_t i = 0; i < m->item_count; i++)
        (void)put_texts(&fresh, &m->items[i]); /* all there: nothing is allocated */
    text_pool_free(&m->texts);
    m->texts = fresh;
    m->texts_live = text_pool_bytes(&fresh);
}
