/* good_plugin.c: a valid minimal analyzer written directly against
 * plugin_abi.h. Its config must be {"threshold": integer} (when built with
 * TEST_WITH_SCHEMA); analyze_tree returns {"ok":true,"id":"<id>","live":N,
 * "root_is_dir":bool} (whether the fd it was given is a directory). It counts
 * live instances in a global that tests read through isb_test_live_instances().
 * TEST_ID sets the descriptor id (default "good"); TEST_ABI_MINOR the minor
 * version it claims (default the header's). Below 2 it stands for a plugin
 * built against an earlier 1.x header: its analyzer table ends before
 * analyze_tree and offers only the path form, analyze. */
#include <isb/plugin_abi.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef TEST_ID
#define TEST_ID "good"
#endif
#ifndef TEST_ABI_MINOR
#define TEST_ABI_MINOR ISB_ABI_MINOR
#endif

struct isb_instance {
  int magic;
};

static int g_live_instances;
static int g_created;
static int g_destroyed;

/* Read by the tests with dlsym on the loaded library. */
int isb_test_live_instances(void) { return g_live_instances; }
int isb_test_created_count(void) { return g_created; }
int isb_test_destroyed_count(void) { return g_destroyed; }

#if TEST_ABI_MINOR < 2
static isb_status good_analyze(isb_instance* self, const char* root, const char* options, const isb_json_out* out) {
  char doc[256];
  if (!self || self->magic != 0x15b) return ISB_INVALID_ARGUMENT;
  int n = snprintf(doc, sizeof doc, "{\"ok\":true,\"id\":\"%s\",\"live\":%d,\"path_form\":true}", TEST_ID,
                   g_live_instances);
  out->set(out->user, doc, (size_t)n);
  return ISB_OK;
}
#else
static isb_status good_analyze_tree(isb_instance* self, int32_t root_dirfd, const char* options,
                                    const isb_json_out* out) {
  char doc[256];
  struct stat st;
  if (!self || self->magic != 0x15b) return ISB_INVALID_ARGUMENT;
  const int is_dir = fstat(root_dirfd, &st) == 0 && S_ISDIR(st.st_mode);
  int n = snprintf(doc, sizeof doc, "{\"ok\":true,\"id\":\"%s\",\"live\":%d,\"root_is_dir\":%s}", TEST_ID,
                   g_live_instances, is_dir ? "true" : "false");
  out->set(out->user, doc, (size_t)n);
  return ISB_OK;
}
#endif

static isb_status good_create(const isb_host_api* host, const char* config_json, isb_instance** out) {
  isb_instance* inst = (isb_instance*)malloc(sizeof *inst);
  if (!inst) return ISB_ERROR;
  inst->magic = 0x15b;
  ++g_live_instances;
  ++g_created;
  *out = inst;
  return ISB_OK;
}

static void good_destroy(isb_instance* self) {
  if (!self) return;
  self->magic = 0;
  free(self);
  --g_live_instances;
  ++g_destroyed;
}

static const char* good_last_error(isb_instance* self) { return ""; }

#if TEST_ABI_MINOR >= 2
static const isb_analyzer_api kApi = {sizeof(isb_analyzer_api), NULL, good_analyze_tree};
#else
/* What a 1.0/1.1 header's sizeof(isb_analyzer_api) was: the path form only. */
static const isb_analyzer_api kApi = {(uint32_t)offsetof(isb_analyzer_api, analyze_tree), good_analyze,
                                      NULL /* beyond struct_size: never read */};
#endif

static const isb_plugin_descriptor kDescriptor = {
    sizeof(isb_plugin_descriptor),
    ISB_ABI_MAJOR,
    TEST_ABI_MINOR,
    ISB_KIND_ANALYZER,
    TEST_ID,
    "Good test plugin",
    "0.0.1",
    "A valid minimal analyzer for the plugin host tests",
#ifdef TEST_WITH_SCHEMA
    "{\"type\":\"object\",\"required\":[\"threshold\"],"
    "\"properties\":{\"threshold\":{\"type\":\"integer\"}}}",
#else
    NULL,
#endif
    0,
    good_create,
    good_destroy,
    good_last_error,
    &kApi,
};

const isb_plugin_descriptor* isb_plugin_get(void) { return &kDescriptor; }
