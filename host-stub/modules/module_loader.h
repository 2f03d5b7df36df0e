/*
 * module_loader.h — find, dlopen and check a SMART module, and hold one loaded instance.
 *
 * A module is refused, with a message naming its path, when it cannot be loaded, exports no
 * smart_plugin_entry, was built for another ABI major or a newer minor than this host, gives
 * a descriptor smaller than this ABI's, or lacks a required function (smart_plugin.h,
 * "Versioning"). Loading uses RTLD_NOW | RTLD_LOCAL so an unresolved symbol fails here rather than
 * mid-run and two modules never see each other's symbols.
 *
 * Every image, the first included, is loaded from a private copy (module_copy_dir_prepare), never
 * from the configured file: rewriting that file in place (cp over it, an installer stopped half
 * way) then cannot change pages the host has mapped. The copy is checked to be a complete ELF
 * shared object (header, program headers and each loadable segment inside the file) before it
 * is mapped, and unlinked as soon as it is mapped or refused.
 */
#ifndef SMART_HOST_MODULE_LOADER_H
#define SMART_HOST_MODULE_LOADER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smart_plugin.h"
#include <uv.h>

/* One module instance. The host keeps these in an array that never moves, because `table`
 * (handed to the module) must stay at the same address until shutdown completes and its
 * host_data points back at this struct. */
typedef struct loaded_module {
    smart_host table;           /* the module's view of the host; host_data = this struct */
    void *owner;                /* the host's run state, for the table's callbacks */
    size_t index;               /* position in load order */
    char *path;                 /* resolved path, owned */
    const char *copy_dir;       /* where private copies go (module_copy_dir_prepare), borrowed;
                                   set by the caller before module_load; NULL: $TMPDIR */
    char *name;                 /* copied from the descriptor, owned (outlives dlclose) */
    char *version;              /* copied from the descriptor, owned */
    void *dl_handle;            /* from dlopen; NULL when not loaded */
    const smart_plugin *plugin; /* owned by the module image; valid until dlclose */
    void *instance;             /* from init; NULL before init and after shutdown completes */
    bool initialised;
    bool shutdown_started;
    bool shutdown_done;
    /* Set by the first host call the module made from a thread other than the loop's (the one
     * field any thread may touch): that call is reported, later ones only refused. */
    atomic_bool wrong_thread_reported;
    bool keep_mapped;     /* never dlclose the image (module_keep_mapped) */
    bool done_again_seen; /* done was called more than once: reported once */
} loaded_module;

/* Find the file for a module path from the node configuration. A path containing '/' is
 * taken as is (node_config already made it absolute); a bare file name is searched in each
 * directory of `search_path` (colon separated, may be NULL: $SMART_MODULE_PATH) and then in
 * each of `fallback_dir` (the same; may be NULL: "<dir of smart-host>/../plugin" and the
 * directory `meson install` puts modules in). Returns 0 and a new string in
 * *out (owned by the caller; free()), or -ENOENT/-ENOMEM with `msg` (caller-owned) saying
 * where it looked. */
int module_resolve_path(const char *path, const char *search_path, const char *fallback_dir,
                        char **out, char *msg, size_t msg_size);

/* The station's directory for private copies of module images: $TMPDIR (or /tmp) /
 * "smart-host-<uid>-<digest of the ledger's absolute path>", created mode 0700 and refused when
 * it is not a private directory of this user. Copies a crashed run left there are removed
 * (their count in *removed). Call it while holding the station lock (station_lock.h), so no
 * other host uses the directory. Returns 0 with *out a new string (free with
 * module_copy_dir_remove), or SMART_EIO / SMART_ECONFIG / SMART_ENOMEM with `msg`
 * (caller-owned) saying why. */
int module_copy_dir_prepare(const char *ledger_path, char **out, int *removed, char *msg,
                            size_t msg_size);

/* Remove any copies left in `dir` (owned; freed), then the directory. Safe on NULL. */
void module_copy_dir_remove(char *dir);

