/* module_loader.c — locate, dlopen and ABI-check modules; see module_loader.h. */
#include "modules/module_loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/durable_file.h"

/* The size of a descriptor built against ABI 1.0: every field up to shutdown. A module built
 * for an older minor of this major may be smaller than ours but never smaller than this. */
#define SMART_PLUGIN_MIN_SIZE (offsetof(smart_plugin, shutdown) + sizeof(void (*)(void)))

static bool readable_file(const char *path)
{
    return access(path, R_OK) == 0;
}

/* Whether `name` is a readable file in one of `dirs` (colon separated; NULL: none): the
 * first such path is left in `candidate`. */
static bool find_in_dirs(const char *dirs, const char *name, char *candidate, size_t size)
{
    for (const char *dir = dirs; dir != NULL && *dir != '\0';) {
        size_t dir_len = strcspn(dir, ":");
        if (dir_len > 0) {
            snprintf(candidate, size, "%.*s/%s", (int)dir_len, dir, name);
            if (readable_file(candidate))
                return true;
        }
        dir += dir_len;
        if (*dir == ':')
            dir++;
    }
    return false;
}

int module_resolve_path(const char *path, const char *search_path, const char *fallback_dir,
                        char **out, char *msg, size_t msg_size)
{
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
    if (find_in_dirs(search_path, path, candidate, sizeof candidate) ||
        find_in_dirs(fallback_dir, path, candidate, sizeof candidate))
        goto found;
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
static int check_descriptor(const smart_plugin *p, const char *path, char *msg, size_t msg_size)
{
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
    if (SMART_HAS(p, release_decoded) && p->decode_event != NULL && p->release_decoded == NULL) {
        snprintf(msg, msg_size, "module %s: descriptor has decode_event but no release_decoded",
                 path);
        return SMART_ECONFIG;
    }
    return 0;
}

bool module_decodes_ahead(const smart_plugin *p)
{
    return p != NULL && SMART_HAS(p, release_decoded) && p->decode_event != NULL;
}

void *module_pin_image(void *dl_handle)
{
    /* dlopen of a loaded object's own name hands back the same handle with one more
     * reference; RTLD_NOLOAD never loads anything (a private copy's file is gone by now). */
    struct link_map *map = NULL;
    if (dl_handle == NULL || dlinfo(dl_handle, RTLD_DI_LINKMAP, &map) != 0 || map == NULL)
        return NULL;
    return dlopen(map->l_name, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
}

/* dlopen `load_path`, find the entry and check the descriptor; messages name `path` (what the
 * node configuration says, not a private copy). Returns 0 with *handle and *plugin set, or an
 * error code with nothing left open. */
static int open_checked(const char *load_path, const char *path, void **handle,
                        const smart_plugin **plugin, char *msg, size_t msg_size)
{
    *handle = NULL;
    *plugin = NULL;
    dlerror();
    void *dl = dlopen(load_path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        const char *why = dlerror();
        snprintf(msg, msg_size, "module %s: cannot load: %s", path, why ? why : "unknown error");
        return SMART_ECONFIG;
    }
    /* POSIX dlsym returns void *; converting it to a function pointer is the documented way. */
    void *symbol = dlsym(dl, SMART_PLUGIN_ENTRY_SYMBOL);
    if (symbol == NULL) {
        snprintf(msg, msg_size,
                 "module %s: exports no %s(); it is not a SMART module (or was built "
                 "without exporting its entry point)",
                 path, SMART_PLUGIN_ENTRY_SYMBOL);
        dlclose(dl);
        return SMART_ECONFIG;
    }
    smart_plugin_entry_fn entry;
    memcpy(&entry, &symbol, sizeof entry);
    const smart_plugin *p = entry();
    int rc = check_descriptor(p, path, msg, msg_size);
    if (rc < 0) {
        dlclose(dl);
        return rc;
    }
    *handle = dl;
    *plugin = p;
    return 0;
}

static int copy_to_private_file(const char *path, char *copy, char *msg, size_t msg_size);

int module_load(loaded_module *m, const char *path, char *msg, size_t msg_size)
{
    m->path = strdup(path);
    if (m->path == NULL) {
        snprintf(msg, msg_size, "module %s: out of memory", path);
        return SMART_ENOMEM;
    }
    /* From a private copy, as a reload does: the file at `path` may be rewritten in place (cp
     * over it) while the host runs, and a mapping of it would change under the running code. */
    char copy[PATH_MAX];
    int rc = copy_to_private_file(path, copy, msg, msg_size);
    if (rc == 0) {
        rc = open_checked(copy, path, &m->dl_handle, &m->plugin, msg, msg_size);
        unlink(copy); /* mapped or refused, the copy is not needed on disk any more */
    }
    if (rc < 0) {
        module_unload(m);
        return rc;
    }
    m->name = strdup(m->plugin->name);
    m->version = strdup(m->plugin->version);
    if (m->name == NULL || m->version == NULL) {
        snprintf(msg, msg_size, "module %s: out of memory", path);
        module_unload(m);
        return SMART_ENOMEM;
    }
    return 0;
}

/* Copy the file at `path` to a new private file; its name goes to `copy` (PATH_MAX bytes). */
static int copy_to_private_file(const char *path, char *copy, char *msg, size_t msg_size)
{
    const char *dir = getenv("TMPDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = "/tmp";
    if (snprintf(copy, PATH_MAX, "%s/smart-module-XXXXXX.so", dir) >= PATH_MAX) {
        snprintf(msg, msg_size, "module %s: $TMPDIR is too long", path);
        return SMART_ECONFIG;
    }
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        snprintf(msg, msg_size, "module %s: cannot load: %s", path, strerror(errno));
        return SMART_ECONFIG;
    }
    int out = mkstemps(copy, 3);
    if (out < 0) {
        snprintf(msg, msg_size, "module %s: cannot create a private copy in %s: %s", path, dir,
                 strerror(errno));
        close(in);
        return SMART_EIO;
    }
    int rc = 0;
    char buf[64 * 1024];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            snprintf(msg, msg_size, "module %s: cannot read the new image: %s", path,
                     strerror(errno));
            break;
        }
        if (n == 0)
            break;
        rc = durable_write_all(out, buf, (size_t)n);
        if (rc < 0) {
            snprintf(msg, msg_size, "module %s: cannot write a private copy %s: %s", path, copy,
                     strerror(-rc));
            break;
        }
    }
    close(in);
    /* No fsync: the copy is read back at once and never needed after a crash. */
    if (close(out) != 0 && rc == 0) {
        rc = -errno;
        snprintf(msg, msg_size, "module %s: cannot write a private copy %s: %s", path, copy,
                 strerror(errno));
    }
    if (rc < 0) {
        unlink(copy);
        return SMART_EIO;
    }
    return 0;
}

