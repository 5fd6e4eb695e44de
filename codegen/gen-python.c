#include "codegen.h"
gboolean codegen_python(const Codegen *g, const char *dir, GError **error) { g_set_error(error, G_FILE_ERROR, 0, "todo"); return FALSE; }
