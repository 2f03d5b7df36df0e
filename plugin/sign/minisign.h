/*
 * minisign.h — minisign's key and signature files, read and written strictly, and Ed25519
 * signing and verification in minisign's two modes, with libsodium's primitives (Ed25519,
 * BLAKE2b, base64); no cryptography is written here.
 *
 * A static library of its own (plugin/sign/), like plugin/core/ a part of the module's tree that
 * the host links too: the host signs its ledger's checkpoints with it and the module checks the
 * hub's contract signatures with it. It depends only on libsodium and the ABI header (for
 * smart_error), never on the rest of the module.
 *
 * The formats, as the stock `minisign` 0.11 writes them (Debian's package; the tests check
 * each one against it):
 *   public key  "untrusted comment: <text>\n" then base64 of "Ed" | key id (8) | Ed25519 public
 *               key (32): 56 characters. A bare base64 line is what `minisign -P` takes.
 *   secret key  "untrusted comment: <text>\n" then base64 of
 *               "Ed" | kdf (2) | "B2" | salt (32) | opslimit (8) | memlimit (8) | key id (8) |
 *               Ed25519 secret key (64, seed then public key) | checksum (32): 212 characters.
 *               Only unencrypted keys (kdf 0x0000, as `minisign -G -W` writes) are read: the
 *               node signs unattended, so its key has no password; file mode 0600 guards it.
 *               The checksum is BLAKE2b-256 of "Ed" | key id | secret key; minisign 0.11 -W
 *               leaves it zero, which is accepted too (the secret key's public half is then
 *               checked against its seed instead).
 *   signature   "untrusted comment: <text>\n", base64 of "Ed" (legacy: signs the message) or
 *               "ED" (prehashed: signs BLAKE2b-512 of the message) | key id (8) | signature
 *               (64): 100 characters, "\n", "trusted comment: <text>\n", base64 of the global
 *               signature (64): 88 characters, an optional final "\n". The global signature
 *               signs the signature (64) followed by the trusted comment's text.
 * Any other length, prefix, algorithm, padding or trailing byte is refused with a message saying
 * which line and why.
 *
 * Errors: 0 or a negative SMART_E* code (SMART_EINVAL for bad text or a failed verification,
 * SMART_EIO for a file that cannot be read, SMART_ENOMEM), with a one-line message in `err`
 * (caller-owned, may be NULL). No global state of ours; msig_init initialises libsodium (its
 * sodium_init is thread-safe and idempotent) and must be called before the rest. Every function
 * is thread-safe on distinct arguments.
 */
#ifndef SMART_SIGN_MINISIGN_H
#define SMART_SIGN_MINISIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smart_plugin.h"

#define MSIG_KEY_ID_BYTES     8
#define MSIG_PUBLIC_KEY_BYTES 32
#define MSIG_SECRET_KEY_BYTES 64
#define MSIG_SIGNATURE_BYTES  64
/* A key id as text: 16 uppercase hex digits of the id read as a little-endian integer, as
 * minisign prints it (minisign leaves out leading zeros; these are kept). */
#define MSIG_KEY_ID_TEXT_LEN 16
/* The longest comment line minisign reads (its COMMENTMAXBYTES), and the longest trusted
 * comment (its TRUSTEDCOMMENTMAXBYTES), prefixes included. */
#define MSIG_COMMENT_LINE_MAX 1024
#define MSIG_TRUSTED_LINE_MAX 8192
/* Files longer than this are not key or signature files. */
#define MSIG_FILE_MAX 16384

typedef struct msig_public_key {
    uint8_t key_id[MSIG_KEY_ID_BYTES];
    uint8_t pk[MSIG_PUBLIC_KEY_BYTES];
} msig_public_key;

/* Holds secret material: wipe it with msig_secret_key_wipe when done. */
typedef struct msig_secret_key {
    uint8_t key_id[MSIG_KEY_ID_BYTES];
    uint8_t sk[MSIG_SECRET_KEY_BYTES];
} msig_secret_key;

