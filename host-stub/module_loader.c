/* module_loader.c — locate, dlopen and ABI-check modules; see module_loader.h. */
#include "module_loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The size of a descriptor built against ABI 1.0: every field up to shutdown. A module built
 * for an older minor of this major may be smaller than ours but never smaller than this. */
#define SMART_PLUGIN_MIN_SIZE (offsetof(smart_plugin, shutdown) + sizeof(void (*)(void)))

static bool readable_file(const char *path) { return access(path, R_OK) == 0; }

int module_resolve_path(const char *path, const char *search_path, const char *fallback_dir,
                        char **out, char *msg, size_t msg_size) {
    *out = NULL;
    if (strchr(path, '/') != NULL) {
        *out = strdup(path);
        if (*out == NULL) {
            snprintf(msg, msg_size, "module %s: out of memory", path);
            return -ENOMEM;
        }
        return 0;
    }
    char candidate[4096];
    if (search_path != NULL) {
        const char *dir = search_path;
        while (*dir != '\0') {
            size_t dir_len = strcspn(dir, ":");
            if (dir_len > 0) {
                snprintf(candidate, sizeof candidate, "%.*s/%s", (int)dir_len, dir, path);
                if (readable_file(candidate))
                    goto found;
            }
            dir += dir_len;
            if (*dir == ':')
                dir++;
        }
    }
    if (fallback_dir != NULL) {
        snprintf(candidate, sizeof candidate, "%s/%s", fallback_dir, path);
        if (readable_file(candidate))
            goto found;
    }
    snprintf(msg, msg_size, "module %s: not found in $SMART_MODULE_PATH (%s) or %s", path,
             search_path ? search_path : "unset", fallback_dir ? fallback_dir : "-");
    return -ENOENT;
found:
    *out = strdup(candidate);
    if (*out == NULL) {
        snprintf(msg, msg_size, "module %s: out of memory", path);
        return -ENOMEM;
    }
    return 0;
}

/* Check the descriptor; returns 0 or an error code with msg set. */
static int check_descriptor(const smart_plugin *p, const char *path, char *msg, size_t msg_size) {
    if (p == NULL) {
        snprintf(msg, msg_size, "module %s: smart_plugin_entry returned NULL", path);
        return SMART_ECONFIG;
    }
    /* Read abi_major/minor only after struct_size says they exist. */
    if (p->struct_size < offsetof(smart_plugin, abi_minor) + sizeof p->abi_minor) {
        snprintf(msg, msg_size,
                 "module %s: descriptor struct_size %u is too small to hold an ABI version", path,
                 p->struct_size);
        return SMART_EVERSION;
    }
    if (p->abi_major != SMART_ABI_MAJOR) {
        snprintf(msg, msg_size,
                 "module %s: built for SMART ABI %u.%u, but this host speaks %d.%d "
                 "(a different major version is incompatible)",
                 path, p->abi_major, p->abi_minor, SMART_ABI_MAJOR, SMART_ABI_MINOR);
        return SMART_EVERSION;
    }
    if (p->abi_minor > SMART_ABI_MINOR) {
        snprintf(msg, msg_size,
                 "module %s: built for SMART ABI %u.%u, newer than this host's %d.%d "
                 "(it may call functions this host lacks)",
                 path, p->abi_major, p->abi_minor, SMART_ABI_MAJOR, SMART_ABI_MINOR);
        return SMART_EVERSION;
    }
    if (p->struct_size < SMART_PLUGIN_MIN_SIZE) {
        snprintf(msg, msg_size,
                 "module %s: descriptor struct_size %u is smaller than ABI %d.0's %zu", path,
                 p->struct_size, SMART_ABI_MAJOR, (size_t)SMART_PLUGIN_MIN_SIZE);
        return SMART_EVERSION;
    }
    if (p->name == NULL || p->name[0] == '\0' || p->version == NULL) {
        snprintf(msg, msg_size, "module %s: descriptor has no name or version", path);
        return SMART_ECONFIG;
    }
    if (p->init == NULL || p->on_event == NULL || p->commit == NULL || p->shutdown == NULL) {
        snprintf(msg, msg_size, "module %s: descriptor lacks init, on_event, commit or shutdown",
                 path);
        return SMART_ECONFIG;
    }
    return 0;
}

int module_load(loaded_module *m, const char *path, char *msg, size_t msg_size) {
    m->path = strdup(path);
    if (m->path == NULL) {
        snprintf(msg, msg_size, "module %s: out of memory", path);
        return SMART_ENOMEM;
    }
    dlerror();
    m->dl_handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (m->dl_handle == NULL) {
        const char *why = dlerror();
        snprintf(msg, msg_size, "module %s: cannot load: %s", path, why ? why : "unknown error");
        module_unload(m);
        return SMART_ECONFIG;
    }
    /* POSIX dlsym returns void *; converting it to a function pointer is the documented way. */
    void *symbol = dlsym(m->dl_handle, SMART_PLUGIN_ENTRY_SYMBOL);
    if (symbol == NULL) {
        snprintf(msg, msg_size,
                 "module %s: exports no %s(); it is not a SMART module (or was built "
                 "without exporting its entry point)",
                 path, SMART_PLUGIN_ENTRY_SYMBOL);
        module_unload(m);
        return SMART_ECONFIG;
    }
    smart_plugin_entry_fn entry;
    memcpy(&entry, &symbol, sizeof entry);
    const smart_plugin *plugin = entry();
    int rc = check_descriptor(plugin, path, msg, msg_size);
    if (rc < 0) {
        module_unload(m);
        return rc;
    }
    m->plugin = plugin;
    m->name = strdup(plugin->name);
    m->version = strdup(plugin->version);
    if (m->name == NULL || m->version == NULL) {
        snprintf(msg, msg_size, "module %s: out of memory", path);
        module_unload(m);
        return SMART_ENOMEM;
    }
    return 0;
}

int module_init(loaded_module *m, const smart_host *table_template, void *owner,
                const char *config_json, size_t config_len, smart_error *err) {
    m->table = *table_template;
    m->table.host_data = m;
    m->owner = owner;
    err->code = 0;
    err->text[0] = '\0';
    void *instance = NULL;
    int rc = m->plugin->init(&m->table, config_json, config_len, &instance, err);
    if (rc < 0) {
        err->text[sizeof err->text - 1] = '\0';
        if (err->text[0] == '\0')
            snprintf(err->text, sizeof err->text, "init failed with code %d", rc);
        return rc;
    }
    m->instance = instance;
    m->initialised = true;
    return 0;
}

void module_unload(loaded_module *m) {
    if (m->dl_handle != NULL)
        dlclose(m->dl_handle);
    m->dl_handle = NULL;
    m->plugin = NULL;
    free(m->path);
    free(m->name);
    free(m->version);
    m->path = NULL;
    m->name = NULL;
    m->version = NULL;
}
