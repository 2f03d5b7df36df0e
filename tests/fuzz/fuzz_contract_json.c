/* fuzz_contract_json.c — a SmartMaintenance contract in JSON (plugin/contract/contract.c,
 * contract_parse): the bytes a MaintenanceHub deploys into contracts_dir.
 *
 * The whole input is the file's content, as contract_set_load hands a file's bytes over. A
 * contract is accepted and released, or refused with a message that names the file: both are
 * fine (`FUZZ.json:` then a line and column, or the field), anything else (a crash, a leak,
 * a refusal that does not name the file) is not.
 *
 * The reader (json_read.c, yajl) must take exactly what json_loadb with
 * JSON_REJECT_DUPLICATES takes, into an equal tree, and refuse with json_loadb's message: the
 * same bytes go through both, and any difference aborts. */
#include "contract/contract.h"
#include "json/json_read.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *bytes, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    json_object_seed(1); /* a fixed hash seed: a run is repeatable */
    return 0;
}

/* The reader against jansson's own parse of the same bytes. */
static void compare_with_jansson(const char *text, size_t size)
{
    json_error_t ours, theirs;
    json_t *a = jr_read(text, size, &ours);
    json_t *b = json_loadb(text, size, JSON_REJECT_DUPLICATES, &theirs);
    if (!a && strcmp(ours.text, "out of memory") == 0) {
        json_decref(b);
        return;
    }
    /* A raw NUL is never JSON, yet jansson takes one after a number: there the reader may
     * refuse what jansson takes (yajl_gaps.h), never the other way round. */
    bool has_nul = memchr(text, '\0', size) != NULL;
    if (a && !b)
        abort();
    if (!a && b && !has_nul)
        abort();
    if (a && !json_equal(a, b))
        abort();
    if (!a && b) {
        json_decref(b);
        return;
    }
    if (!a && (ours.line != theirs.line || ours.column != theirs.column ||
               strcmp(ours.text, theirs.text) != 0))
        abort();
    json_decref(a);
    json_decref(b);
}

/* The same bytes as a file of a contracts directory: read as a set reads it, its items as the
 * file is (jr_read_streaming); refused with the same message as contract_parse. */
static void load_as_set(const char *text, size_t size, int parse_rc, const smart_error *err)
{
    const char *names[] = {"FUZZ.json"};
    const char *texts[] = {text};
    size_t lens[] = {size};
    contract_set set;
    contract_refusal *why = calloc(1, sizeof *why);
    if (!why)
        return;
    int rc = contract_set_load_texts(names, texts, lens, 1, "LP", &set, why);
    if (rc == 0)
        contract_set_release(&set);
    else if (rc == SMART_ECONTRACT && parse_rc == SMART_ECONTRACT &&
             strcmp(why->error.text, err->text) != 0)
        abort();
    if ((rc == 0 && parse_rc == SMART_ECONTRACT) || (rc == SMART_ECONTRACT && parse_rc == 0))
        abort();
    free(why);
}

int LLVMFuzzerTestOneInput(const unsigned char *bytes, size_t size)
{
    compare_with_jansson((const char *)bytes, size);
    contract c;
    smart_error err = {0};
    int rc = contract_parse("FUZZ.json", (const char *)bytes, size, &c, &err);
    load_as_set((const char *)bytes, size, rc, &err);
    if (rc == 0)
        contract_release(&c);
    else if ((rc != SMART_ECONTRACT && rc != SMART_ENOMEM) ||
             strncmp(err.text, "FUZZ.json:", 10) != 0)
        abort();
    return 0;
}