/* Load a private copy of the module at `path` (borrowed; copied) into `m` (zeroed by the caller
 * but for m->copy_dir) and check its descriptor. Returns 0, or SMART_EVERSION (ABI mismatch) /
 * SMART_ECONFIG (cannot load, no entry, bad descriptor) / SMART_ENOMEM with `msg` (caller-owned)
 * naming the path; on failure nothing stays loaded. */
int module_load(loaded_module *m, const char *path, char *msg, size_t msg_size);

/* Initialise the loaded module: copy `table_template` (borrowed) into m->table, point its
 * host_data at `m`, remember `owner`, and call the module's init with `config_json` (borrowed).
 * Returns 0 or the module's negative code with its message in `err` (caller-owned); a positive
 * code (outside the ABI's set) is refused as SMART_EINVAL. */
int module_init(loaded_module *m, const smart_host *table_template, void *owner,
                const char *config_json, size_t config_len, smart_error *err);

/* A module image opened for a hot reload: loaded and checked, not yet initialised. */
typedef struct module_image {
    void *dl_handle;            /* NULL when nothing is open */
    const smart_plugin *plugin; /* owned by the image */
} module_image;

/* Open a fresh image of the module file at `path` (borrowed) for a hot reload, from a private
 * copy in `copy_dir` (borrowed; NULL: $TMPDIR) as module_load does. A copy is a new file, so
 * dlopen never hands back the loaded image (glibc matches a loaded object by its file's device
 * and inode). The descriptor is checked as module_load does, and its name must be
 * `expected_name` (a reload replaces a module by a newer build of itself). Returns 0 with *out
 * filled, or SMART_EVERSION / SMART_ECONFIG / SMART_ENOMEM / SMART_EIO with `msg` naming
 * `path`; on failure nothing stays loaded and *out is zeroed. */
int module_open_copy(const char *path, const char *expected_name, const char *copy_dir,
                     module_image *out, char *msg, size_t msg_size);

/* dlclose an image from module_open_copy that was never initialised, or whose instance has
 * completed its shutdown. Safe on a zeroed image. */
void module_image_close(module_image *image);

/* Whether the module decodes events ahead (ABI 1.1 decode_event; release_decoded is then
 * checked to be there too). */
bool module_decodes_ahead(const smart_plugin *plugin);

/* [loop] One more reference to a loaded image (dlopen'd again with RTLD_NOLOAD), for what the
 * image made that outlives its instance: dlclose it when that is gone. The image is unmapped
 * only when its last reference is closed. NULL when it cannot be pinned (then nothing of the
 * image may outlive it). */
void *module_pin_image(void *dl_handle);

/* [loop] Close every handle of `loop` not already closing whose callback lies in the image
 * `dl_handle` (or that lives in its data): what a module left open after its shutdown done,
 * which would otherwise run its code after the image is unmapped. The handles' memory is the
 * module's: the caller must then keep the image mapped (module_keep_mapped). Returns how many
 * were closed. */
size_t module_close_left_handles(uv_loop_t *loop, const smart_plugin *plugin);

/* The addresses an image is mapped at: from the lowest to the end of the highest of its loadable
 * segments, [lo, hi). {0, 0} when unknown. */
typedef struct module_span {
    uintptr_t lo, hi;
} module_span;

/* [loop] The span of the image that holds `plugin` (its descriptor), to tell a module's code
 * and handles from the host's without a lookup per address. NULL: {0, 0}. */
module_span module_image_span(const smart_plugin *plugin);

/* The callback a libuv handle would run, by its type (libuv keeps it in the handle's public
 * struct), or NULL for a type that has none of these. */
const void *module_handle_callback(const uv_handle_t *h);

/* Leak the image on purpose: module_unload frees the strings but never dlcloses it (its code
 * or memory may still be reached: handles it left, a shutdown never done). */
void module_keep_mapped(loaded_module *m);

/* dlclose the image and free the strings. Only call when the module was never initialised
 * or its shutdown done callback has run (its code must never run again). Safe on a zeroed
 * or already unloaded struct. */
void module_unload(loaded_module *m);

#endif /* SMART_HOST_MODULE_LOADER_H */
