/* fuzz_node_config.c — the node configuration, NODE.json (host-stub/config/node_config.c,
 * node_config_parse): the first file the host reads.
 *
 * The input is the file's content; node_config_load only reads the file and resolves its
 * directory before handing both to node_config_parse, which is what is fuzzed. A
 * configuration is accepted (its paths absolute, each module's config an object) or refused
 * with a message naming the file; -EINVAL and -ENOMEM are the only refusals of text. */
#include "config/node_config.h"

#include <errno.h>
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
    node_config *config = NULL;
    char msg[512] = "";
    int rc = node_config_parse((const char *)bytes, size, "node.json", "/srv/node", &config, msg,
                               sizeof msg);
    if (rc == 0) {
        if (config == NULL || config->ledger_path[0] != '/' || config->alerts_path[0] != '/')
            abort();
        for (size_t i = 0; i < config->module_count; i++) {
            json_t *module_config =
                json_loadb(config->modules[i].config_json, config->modules[i].config_len, 0, NULL);
            if (!json_is_object(module_config))
                abort();
            json_decref(module_config);
        }
        node_config_free(config);
    } else if ((rc != -EINVAL && rc != -ENOMEM) || config != NULL ||
               strncmp(msg, "node.json: ", 11) != 0) {
        abort();
    }
    return 0;
}
