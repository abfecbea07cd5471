// A shared library without the entry symbol (e.g. a stray .so in the plugin folder).
extern "C" __attribute__((visibility("default"))) int sdxl_not_a_plugin(void) { return 42; }
