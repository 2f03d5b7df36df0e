/*
 * no_entry_module.c — a shared object that is not a SMART module: it exports a function, but
 * not smart_plugin_entry. The host must refuse it with a message naming its path.
 */
#include "smart_plugin.h"

SMART_EXPORT int not_a_smart_module(void)
{
    return 42;
}
