/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "gpio-error.h"

G_DEFINE_QUARK(appservice-gpio-error-quark, gpio_error)

static const char *const error_names[] = {
        [GPIO_ERROR_INVALID_ARGUMENT] = "invalid-argument",
        [GPIO_ERROR_UNKNOWN_ACTION] = "unknown-action",
        [GPIO_ERROR_UNKNOWN_CHIP] = "unknown-chip",
        [GPIO_ERROR_UNKNOWN_LINE] = "unknown-line",
        [GPIO_ERROR_LINE_BUSY] = "line-busy",
        [GPIO_ERROR_UNKNOWN_REQUEST] = "unknown-request",
        [GPIO_ERROR_NOT_OUTPUT] = "not-output",
        [GPIO_ERROR_LIMIT] = "limit",
        [GPIO_ERROR_IO] = "io",
};

const char *gpio_error_to_string(int code) {
        if (code < 0 || (gsize) code >= G_N_ELEMENTS(error_names))
                return "io";
        return error_names[code];
}

gboolean gpio_error_set_errno(GError **error, int errnum, const char *format, ...) {
        g_autofree char *what = NULL;
        va_list ap;

        va_start(ap, format);
        what = g_strdup_vprintf(format, ap);
        va_end(ap);
        g_set_error(error, GPIO_ERROR, GPIO_ERROR_IO, "%s: %s", what, g_strerror(errnum));
        return FALSE;
}
