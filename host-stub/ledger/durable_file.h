/*
 * durable_file.h — append-only files whose contents survive a crash once synced.
 *
 * Per batch (README "Running the host stub"): whole lines, one write() and one fdatasync(),
 * and the parent directory fsync'd when the file is created (else the new directory entry may
 * be lost).
 * A failed write or sync is never retried: the caller must fail-stop.
 */
#ifndef SMART_HOST_DURABLE_FILE_H
#define SMART_HOST_DURABLE_FILE_H

#include <stdbool.h>
#include <stddef.h>

/* Create every missing directory of `dir` (borrowed), fsync'ing each parent that gained an
 * entry. Returns 0 or a negative errno with the reason in `msg` (caller-owned). */
int durable_mkdirs(const char *dir, char *msg, size_t msg_size);

/* Open `path` (borrowed) for appending with `flags` added to O_APPEND|O_CLOEXEC|O_CREAT (pass
 * O_WRONLY or O_RDWR), creating missing parent directories. When the file is new, the
 * directory holding it is fsync'd and *created (may be NULL) set true. Returns the fd (>= 0,
 * owned by the caller) or a negative errno with the reason in `msg` (caller-owned). */
int durable_open_append(const char *path, int flags, bool *created, char *msg, size_t msg_size);

/* Write all `len` bytes of `buf` (borrowed) to `fd`, continuing after short writes and EINTR.
 * Returns 0 or a negative errno. */
int durable_write_all(int fd, const char *buf, size_t len);

/* fsync the directory that holds `path` (borrowed). Returns 0 or a negative errno. */
int durable_sync_parent_dir(const char *path);

#endif /* SMART_HOST_DURABLE_FILE_H */
