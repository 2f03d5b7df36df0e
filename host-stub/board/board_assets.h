/*
 * board_assets.h — the board's page, compiled into the host (no network, no files to deploy):
 * board_assets.c is generated at build time from assets/ by embed_assets.py.
 */
#ifndef SMART_HOST_BOARD_ASSETS_H
#define SMART_HOST_BOARD_ASSETS_H

#include <stddef.h>

typedef struct board_asset {
    const char *path;         /* "/", "/board.css", ... */
    const char *content_type; /* static */
    const unsigned char *data;
    size_t len;
} board_asset;

/* The asset served at `path`, or NULL. The result is static. */
const board_asset *board_asset_find(const char *path);

#endif /* SMART_HOST_BOARD_ASSETS_H */