typedef struct msig_signature {
    bool prehashed; /* "ED": the signature is of BLAKE2b-512(message); "Ed": of the message */
    uint8_t key_id[MSIG_KEY_ID_BYTES];
    uint8_t sig[MSIG_SIGNATURE_BYTES];
    char trusted_comment[MSIG_TRUSTED_LINE_MAX]; /* the text after "trusted comment: " */
    size_t trusted_len;
    uint8_t global_sig[MSIG_SIGNATURE_BYTES];
} msig_signature;

/* Initialise libsodium. Returns 0 or SMART_EIO. */
int msig_init(smart_error *err);

/* The key id as text into `out` (MSIG_KEY_ID_TEXT_LEN + 1 bytes). */
void msig_key_id_text(const uint8_t key_id[MSIG_KEY_ID_BYTES], char out[MSIG_KEY_ID_TEXT_LEN + 1]);

/* Parse a public key file's text (`len` bytes, borrowed), or a bare base64 key line (with or
 * without a final "\n"). Returns 0 or SMART_EINVAL. */
int msig_public_key_parse(const char *text, size_t len, msig_public_key *out, smart_error *err);

/* Read and parse the public key file at `path`. Returns 0, SMART_EIO or SMART_EINVAL (the
 * message names the path). */
int msig_public_key_load(const char *path, msig_public_key *out, smart_error *err);

/* The public key as its base64 line (no newline) into `out` (at least 57 bytes). */
void msig_public_key_base64(const msig_public_key *key, char *out, size_t out_size);

/* Parse an unencrypted secret key file's text. Returns 0 or SMART_EINVAL (an encrypted key is
 * refused with a message saying to make one without a password). */
int msig_secret_key_parse(const char *text, size_t len, msig_secret_key *out, smart_error *err);

/* Read and parse the secret key file at `path`; refused (SMART_EINVAL) when group or others
 * may read it. */
int msig_secret_key_load(const char *path, msig_secret_key *out, smart_error *err);

/* A new random key pair. Returns 0. */
int msig_keypair(msig_public_key *pub, msig_secret_key *sec, smart_error *err);

/* The public key of a secret key. */
void msig_public_of(const msig_secret_key *sec, msig_public_key *pub);

/* Write the public key file's text (2 lines) into `out`. Returns its length, or SMART_EINVAL
 * when `out_size` is too small (200 bytes is enough). */
int msig_public_key_format(const msig_public_key *key, char *out, size_t out_size);

/* Write the secret key file's text (2 lines, unencrypted, with its checksum) into `out`.
 * Returns its length, or SMART_EINVAL when `out_size` is too small (320 bytes is enough). */
int msig_secret_key_format(const msig_secret_key *key, char *out, size_t out_size);

void msig_secret_key_wipe(msig_secret_key *key);

/* Parse a .minisig file's text. Returns 0 or SMART_EINVAL. */
int msig_signature_parse(const char *text, size_t len, msig_signature *out, smart_error *err);

/* Read and parse the signature file at `path`. Returns 0, SMART_EIO (also when it is missing:
 * err->text says so) or SMART_EINVAL. */
int msig_signature_load(const char *path, msig_signature *out, smart_error *err);

/* Sign `msg` (`len` bytes) prehashed, with `trusted_comment` (one line, no control
 * characters), writing the .minisig text into `out` (caller-owned; 400 bytes plus the trusted
 * comment's length is enough). Returns the text's length, or SMART_EINVAL (a bad comment, or
 * `out` too small). */
int msig_sign(const msig_secret_key *key, const void *msg, size_t len, const char *trusted_comment,
              char *out, size_t out_size, smart_error *err);

/* Verify `sig` over `msg` with `key`: the key ids must match, then the signature, then the
 * global signature over the trusted comment. Returns 0 or SMART_EINVAL with the reason
 * ("signed with key X, not key Y", "signature does not verify", "trusted comment's signature
 * does not verify"). */
int msig_verify(const msig_public_key *key, const msig_signature *sig, const void *msg, size_t len,
                smart_error *err);

#endif /* SMART_SIGN_MINISIGN_H */
