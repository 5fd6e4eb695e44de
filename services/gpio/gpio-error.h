/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The protocol's error codes (README.md, "Errors") as a GError domain: every failure inside the
 * service is a GError of this domain, and protocol.c turns it into `Error` and `Message`. */

#include <glib.h>

typedef enum {
        GPIO_ERROR_INVALID_ARGUMENT,
        GPIO_ERROR_UNKNOWN_ACTION,
        GPIO_ERROR_UNKNOWN_CHIP,
        GPIO_ERROR_UNKNOWN_LINE,
        GPIO_ERROR_LINE_BUSY,
        GPIO_ERROR_UNKNOWN_REQUEST,
        GPIO_ERROR_NOT_OUTPUT,
        GPIO_ERROR_LIMIT,
        GPIO_ERROR_IO,
} GpioError;

#define GPIO_ERROR (gpio_error_quark())
GQuark gpio_error_quark(void);

/* The `Error` string of a code; "io" for anything unknown. */
const char *gpio_error_to_string(int code);

/* Sets @error to GPIO_ERROR_IO with the message "<what>: <strerror(errnum)>" and returns FALSE. */
gboolean gpio_error_set_errno(GError **error, int errnum, const char *format, ...) G_GNUC_PRINTF(3, 4);
