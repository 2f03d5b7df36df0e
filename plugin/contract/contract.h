/* contract.h — SmartMaintenance contracts: strict reading and validation of a contracts
 * directory into an immutable, indexed contract set. A set is built whole or not at all. */
#ifndef SMART_CONTRACT_H
#define SMART_CONTRACT_H

#include "core/terms.h"
#include "smart_plugin.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct contract_set {
    contract *contracts;
    size_t contract_count;
    const contract_item **index; /* every item of every contract, sorted by equipment_id */
    size_t item_count;
    char **skipped; /* files for another station type, for the record */
    size_t skipped_count;
    char fingerprint[65]; /* SHA-256 over the names and contents of every file listed */
    char **skipped_why;   /* parallel to skipped: "station type MT", "contract_type SmartQA" */
    char **skipped_ids;   /* parallel to skipped: the contract id, or NULL */
    char **skipped_sha;   /* parallel to skipped: the SHA-256 of the file's bytes */
    contract *held;       /* read and valid, not in force (draft, validated, deprecated) */
    size_t held_count;
} contract_set;

/* Parses and validates one contract from `text` (the bytes of `file`). On success fills *out
 * (release with contract_release) and returns 0; otherwise SMART_ECONTRACT with err naming the
 * file, the field and why, and *out untouched. */
int contract_parse(const char *file, const char *text, size_t len, contract *out, smart_error *err);

/* Validates a contract already read into `document` (from JSON, or from YAML by
 * contract_parse_yaml) and takes over the caller's reference to it, whatever the outcome.
 * `bytes` (len) are the file's bytes, for the contract's sha256. On success fills *out and
 * returns 0; otherwise SMART_ECONTRACT with err as `<path>: why` — the field path first and no
 * file name, so that each caller can say where (contract_parse prefixes `<file>: `,
 * contract_parse_yaml `<file>:<line>: `). */
int contract_parse_document(const char *file, json_t *document, const char *bytes, size_t len,
                            contract *out, smart_error *err);

/* As contract_parse_document, going on past a problem and listing each (as `<path>: why`) in
 * *problems (may be NULL); err holds the first. */
typedef struct contract_problems contract_problems;
int contract_parse_document_all(const char *file, json_t *document, const char *bytes, size_t len,
                                contract *out, smart_error *err, contract_problems *problems);

void contract_release(contract *c);

#define CONTRACT_FILE_MAX 256 /* a file name within the directory (NAME_MAX) and its NUL */

/* Why a contract set was refused, with the file(s) it is about as data, so that a caller
 * reports them without reading them back out of the message. Caller-owned; filled only on
 * failure. */
/* Every problem found in one refused contract, so that its author fixes them in one round:
 * one per top-level field, item of equipment_list and procedure that is wrong, in document
 * order. `found` counts them all, `count` those listed (at most CONTRACT_PROBLEMS_MAX). */
#define CONTRACT_PROBLEMS_MAX 20
#define CONTRACT_PROBLEM_LEN  320
typedef struct contract_problems {
    size_t count, found;
    char text[CONTRACT_PROBLEMS_MAX][CONTRACT_PROBLEM_LEN];
} contract_problems;

/* Appends `text` to *p (which may be NULL): listed while there is room, counted always. */
void contract_problems_add(contract_problems *p, const char *text);

typedef struct contract_refusal {
    smart_error error;                  /* the code, and a message naming the file(s), field, why */
    char file[CONTRACT_FILE_MAX];       /* the file refused, "" when no one file is (the directory
                                         * cannot be listed, out of memory) */
    char other_file[CONTRACT_FILE_MAX]; /* the other file of a conflict (a contract id or an
                                         * equipment id claimed in two files), or "" */
    contract_problems problems;         /* every problem of the file refused (the first is the
                                         * message's); empty for a refusal about no content */
    char fingerprint[65];               /* as contract_set's: what was refused, so that one
                                         * deployment refused twice is reported once */
} contract_refusal;

/* Fills *why (which may be NULL) with `code`, the formatted message and the file names (NULL
 * for none) and returns `code`. */
int contract_refuse(contract_refusal *why, int code, const char *file, const char *other_file,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Loads every *.json, *.yaml and *.yml contract (see contract_yaml.h) in `dir` whose
 * station_type is `station_type`, in file-name order, and checks rules that span files (a
 * contract id or an equipment id claimed twice, whatever the files' forms). Each file is
 * opened without blocking and read only when it is a regular file: a FIFO, a directory, a
 * socket or a device is refused, never waited on. On success fills *out (release with
 * contract_set_release) and returns 0. Otherwise *out is untouched and *why says why: the first
 * bad file in name order. SMART_ECONTRACT for a refused deployment: a file that cannot be
 * opened or read (a dangling symlink, a file gone between listing and opening, no
 * permission, a read error), is not a regular file, is too large or is not a valid contract,
 * or two files claiming one contract id or equipment id (both named). SMART_ECONFIG when `dir`
 * itself cannot be listed; SMART_ENOMEM. Never SMART_EIO, which is for the store and the
 * ledger. The files are parsed on up to 4 threads started and joined within the call, each
 * contract's parsed document freed as soon as it is read (its terms keep their own copies:
 * `document` is NULL in a set's contracts). */
int contract_set_load(const char *dir, const char *station_type, contract_set *out,
                      contract_refusal *why);

/* As contract_set_load, reading only the files whose name starts with `prefix` (NULL: all), as
 * the hub's node-side loader globs `<station_type>-*` where several stations share a folder. */
int contract_set_load_matching(const char *dir, const char *station_type, const char *prefix,
                               contract_set *out, contract_refusal *why);

/* As contract_set_load, on files already in memory (the set adopted before, from the store):
 * `names[i]` with `lens[i]` bytes at `texts[i]` (borrowed for the call), in any order. */
int contract_set_load_texts(const char *const *names, const char *const *texts, const size_t *lens,
                            size_t count, const char *station_type, contract_set *out,
                            contract_refusal *why);

/* Reads and validates one YAML contract (contract/contract_yaml.h says how YAML is read):
 * contract_yaml_to_json, then contract_parse_document.
 * Same contract as contract_parse: 0 and *out filled (release with contract_release), or
 * SMART_ECONTRACT with err as `<file>:<line>: <path>: why` (or `<file>:<line>:<column>: why`
 * for what YAML itself refuses) and *out untouched. The contract's sha256 is of the YAML
 * bytes. */
int contract_parse_yaml(const char *file, const char *text, size_t len, contract *out,
                        smart_error *err);

/* The same, listing every problem found (each located as err is) in *problems (may be NULL). */
int contract_parse_yaml_all(const char *file, const char *text, size_t len, contract *out,
                            smart_error *err, contract_problems *problems);

/* As contract_parse and contract_parse_yaml (chosen by the name's .yaml/.yml), listing every
 * problem found in *problems (may be NULL) besides the first in err. A JSON file's items are
 * read as the file is and dropped from its document once read (json_read.h): its
 * `document` holds a null for each element of equipment_list. */
int contract_parse_file(const char *file, const char *text, size_t len, contract *out,
                        smart_error *err, contract_problems *problems);

/* Frees the files' bytes (each contract's text) once the set is adopted and its files are
 * stored: what the rules read is in the contracts' terms, so a set in force does not hold its
 * files' bytes as well. */
void contract_set_drop_texts(contract_set *set);

void contract_set_release(contract_set *set);

/* The item with that id, or NULL. O(log n). */
const contract_item *contract_set_find(const contract_set *set, const char *equipment_id);

#endif
