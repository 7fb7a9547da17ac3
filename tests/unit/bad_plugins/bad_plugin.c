/* bad_plugin.c: a minimal analyzer written directly against plugin_abi.h whose
 * descriptor is broken in one way chosen at compile time, so that the host's
 * refusal of each defect can be tested. Built once per case by
 * tests/unit/CMakeLists.txt with one of:
 *   TEST_ABI_MAJOR=<n>     descriptor claims another ABI major
 *   TEST_ABI_MINOR=<n>     descriptor claims a newer ABI minor
 *   TEST_SMALL_DESCRIPTOR  struct_size ends before kind_api (smaller than v1.0)
 *   TEST_SMALL_TABLE       analyzer table struct_size smaller than v1.0
 *   TEST_NULL_FN           analyzer table with analyze_tree == NULL (required since 1.2)
 *   TEST_ID="<id>"         descriptor id (default "test-bad")
 */
#include <isb/plugin_abi.h>

#include <stddef.h>

#ifndef TEST_ID
#define TEST_ID "test-bad"
#endif
#ifndef TEST_ABI_MAJOR
#define TEST_ABI_MAJOR ISB_ABI_MAJOR
#endif
#ifndef TEST_ABI_MINOR
#define TEST_ABI_MINOR ISB_ABI_MINOR
#endif

#ifdef TEST_SMALL_DESCRIPTOR
#define DESCRIPTOR_SIZE offsetof(isb_plugin_descriptor, kind_api)
#else
#define DESCRIPTOR_SIZE sizeof(isb_plugin_descriptor)
#endif

#ifdef TEST_SMALL_TABLE
#define TABLE_SIZE sizeof(uint32_t)
#else
#define TABLE_SIZE sizeof(isb_analyzer_api)
#endif

static int g_instance;

/* Unused in the TEST_NULL_FN build. */
__attribute__((unused)) static isb_status bad_analyze_tree(isb_instance* self, int32_t root_dirfd,
                                                           const char* options, const isb_json_out* out) {
  static const char kDoc[] = "{\"ok\":true}";
  out->set(out->user, kDoc, sizeof kDoc - 1);
  return ISB_OK;
}

static isb_status bad_create(const isb_host_api* host, const char* config_json, isb_instance** out) {
  *out = (isb_instance*)&g_instance;
  return ISB_OK;
}

static void bad_destroy(isb_instance* self) {}

static const char* bad_last_error(isb_instance* self) { return ""; }

static const isb_analyzer_api kApi = {
    (uint32_t)TABLE_SIZE,
    NULL, /* the path form, deprecated since 1.2 */
#ifdef TEST_NULL_FN
    NULL,
#else
    bad_analyze_tree,
#endif
};

static const isb_plugin_descriptor kDescriptor = {
    (uint32_t)DESCRIPTOR_SIZE,
    TEST_ABI_MAJOR,
    TEST_ABI_MINOR,
    ISB_KIND_ANALYZER,
    TEST_ID,
    "Broken test plugin",
    "0.0.1",
    "A deliberately broken plugin for the plugin host tests",
    NULL,
    0,
    bad_create,
    bad_destroy,
    bad_last_error,
    &kApi,
};

const isb_plugin_descriptor* isb_plugin_get(void) { return &kDescriptor; }
