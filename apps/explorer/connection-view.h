/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* One connection to an app service: opening and closing it, the composer, and the transcript of
 * what was sent and received (the last EXPLORER_TRANSCRIPT_MAX entries). ::changed is emitted
 * whenever what the window's actions can do changes (opened, closed, a request came or was
 * answered). */
#define EXPLORER_TYPE_CONNECTION_VIEW (explorer_connection_view_get_type())
G_DECLARE_FINAL_TYPE(ExplorerConnectionView, explorer_connection_view, EXPLORER, CONNECTION_VIEW, GtkBox)

#define EXPLORER_TRANSCRIPT_MAX 500

GtkWidget *explorer_connection_view_new(void);

/* Opens a connection to @service_name, closing the one open before. */
void explorer_connection_view_open(ExplorerConnectionView *self, const gchar *service_name);
/* Sends the composed ValueSet; a mistake in it is shown in the composer. */
void explorer_connection_view_send(ExplorerConnectionView *self);
/* Puts @text into the composer's text mode. */
void explorer_connection_view_set_message(ExplorerConnectionView *self, const gchar *text);
/* Answers the oldest unanswered request with the ValueSet in @text ("" is the empty one). */
void explorer_connection_view_answer_oldest(ExplorerConnectionView *self, const gchar *text);
void explorer_connection_view_close(ExplorerConnectionView *self);
/* Moves the keyboard focus to the Open Connection button. */
void explorer_connection_view_focus_open(ExplorerConnectionView *self);

/* Whether the connection is open (not opening, not closed). */
gboolean explorer_connection_view_get_is_open(ExplorerConnectionView *self);
/* Whether a connection is being opened. */
gboolean explorer_connection_view_get_is_opening(ExplorerConnectionView *self);
/* Whether a request of the provider waits for an answer. */
gboolean explorer_connection_view_get_has_unanswered(ExplorerConnectionView *self);

G_END_DECLS
