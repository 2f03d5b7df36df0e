/* lock_file.h — one writer per directory: an exclusive flock(2) on a lock file that holds the
 * holder's pid. The host locks its ledger with it (host-stub/ledger/station_lock.c) and the
 * module its data_dir (plugin/store/store.c); each words its own messages.
 *
 * The kernel drops the lock when the holder exits or crashes, so a stale lock file never
 * blocks a restart; the file is never removed (removing it would let two processes lock two
 * inodes of one path). POSIX, libc alone; no state; any thread. */
#ifndef SMART_LOCK_FILE_H
#define SMART_LOCK_FILE_H

/* Returned by lock_file_take when another process holds the lock. */
#define LOCK_FILE_BUSY (-2002)

/* What lock_file_take was doing when it failed. */
typedef enum lock_file_step { LOCK_FILE_OPEN, LOCK_FILE_LOCK, LOCK_FILE_WRITE_PID } lock_file_step;

/* Opens (creating it, mode 0644; its directory must exist) and locks `path` exclusively
 * without waiting, then writes this process's pid into it. Returns the fd holding the lock
 * (>= 0, the caller's: closing it releases the lock); LOCK_FILE_BUSY when another process holds
 * it, *holder_pid then the pid it wrote (0 when it has not yet); or a negative errno, *step
 * saying what failed. */
int lock_file_take(const char *path, long *holder_pid, lock_file_step *step);

#endif
