/* fuzz_json_check.c — the host's check of what a module hands over (host-stub/util/json_check.h):
 * the boundary that keeps a module from writing a ledger line `ledger verify` would not read.
 *
 * A differential target: json_check_object must take exactly the texts jansson takes as one
 * object with JSON_REJECT_DUPLICATES (the reader json_check.h promises to agree with), but for
 * a raw NUL byte, which JSON never holds and jansson sometimes takes (plugin/yajl_gaps/yajl_gaps.h), and
 * refuse every other with a reason. Any disagreement aborts, so a text that could pass the host
 * and fail the audit (or the other way round) is found and kept as the crash input. */
#include "util/json_check.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *bytes, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    json_object_seed(1);
    return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *bytes, size_t size)
{
    const char *text = (const char *)bytes;
    json_checker checker = {0};
    char why[256] = "";
    int rc = json_check_object(&checker, text, size, why, sizeof why);
    json_checker_free(&checker);
    if (rc == -ENOMEM)
        return 0;
    json_t *root = json_loadb(text, size, JSON_REJECT_DUPLICATES, NULL);
    /* A raw NUL is never JSON; jansson takes one after a number, the check never (yajl_gaps.h). */
    bool jansson_takes = root != NULL && json_is_object(root) && memchr(text, '\0', size) == NULL;
    json_decref(root);
    if ((rc == 0) != jansson_takes)
        abort();
    if (rc != 0 && (rc != -EINVAL || why[0] == '\0'))
        abort(); /* a refusal always says why */
    return 0;
}
