/* no_symbol.c: a shared library named like a plugin that does not export
 * isb_plugin_get; the host must refuse it with a clear message. */
int isb_test_not_a_plugin(void) { return 42; }
