/* fuzz_contract_yaml.c — a SmartMaintenance contract in YAML (plugin/contract/contract_yaml.c read
 * by contract_parse_yaml, then the same validator as JSON): the MaintenanceHub's own form.
 *
 * The whole input is the file's content, as contract_set_load hands a file's bytes over. A
 * contract is accepted and released, or refused with a message that names the file: both are
 * fine, anything else (a crash, a leak, a refusal that does not name the file) is not. A
 * refusal names the file
 * and the line (`FUZZ.yaml:<line>:`), so the prefix checked here is the file's. */
#include "contract/contract.h"

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

int LLVMFuzzerTestOneInput(const unsigned char *bytes, size_t size)
{
    contract c;
    smart_error err = {0};
    int rc = contract_parse_yaml("FUZZ.yaml", (const char *)bytes, size, &c, &err);
    if (rc == 0)
        contract_release(&c);
    else if ((rc != SMART_ECONTRACT && rc != SMART_ENOMEM) ||
             strncmp(err.text, "FUZZ.yaml:", 10) != 0)
        abort();
    return 0;
}
