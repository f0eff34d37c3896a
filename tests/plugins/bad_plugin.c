/* Deliberately broken attnlab plugins (include/attnlab/plugin.h), one per build definition, for
 * the tests that a bad plugin is a one-line error and exit 2 (tests/test_plugins.cpp):
 *   BAD_PLUGIN_WRONG_ABI     reports ABI version 999
 *   BAD_PLUGIN_NO_INIT       exports no attnlab_plugin_init
 *   BAD_PLUGIN_INIT_ERROR    attnlab_plugin_init returns ATTNLAB_ERROR with a message */
#include <attnlab/plugin.h>
#include <stdio.h>

uint32_t attnlab_plugin_abi_version(void) {
#ifdef BAD_PLUGIN_WRONG_ABI
  return 999u;
#else
  return ATTNLAB_PLUGIN_ABI_VERSION;
#endif
}

#ifndef BAD_PLUGIN_NO_INIT
int attnlab_plugin_init(const attnlab_implementation** impls, int64_t* count, char* error,
                        size_t error_size) {
  *impls = NULL;
  *count = 0;
#ifdef BAD_PLUGIN_INIT_ERROR
  snprintf(error, error_size, "no accelerator found");
  return ATTNLAB_ERROR;
#else
  return ATTNLAB_OK;
#endif
}
#endif
