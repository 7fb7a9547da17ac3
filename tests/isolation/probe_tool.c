/* probe_tool.c: isb-test-probe, a helper of rootless_test: loads the process
 * backend from the plugin directory (argv[1]), prints its probe document on
 * the first line and the create result of a sandbox on a fresh directory
 * under /tmp on the second, and exits 0; 1 with a message when any step
 * fails. rootless_test runs it where the test process itself cannot be: in
 * user namespaces that are used up. */
#include <dlfcn.h>
#include <isb/plugin_abi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void print_line(void* user, const char* json, size_t n) {
  (void)user;
  fwrite(json, 1, n, stdout);
  fputc('\n', stdout);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: isb-test-probe PLUGIN_DIR\n");
    return 1;
  }
  char lib[4096];
  snprintf(lib, sizeof lib, "%s/libisb-isolation-process.so", argv[1]);
  void* h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  isb_plugin_get_fn get = (isb_plugin_get_fn)dlsym(h, ISB_PLUGIN_ENTRY_SYMBOL);
  const isb_plugin_descriptor* d = get();
  const isb_isolation_api* api = (const isb_isolation_api*)d->kind_api;
  isb_host_api host;
  memset(&host, 0, sizeof host);
  host.struct_size = sizeof host;
  host.abi_major = ISB_ABI_MAJOR;
  host.abi_minor = ISB_ABI_MINOR;
  host.host_info_json = "{}";
  isb_instance* inst = NULL;
  if (d->create(&host, "{}", &inst) != ISB_OK) {
    fprintf(stderr, "create: %s\n", d->last_error(NULL));
    return 1;
  }
  isb_json_out out = {sizeof(isb_json_out), NULL, print_line};
  if (api->probe(inst, &out) != ISB_OK) {
    fprintf(stderr, "probe: %s\n", d->last_error(inst));
    return 1;
  }
  char dir[] = "/tmp/isb-test-probe-XXXXXX";
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  char spec[256];
  snprintf(spec, sizeof spec, "{\"workspace_id\":\"p\",\"workspace_path\":\"%s\"}", dir);
  int rc = api->sandbox_create(inst, spec, &out) == ISB_OK ? 0 : 1;
  if (rc)
    fprintf(stderr, "sandbox_create: %s\n", d->last_error(inst));
  else
    api->sandbox_destroy(inst, "p");
  d->destroy(inst);
  rmdir(dir);
  return rc;
}
