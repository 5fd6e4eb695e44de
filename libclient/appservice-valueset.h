/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(APP_SERVICE_INSIDE) && !defined(APP_SERVICE_COMPILATION)
#error "Only <appservice.h> can be included directly."
#endif

#include <glib.h>

#include "appservice-version.h"

G_BEGIN_DECLS

/* ValueSets are GVariants of type a{sv}. Null is a variant holding an empty array of variants. */

APP_SERVICE_AVAILABLE_IN_ALL
GVariant *app_service_value_new_null(void);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_value_is_null(GVariant *value);

APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_value_set_is_valid(GVariant *value_set, GError **error);
APP_SERVICE_AVAILABLE_IN_ALL
GVariant *app_service_value_set_lookup(GVariant *value_set, const gchar *key, const GVariantType *expected_type);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_value_set_contains_null(GVariant *value_set, const gchar *key);
APP_SERVICE_AVAILABLE_IN_ALL
const gchar *app_service_value_set_get_string(GVariant *value_set, const gchar *key);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_value_set_get_boolean(GVariant *value_set, const gchar *key, gboolean *out_value);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_value_set_get_int64(GVariant *value_set, const gchar *key, gint64 *out_value);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_value_set_get_uint64(GVariant *value_set, const gchar *key, guint64 *out_value);
APP_SERVICE_AVAILABLE_IN_ALL
gboolean app_service_value_set_get_double(GVariant *value_set, const gchar *key, gdouble *out_value);

APP_SERVICE_AVAILABLE_IN_ALL
GVariant *app_service_value_set_parse(const gchar *text, GError **error);
APP_SERVICE_AVAILABLE_IN_ALL
GVariant *app_service_value_set_new_from_assignments(const gchar *const *assignments, GError **error);
APP_SERVICE_AVAILABLE_IN_ALL
gchar *app_service_value_set_print(GVariant *value_set);

G_END_DECLS
