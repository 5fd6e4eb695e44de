/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(APP_SERVICE_INSIDE) && !defined(APP_SERVICE_COMPILATION)
#error "Only <appservice.h> can be included directly."
#endif

/* Only what carries this mark is exported from libappservice-1.so.0 (built with
 * -fvisibility=hidden). */
#define APP_SERVICE_AVAILABLE_IN_ALL __attribute__((visibility("default"))) extern
