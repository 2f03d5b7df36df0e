/*
 * station_lock.h — one writer per station: an exclusive flock(2) on a lock file beside the
 * ledger ("<ledger>.lock"), taken before the ledger is opened and held for the whole run.
 *
 * Why a file of its own and not a lock on the ledger's fd: the holder writes its pid into the
 * lock file so that a refused second host can name it, and nothing but records may be written
 * into the ledger; and the lock must not move when the ledger file is replaced or deleted
 * underneath a running host. The kernel drops the lock when the holder exits or crashes, so a
 * stale lock file never blocks a restart; it is never removed (removing it would let two
 * processes lock two different inodes of one path). It is found by the ledger's real name
 * (station_ledger_real_path): a ledger reached through a symlink, or a symlinked directory,
 * under another name is locked by the same file.
 */
#ifndef SMART_HOST_STATION_LOCK_H
#define SMART_HOST_STATION_LOCK_H

#include <stddef.h>

/* The ledger at `ledger_path` (borrowed) by its real name, into `out` (`size` bytes): symlinks
 * resolved, in the directories and in the name itself (a link whose target does not exist yet
 * too), so that every name of one ledger gives one lock path ("<real>.lock"). A part that does
 * not exist yet (a new station's ledger or directory) is kept as named. Returns 0, or
 * -ENAMETOOLONG (out is then the path as given, cut). */
int station_ledger_real_path(const char *ledger_path, char *out, size_t size);

/* Returned by station_lock_take when another process holds the lock. */
#define STATION_LOCK_EBUSY (-2002)

/* Create (mode 0644, parent directories too) and lock `path` (borrowed) exclusively without
 * waiting, then write this process's pid into it. `what` names the thing guarded, for the
 * message ("ledger var/ledger.jsonl"). Returns the fd holding the lock (>= 0, owned by the
 * caller: closing it releases the lock), STATION_LOCK_EBUSY when another process holds it
 * (`msg` names the path and, when it has written it, the holder's pid), or a negative errno
 * (`msg` says why). `msg` is caller-owned. */
int station_lock_take(const char *path, const char *what, char *msg, size_t msg_size);

#endif /* SMART_HOST_STATION_LOCK_H */