int module_open_copy(const char *path, const char *expected_name, module_image *out, char *msg,
                     size_t msg_size)
{
    out->dl_handle = NULL;
    out->plugin = NULL;
    char copy[PATH_MAX];
    int rc = copy_to_private_file(path, copy, msg, msg_size);
    if (rc < 0)
        return rc;
    rc = open_checked(copy, path, &out->dl_handle, &out->plugin, msg, msg_size);
    unlink(copy); /* mapped or refused, the copy is not needed on disk any more */
    if (rc < 0)
        return rc;
    if (strcmp(out->plugin->name, expected_name) != 0) {
        snprintf(msg, msg_size, "module %s: the new image is module '%s', not '%s'", path,
                 out->plugin->name, expected_name);
        module_image_close(out);
        return SMART_ECONFIG;
    }
    return 0;
}

void module_image_close(module_image *image)
{
    if (image->dl_handle != NULL)
        dlclose(image->dl_handle);
    image->dl_handle = NULL;
    image->plugin = NULL;
}

int module_init(loaded_module *m, const smart_host *table_template, void *owner,
                const char *config_json, size_t config_len, smart_error *err)
{
    m->table = *table_template;
    m->table.host_data = m;
    m->owner = owner;
    err->code = 0;
    err->text[0] = '\0';
    void *instance = NULL;
    int rc = m->plugin->init(&m->table, config_json, config_len, &instance, err);
    if (rc > 0) { /* outside the documented set: not a success */
        snprintf(err->text, sizeof err->text, "init returned %d, not 0 or a negative SMART_E* code",
                 rc);
        err->code = SMART_EINVAL;
        return SMART_EINVAL;
    }
    if (rc < 0) {
        err->text[sizeof err->text - 1] = '\0';
        if (err->text[0] == '\0')
            snprintf(err->text, sizeof err->text, "init failed with code %d", rc);
        return rc;
    }
    if (instance == NULL) { /* no instance: nothing could be shut down, so not a success */
        snprintf(err->text, sizeof err->text, "init returned 0 and no instance (*self NULL)");
        err->code = SMART_EINVAL;
        return SMART_EINVAL;
    }
    m->instance = instance;
    m->initialised = true;
    return 0;
}

/* The callback a handle would run, by its type (libuv keeps it in the handle's public struct). */
static const void *handle_callback(const uv_handle_t *h)
{
    switch (h->type) {
    case UV_TIMER: return (const void *)((const uv_timer_t *)h)->timer_cb;
    case UV_IDLE: return (const void *)((const uv_idle_t *)h)->idle_cb;
    case UV_CHECK: return (const void *)((const uv_check_t *)h)->check_cb;
    case UV_PREPARE: return (const void *)((const uv_prepare_t *)h)->prepare_cb;
    case UV_ASYNC: return (const void *)((const uv_async_t *)h)->async_cb;
    case UV_FS_EVENT: return (const void *)((const uv_fs_event_t *)h)->cb;
    case UV_POLL: return (const void *)((const uv_poll_t *)h)->poll_cb;
    case UV_SIGNAL: return (const void *)((const uv_signal_t *)h)->signal_cb;
    default: return NULL;
    }
}

/* The base address of the object that holds `p`, or NULL. */
static const void *image_base(const void *p)
{
    Dl_info info;
    return p != NULL && dladdr(p, &info) != 0 ? info.dli_fbase : NULL;
}

typedef struct left_walk {
    const void *base;
    size_t closed;
} left_walk;

static void close_if_left(uv_handle_t *h, void *arg)
{
    left_walk *w = arg;
    if (uv_is_closing(h))
        return;
    if (image_base(handle_callback(h)) != w->base && image_base(h) != w->base)
        return;
    uv_close(h, NULL);
    w->closed++;
}

size_t module_close_left_handles(uv_loop_t *loop, const smart_plugin *plugin)
{
    left_walk w = {.base = image_base(plugin), .closed = 0};
    if (w.base == NULL)
        return 0;
    uv_walk(loop, close_if_left, &w);
    return w.closed;
}

void module_keep_mapped(loaded_module *m)
{
    m->keep_mapped = true;
}

void module_unload(loaded_module *m)
{
    if (m->dl_handle != NULL && !m->keep_mapped)
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
