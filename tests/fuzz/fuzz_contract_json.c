/* fuzz_contract_json.c — a SmartMaintenance contract in JSON (plugin/contract/contract.c,
 * contract_parse): the bytes a MaintenanceHub deploys into contracts_dir.
 *
 * The whole input is the file's content, as contract_set_load hands a file's bytes over. A
 * contract is accepted and released, or refused with a message that names the file: both are
 * fine (`FUZZ.json:` then a line and column, or the field), anything else (a crash, a leak,
 * a refusal that does not name the file) is not. */
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
    int rc = contract_parse("FUZZ.json", (const char *)bytes, size, &c, &err);
    if (rc == 0)
        contract_release(&c);
    else if ((rc != SMART_ECONTRACT && rc != SMART_ENOMEM) ||
             strncmp(err.text, "FUZZ.json:", 10) != 0)
        abort();
    return 0;
}
