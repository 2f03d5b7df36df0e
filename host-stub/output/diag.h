/*
 * diag.h — the one place the host writes to standard error.
 *
 * Messages quote input (ids, topics, file names, what a module said), and standard error is
 * read by people on terminals and by log collectors a line at a time: a newline in an id would
 * forge a line of its own ("smart-host: fatal: ..."), an ESC would drive the terminal. So every
 * message is written here, as one line "smart-host: <message>\n" in one write, with every
 * control character escaped: \n, \r, \t, other C0 and DEL as \xHH, and the C1 controls
 * U+0080..U+009F (which some terminals obey) as \u00HH. Other bytes, invalid UTF-8 included,
 * pass as they are. Safe on any thread (one write per message; nothing shared).
 */
#ifndef SMART_HOST_DIAG_H
#define SMART_HOST_DIAG_H

#include <stddef.h>

/* Format the message (printf-style, without the "smart-host: " prefix or a newline) and write
 * it to standard error as described above. Cannot fail (a failed write is dropped). */
void host_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Escape `text` (`len` bytes, borrowed) as host_diag does into `out` (`out_size` bytes,
 * caller-owned, always NUL-terminated; truncated at a whole escape). Returns the length written.
 * For the tests, and for messages built elsewhere. */
size_t host_diag_escape(const char *text, size_t len, char *out, size_t out_size);

#endif /* SMART_HOST_DIAG_H */
