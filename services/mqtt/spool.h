/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The store-and-forward spool of cloud messages (README.md, "Messages to the cloud"): one file per
 * message in a directory, named by its sequence number, written durably (temporary name, fsync,
 * rename, fsync of the directory) before spool_add() returns. Bounded in messages and bytes. The
 * spool only keeps messages; outbox.c publishes them. No bus, no network. */

#include <gio/gio.h>

typedef struct Spool Spool;

/* One message as published: its topic, content type, MQTT 5 user properties and payload. */
typedef struct {
        char *topic;
        char *content_type;
        char **user_properties; /* NULL-terminated name, value, name, value, ... (may be NULL) */
        GBytes *payload;
} SpoolMessage;

void spool_message_free(SpoolMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpoolMessage, spool_message_free)

/* Opens (or creates, mode 0700) the spool in `dir`: makes the spool id once, removes stray
 * temporary files, moves corrupt files aside (`<name>.corrupt`, with a warning), counts the files
 * held aside (`*.corrupt`, `*.rejected`) in its bounds and resumes the messages found in sequence
 * order. */
Spool *spool_open(const char *dir, guint64 max_messages, guint64 max_bytes, GError **error);
void spool_free(Spool *spool);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Spool, spool_free)

/* The spool's random id (32 hex digits), made when the spool was created. */
const char *spool_get_id(Spool *spool);
/* The sequence number the next spool_add() will use: message ids embed it. Never reused, also
 * across restarts. */
guint64 spool_get_next_seq(Spool *spool);

/* Adds `message` as number spool_get_next_seq(), durably. Fails with G_IO_ERROR_NO_SPACE when the
 * spool would hold more than its bounds (its messages and the files it holds aside together),
 * and with the I/O error otherwise. */
gboolean spool_add(Spool *spool, const SpoolMessage *message, guint64 *ret_seq, GError **error);
/* Reads message `seq` back (NULL, with the reason, if it is not in the spool or cannot be read). */
SpoolMessage *spool_read(Spool *spool, guint64 seq, GError **error);
/* Removes message `seq` (after its PUBACK). FALSE if it was not there. */
gboolean spool_remove(Spool *spool, guint64 seq);
/* Message `seq` can never be published (`why`): it leaves the messages but is moved aside to
 * `<seq>.msg.rejected` (the directory fsynced), with a warning naming the file and `why`, and
 * stays counted in the bounds until an administrator deletes it. FALSE if it was not there. */
gboolean spool_reject(Spool *spool, guint64 seq, const char *why);
/* Looks again at the files held aside: the ones deleted no longer count. spool_add() does it
 * itself (at most once a second) when the spool would be full. */
void spool_recount_held(Spool *spool);

/* The messages in the spool, in order: the first one's number, and the one after `seq`'s (0: no
 * more). */
guint64 spool_first(Spool *spool);
guint64 spool_next(Spool *spool, guint64 seq);
/* The first message numbered `seq` or higher (0: none). */
guint64 spool_find_from(Spool *spool, guint64 seq);
/* The messages (to be published) and their bytes. */
guint spool_get_length(Spool *spool);
guint64 spool_get_bytes(Spool *spool);
/* The files held aside (rejected and corrupt), and their bytes in *ret_bytes (may be NULL). */
guint spool_get_held(Spool *spool, guint64 *ret_bytes);

/* The file format, for the tests: a header and the GVariant (ssa(ss)ay) in normal form,
 * little-endian. */
GBytes *spool_message_serialize(const SpoolMessage *message);
SpoolMessage *spool_message_deserialize(GBytes *bytes, GError **error);
