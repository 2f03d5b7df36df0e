/* module_loader.c — locate, dlopen and ABI-check modules; see module_loader.h. */
#include "modules/module_loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

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

/* Private copies are named COPY_PREFIX "XXXXXX.so", only in the station's own directory. */
#define COPY_PREFIX "smart-module-"

static const char *temp_dir(void)
{
    const char *dir = getenv("TMPDIR");
    return dir != NULL && dir[0] != '\0' ? dir : "/tmp";
}

/* Whether [offset, offset + size) lies inside a file of `file_size` bytes (no overflow). */
static bool inside(uint64_t offset, uint64_t size, uint64_t file_size)
{
    return offset <= file_size && size <= file_size - offset;
}

/* Check that the file open on `fd` is a complete ELF shared object of this machine: its header,
 * its program headers and every loadable segment's bytes lie inside the file. A truncated file
 * would be mapped past its end, and touching those pages raises SIGBUS in the host. Returns 0
 * or SMART_ECONFIG with `msg` naming `path`. */
static int check_elf_image(int fd, const char *path, char *msg, size_t msg_size)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(msg, msg_size, "module %s: cannot check the copy: %s", path, strerror(errno));
        return SMART_EIO;
    }
    uint64_t size = (uint64_t)st.st_size;
    ElfW(Ehdr) eh;
    if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh) {
        snprintf(msg, msg_size, "module %s: incomplete file (%llu bytes, no ELF header)", path,
                 (unsigned long long)size);
        return SMART_ECONFIG;
    }
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_type != ET_DYN || eh.e_phentsize != sizeof(ElfW(Phdr))) {
        snprintf(msg, msg_size, "module %s: not a 64-bit ELF shared object", path);
        return SMART_ECONFIG;
    }
    if (!inside(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(ElfW(Phdr)), size)) {
        snprintf(msg, msg_size,
                 "module %s: incomplete file (%llu bytes): program headers at %llu "
                 "lie outside it",
                 path, (unsigned long long)size, (unsigned long long)eh.e_phoff);
        return SMART_ECONFIG;
    }
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        ElfW(Phdr) ph;
        off_t at = (off_t)(eh.e_phoff + (uint64_t)i * sizeof ph);
        if (pread(fd, &ph, sizeof ph, at) != (ssize_t)sizeof ph) {
            snprintf(msg, msg_size, "module %s: cannot read program header %u", path, i);
            return SMART_ECONFIG;
        }
        if (ph.p_type == PT_LOAD && !inside(ph.p_offset, ph.p_filesz, size)) {
            snprintf(msg, msg_size,
                     "module %s: incomplete file (%llu bytes): loadable segment %u needs bytes "
                     "%llu..%llu",
                     path, (unsigned long long)size, i, (unsigned long long)ph.p_offset,
                     (unsigned long long)(ph.p_offset + ph.p_filesz));
            return SMART_ECONFIG;
        }
    }
    return 0;
}

/* Remove the private copies left in `dir` (a crash between a copy and its unlink). Returns how
 * many were removed. */
static int remove_copies(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, COPY_PREFIX, strlen(COPY_PREFIX)) == 0 && len > 3 &&
            strcmp(e->d_name + len - 3, ".so") == 0 && unlinkat(dirfd(d), e->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

int module_copy_dir_prepare(const char *ledger_path, char **out, int *removed, char *msg,
                            size_t msg_size)
{
    *out = NULL;
    *removed = 0;
    /* The directory is named after the ledger's absolute path (the station's identity: one
     * host per ledger holds its lock), so a start only ever clears its own station's copies. */
    char real[2 * PATH_MAX + 2], dir_part[PATH_MAX];
    const char *slash = strrchr(ledger_path, '/');
    const char *base = slash != NULL ? slash + 1 : ledger_path;
    /* The directory resolved, the file name as is: the ledger need not exist yet. */
    snprintf(dir_part, sizeof dir_part, "%.*s", slash != NULL ? (int)(slash - ledger_path) : 1,
             slash != NULL ? (slash == ledger_path ? "/" : ledger_path) : ".");
    char resolved[PATH_MAX];
    if (realpath(dir_part, resolved) == NULL)
        snprintf(resolved, sizeof resolved, "%s", dir_part);
    snprintf(real, sizeof real, "%s/%s", strcmp(resolved, "/") == 0 ? "" : resolved, base);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    if (EVP_Digest(real, strlen(real), digest, &digest_len, EVP_sha256(), NULL) != 1) {
        snprintf(msg, msg_size, "cannot name the directory for module copies");
        return SMART_EIO;
    }
    char dir[PATH_MAX];
    int n = snprintf(dir, sizeof dir, "%s/smart-host-%u-", temp_dir(), (unsigned)getuid());
    for (unsigned i = 0; i < 8 && n > 0 && (size_t)n + 3 < sizeof dir; i++)
        n += snprintf(dir + n, sizeof dir - (size_t)n, "%02x", digest[i]);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(msg, msg_size, "cannot create %s for module copies: %s", dir, strerror(errno));
        return SMART_EIO;
    }
    /* In a shared temporary directory the name could be someone else's: use it only when it is
     * a real directory of ours that nobody else can write into. */
    struct stat st;
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
        (st.st_mode & 0077) != 0) {
        snprintf(msg, msg_size,
                 "%s is not a private directory of this user; refusing to put module copies in it",
                 dir);
        return SMART_ECONFIG;
    }
    *out = strdup(dir);
    if (*out == NULL) {
        snprintf(msg, msg_size, "out of memory");
        return SMART_ENOMEM;
    }
    *removed = remove_copies(dir);
    return 0;
}

