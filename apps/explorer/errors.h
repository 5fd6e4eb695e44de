/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gtk/gtk.h>

#include <appservice.h>

G_BEGIN_DECLS

/* An error of the library or of D-Bus in words a person understands: what happened and, where
 * there is one, what to do. Never NULL. */
gchar *explorer_error_describe(const GError *error);

/* The technical name of the error ("io.appservice1.Error.NotAuthorized", or the domain and the
 * code's nick) and the error's own message, for the smaller text under the sentence. */
gchar *explorer_error_technical(const GError *error);

/* A box with the sentence and, in smaller dimmed text, the technical name: the one way the
 * explorer shows an error inside a page. */
GtkWidget *explorer_error_widget_new(const GError *error);
/* The same box for an error that is not a GError (a service's error response): @sentence, and
 * @technical (its code) in the smaller text. */
GtkWidget *explorer_error_widget_new_text(const gchar *sentence, const gchar *technical);

/* Why a connection closed, in a sentence, ending in the status' Windows name in parentheses:
 * "The provider closed the connection (Completed)". */
gchar *explorer_closed_status_describe(AppServiceClosedStatus status);

G_END_DECLS
