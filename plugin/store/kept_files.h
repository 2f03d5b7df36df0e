/* kept_files.h — the bytes of the contract files the store names as the set last adopted, kept
 * beside the store as one file per content (named by its SHA-256, 64 lowercase hex digits),
 * outside SQLite's WAL: written once, synced, renamed into place, before the commit that names
 * them, and removed after the commit that no longer does (store.c). A file under its final name
 * is always whole (a crash leaves at most a temporary one, never named); what is read back is
 * checked against its name, so one altered or missing is refused naming it.
 *
 * Every function returns 0 or SMART_EIO (err names the file and why), SMART_ENOMEM. Not
 * thread-safe with itself on one directory. */
#ifndef SMART_KEPT_FILES_H
#define SMART_KEPT_FILES_H

#include "smart_plugin.h"

#include <stdbool.h>
#include <stddef.h>

/* The directory's name within data_dir. */
#define KEPT_DIR_NAME "kept-contracts"

/* The SHA-256 of the bytes as 64 lowercase hex digits and a NUL; "" when it cannot be made. */
void kept_sha256_hex(const char *bytes, size_t len, char out[65]);

/* Creates `dir` when missing, durably (its parent synced). */
int kept_make_dir(const char *dir, smart_error *err);

/* Makes `dir`/`sha256` hold the `len` bytes at `bytes` (whose SHA-256 `sha256` is): a file of
 * that name and size is left as it is (its bytes are checked when read); otherwise they are
 * written to a temporary name, synced and renamed over it. Sets *renamed when it renamed: the
 * name is durable only after kept_sync. */
int kept_put(const char *dir, const char *sha256, const char *bytes, size_t len, bool *renamed,
             smart_error *err);

/* Syncs `dir` itself: the names made by kept_put survive a power loss. */
int kept_sync(const char *dir, smart_error *err);

/* Reads `dir`/`sha256` (the bytes of contract file `file`, named in the message) into *bytes,
 * malloc'd, `*len` of them with a NUL after, owned by the caller. Refuses (SMART_EIO) a file
 * missing or unreadable, and one whose bytes do not hash to its name. */
int kept_read(const char *dir, const char *file, const char *sha256, char **bytes, size_t *len,
              smart_error *err);

/* Refuses (SMART_EIO, naming `file` and `where`) `len` bytes that do not hash to `sha256`. */
int kept_check(const char *file, const char *where, const char *sha256, const char *bytes,
               size_t len, smart_error *err);

/* A thread of its own that makes the kept copies of a set's files (kept_make_dir, then kept_put
 * each), so that their writes and syncs (53 MB at 100,000 items) overlap the caller's work on
 * the adoption instead of following it. Nothing else may write `dir` until kept_writer_wait.
 * `sha256`, `bytes` and `lens` are copied (`count` entries), the bytes they point to are
 * borrowed until kept_writer_wait. Returns 0, or SMART_ENOMEM / SMART_EIO (no thread could be
 * made: nothing is written, *out is NULL). */
typedef struct kept_writer kept_writer;
int kept_writer_start(const char *dir, const char *const *sha256, const char *const *bytes,
                      const size_t *lens, size_t count, kept_writer **out, smart_error *err);

/* Waits for the thread and frees `w` (NULL waits for nothing). Sets *renamed when a file was
 * renamed into place (its name is durable only after kept_sync). A file it could not write (and
 * those after it) it leaves unwritten: kept_put of that file writes it, or reports why not. */
void kept_writer_wait(kept_writer *w, bool *renamed);

/* Removes every entry of `dir` whose name is not among keep[0..count) (temporary files left by a
 * crash included). A missing directory has nothing to remove. */
int kept_sweep(const char *dir, const char *const *keep, size_t count, smart_error *err);

#endif