void module_copy_dir_remove(char *dir)
{
    if (dir == NULL)
        return;
    remove_copies(dir);
    rmdir(dir);
    free(dir);
}

/* Copy the file at `path` to a new private file; its name goes to `copy` (PATH_MAX bytes). */
static int copy_to_private_file(const char *path, const char *copy_dir, char *copy, char *msg,
                                size_t msg_size)
{
    const char *dir = copy_dir != NULL ? copy_dir : temp_dir();
    if (snprintf(copy, PATH_MAX, "%s/" COPY_PREFIX "XXXXXX.so", dir) >= PATH_MAX) {
        snprintf(msg, msg_size, "module %s: the directory for private copies is too long", path);
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
    struct stat before, after;
    int rc = fstat(in, &before) == 0 ? 0 : -errno;
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
        if (n == 0 || rc < 0)
            break;
        rc = durable_write_all(out, buf, (size_t)n);
        if (rc < 0) {
            snprintf(msg, msg_size, "module %s: cannot write a private copy %s: %s", path, copy,
                     strerror(-rc));
            break;
        }
    }
    /* A file being written (cp over it, an installer caught half way) may change while it is
     * copied: a copy of a moving file is refused rather than checked by luck. */
    if (rc == 0 && fstat(in, &after) == 0 &&
        (after.st_size != before.st_size || after.st_mtim.tv_sec != before.st_mtim.tv_sec ||
         after.st_mtim.tv_nsec != before.st_mtim.tv_nsec || after.st_ino != before.st_ino)) {
        rc = -EAGAIN;
        snprintf(msg, msg_size, "module %s: the file changed while it was copied", path);
    }
    close(in);
    if (rc == 0)
        rc = check_elf_image(out, path, msg, msg_size);
    /* No fsync: the copy is read back at once and never needed after a crash. */
    if (close(out) != 0 && rc == 0) {
        rc = -errno;
        snprintf(msg, msg_size, "module %s: cannot write a private copy %s: %s", path, copy,
                 strerror(errno));
    }
    if (rc < 0) {
        unlink(copy);
        return rc == SMART_ECONFIG ? SMART_ECONFIG : SMART_EIO;
    }
    return 0;
}

/* Copy `path` into `copy_dir`, check the copy, dlopen it and unlink it: the mapping keeps the
 * copy alive, so the image never depends on the configured file again and nothing is left on
 * disk. Returns 0 with *out filled, or an error code with nothing open. */
static int open_private_copy(const char *path, const char *copy_dir, module_image *out, char *msg,
                             size_t msg_size)
{
    out->dl_handle = NULL;
    out->plugin = NULL;
    char copy[PATH_MAX];
    int rc = copy_to_private_file(path, copy_dir, copy, msg, msg_size);
    if (rc < 0)
        return rc;
    rc = open_checked(copy, path, &out->dl_handle, &out->plugin, msg, msg_size);
    unlink(copy); /* mapped or refused, the copy is not needed on disk any more */
    return rc;
}

int module_open_copy(const char *path, const char *expected_name, const char *copy_dir,
                     module_image *out, char *msg, size_t msg_size)
{
    int rc = open_private_copy(path, copy_dir, out, msg, msg_size);
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

int module_load(loaded_module *m, const char *path, char *msg, size_t msg_size)
{
    m->path = strdup(path);
    if (m->path == NULL) {
        snprintf(msg, msg_size, "module %s: out of memory", path);
        return SMART_ENOMEM;
    }
    module_image image;
    int rc = open_private_copy(path, m->copy_dir, &image, msg, msg_size);
    if (rc < 0) {
        module_unload(m);
        return rc;
    }
    m->dl_handle = image.dl_handle;
    m->plugin = image.plugin;
    m->name = strdup(m->plugin->name);
    m->version = strdup(m->plugin->version);
    if (m->name == NULL || m->version == NULL) {
        snprintf(msg, msg_size, "module %s: out of memory", path);
        module_unload(m);
        return SMART_ENOMEM;
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

const void *module_handle_callback(const uv_handle_t *h)
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
    if (image_base(module_handle_callback(h)) != w->base && image_base(h) != w->base)
        return;
    uv_close(h, NULL);
    w->closed++;
}

typedef struct span_search {
    uintptr_t base; /* dli_fbase of the image */
    module_span span;
} span_search;

static int find_span(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    span_search *s = arg;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (size_t i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (start < lo)
            lo = start;
        if (start + ph->p_memsz > hi)
            hi = start + ph->p_memsz;
    }
    if (lo == UINTPTR_MAX || s->base < lo || s->base >= hi)
        return 0;
    s->span = (module_span){lo, hi};
    return 1;
}

module_span module_image_span(const smart_plugin *plugin)
{
    span_search s = {.base = (uintptr_t)image_base(plugin), .span = {0, 0}};
    if (s.base != 0)
        dl_iterate_phdr(find_span, &s);
    return s.span;
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
