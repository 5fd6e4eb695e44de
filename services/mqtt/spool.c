/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The spool: one file per message, `<seq>.msg` with `seq` zero-padded to 20 digits so that names
 * sort as numbers do. Beside them:
 *   spool-id   the spool's random id, made once (message ids embed it)
 *   sequence   a high-water mark of sequence numbers, reserved in blocks, so that a number is
 *              never used twice even when the spool was empty at a restart
 *   <name>.corrupt, <seq>.msg.rejected
 *              held files: unreadable at start, or found unpublishable (spool_reject()); kept
 *              for an administrator, and counted in the bounds until deleted, so that messages
 *              moved aside cannot fill the disk
 * Every file is written to `.<name>.tmp`, fsynced, renamed, and the directory fsynced. */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "spool.h"

#define MAGIC "ASSPOOL1"
#define MAGIC_SIZE 8
#define MESSAGE_TYPE "(ssa(ss)ay)"
#define SEQ_BLOCK 1024
#define ID_FILE "spool-id"
#define SEQ_FILE "sequence"
#define CORRUPT_SUFFIX ".corrupt"
#define REJECTED_SUFFIX ".rejected"
/* How often a full spool looks again whether held files were deleted. */
#define HELD_RECHECK_USEC G_USEC_PER_SEC

typedef struct {
        guint64 seq;
        guint64 size;
} Item;

struct Spool {
        char *dir;
        int dir_fd;
        char *id;
        guint64 max_messages;
        guint64 max_bytes;
        guint64 next_seq;
        guint64 reserved_seq; /* numbers below it are reserved on disk */
        GQueue items;         /* Item *, by sequence number */
        GHashTable *by_seq;   /* seq (guint64 *) → its GList link in `items` */
        guint64 bytes;
        GHashTable *held;     /* name → its size (guint64 *): rejected and corrupt files */
        guint64 held_bytes;
        gint64 held_checked;  /* when spool_recount_held() last ran (monotonic µs) */
};

void spool_message_free(SpoolMessage *message) {
        if (!message)
                return;
        g_free(message->topic);
        g_free(message->content_type);
        g_strfreev(message->user_properties);
        g_clear_pointer(&message->payload, g_bytes_unref);
        g_free(message);
}

/* ---- the file format ------------------------------------------------------------------------- */

GBytes *spool_message_serialize(const SpoolMessage *m) {
        g_autoptr(GVariant) value = NULL, normal = NULL;
        GVariantBuilder props;
        GByteArray *out;
        gsize size;

        g_variant_builder_init(&props, G_VARIANT_TYPE("a(ss)"));
        for (char **p = m->user_properties; p && p[0] && p[1]; p += 2)
                g_variant_builder_add(&props, "(ss)", p[0], p[1]);
        value = g_variant_ref_sink(g_variant_new(
                "(ssa(ss)@ay)", m->topic, m->content_type ? m->content_type : "", &props,
                g_variant_new_from_data(G_VARIANT_TYPE_BYTESTRING, g_bytes_get_data(m->payload, NULL),
                                        g_bytes_get_size(m->payload), TRUE, (GDestroyNotify) g_bytes_unref,
                                        g_bytes_ref(m->payload))));
        normal = g_variant_get_normal_form(value);
        if (G_BYTE_ORDER == G_BIG_ENDIAN) {
                GVariant *swapped = g_variant_byteswap(normal);

                g_variant_unref(normal);
                normal = swapped;
        }
        size = g_variant_get_size(normal);
        out = g_byte_array_sized_new(MAGIC_SIZE + size);
        g_byte_array_append(out, (const guint8 *) MAGIC, MAGIC_SIZE);
        g_byte_array_set_size(out, MAGIC_SIZE + size);
        g_variant_store(normal, out->data + MAGIC_SIZE);
        return g_byte_array_free_to_bytes(out);
}

SpoolMessage *spool_message_deserialize(GBytes *bytes, GError **error) {
        g_autoptr(SpoolMessage) m = g_new0(SpoolMessage, 1);
        g_autoptr(GBytes) body = NULL;
        g_autoptr(GVariant) value = NULL, payload = NULL;
        g_autoptr(GVariantIter) props = NULL;
        GPtrArray *pairs;
        const char *name, *val;
        gsize size = g_bytes_get_size(bytes);

        if (size < MAGIC_SIZE || memcmp(g_bytes_get_data(bytes, NULL), MAGIC, MAGIC_SIZE) != 0) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not a spooled message (no header)");
                return NULL;
        }
        body = g_bytes_new_from_bytes(bytes, MAGIC_SIZE, size - MAGIC_SIZE);
        value = g_variant_ref_sink(g_variant_new_from_bytes(G_VARIANT_TYPE(MESSAGE_TYPE), body, FALSE));
        if (G_BYTE_ORDER == G_BIG_ENDIAN) {
                GVariant *swapped = g_variant_byteswap(value);

                g_variant_unref(value);
                value = swapped;
        }
        if (!g_variant_is_normal_form(value)) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "a spooled message that is not in normal form");
                return NULL;
        }
        g_variant_get(value, "(ssa(ss)@ay)", &m->topic, &m->content_type, &props, &payload);
        if (!*m->topic) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "a spooled message without a topic");
                return NULL;
        }
        if (!*m->content_type)
                g_clear_pointer(&m->content_type, g_free);
        pairs = g_ptr_array_new();
        while (g_variant_iter_next(props, "(&s&s)", &name, &val)) {
                g_ptr_array_add(pairs, g_strdup(name));
                g_ptr_array_add(pairs, g_strdup(val));
        }
        g_ptr_array_add(pairs, NULL);
        m->user_properties = (char **) g_ptr_array_free(pairs, FALSE);
        m->payload = g_variant_get_data_as_bytes(payload);
        return g_steal_pointer(&m);
}

/* ---- files ----------------------------------------------------------------------------------- */

static char *file_name(guint64 seq) {
        return g_strdup_printf("%020" G_GUINT64_FORMAT ".msg", seq);
}

/* Writes `name` in the spool durably: temporary file, fsync, rename, fsync of the directory. */
static gboolean write_durably(Spool *s, const char *name, const void *data, gsize size, GError **error) {
        g_autofree char *tmp = g_strdup_printf(".%s.tmp", name);
        const guint8 *p = data;
        gsize left = size;
        int fd, saved;

        fd = openat(s->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                goto fail;
        while (left > 0) {
                ssize_t n = write(fd, p, left);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        goto fail_close;
                p += n;
                left -= (gsize) n;
        }
        if (fsync(fd) < 0)
                goto fail_close;
        if (close(fd) < 0) {
                fd = -1;
                goto fail_unlink;
        }
        fd = -1;
        if (renameat(s->dir_fd, tmp, s->dir_fd, name) < 0)
                goto fail_unlink;
        if (fsync(s->dir_fd) < 0) {
                saved = errno;
                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved), "%s/%s: cannot sync the directory: %s",
                            s->dir, name, g_strerror(saved));
                return FALSE;
        }
        return TRUE;

fail_close:
        saved = errno;
        close(fd);
        errno = saved;
fail_unlink:
        saved = errno;
        unlinkat(s->dir_fd, tmp, 0);
        errno = saved;
fail:
        saved = errno;
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved), "%s/%s: %s", s->dir, name, g_strerror(saved));
        return FALSE;
}

static GBytes *read_file(Spool *s, const char *name, GError **error) {
        g_autofree char *path = g_build_filename(s->dir, name, NULL);
        g_autofree char *contents = NULL;
        gsize size;

        if (!g_file_get_contents(path, &contents, &size, error))
                return NULL;
        return g_bytes_new_take(g_steal_pointer(&contents), size);
}

/* The spool id: read, or made once. */
static gboolean load_id(Spool *s, GError **error) {
        g_autoptr(GError) local = NULL;
        g_autoptr(GBytes) bytes = read_file(s, ID_FILE, &local);

        if (bytes) {
                g_autofree char *text = g_strndup(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));

                g_strstrip(text);
                if (strlen(text) == 32 && strspn(text, "0123456789abcdef") == 32) {
                        s->id = g_steal_pointer(&text);
                        return TRUE;
                }
                g_warning("%s/%s: not a spool id, making a new one", s->dir, ID_FILE);
        } else if (!g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
                g_propagate_error(error, g_steal_pointer(&local));
                return FALSE;
        }
        {
                g_autofree char *line = NULL;

                s->id = g_strdup_printf("%08x%08x%08x%08x", g_random_int(), g_random_int(), g_random_int(),
                                        g_random_int());
                line = g_strconcat(s->id, "\n", NULL);
                return write_durably(s, ID_FILE, line, strlen(line), error);
        }
}

static guint64 load_reserved(Spool *s) {
        g_autoptr(GBytes) bytes = read_file(s, SEQ_FILE, NULL);
        g_autofree char *text = NULL;
        guint64 value = 1;

        if (!bytes)
                return 1;
        text = g_strstrip(g_strndup(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes)));
        if (!g_ascii_string_to_unsigned(text, 10, 1, G_MAXUINT64 / 2, &value, NULL)) {
                g_warning("%s/%s: not a sequence number, ignoring", s->dir, SEQ_FILE);
                return 1;
        }
        return value;
}

/* Numbers below `s->reserved_seq` may be used: on disk before any of them is. */
static gboolean reserve(Spool *s, guint64 upto, GError **error) {
        g_autofree char *line = NULL;
        guint64 mark = upto + SEQ_BLOCK;

        line = g_strdup_printf("%" G_GUINT64_FORMAT "\n", mark);
        if (!write_durably(s, SEQ_FILE, line, strlen(line), error))
                return FALSE;
        s->reserved_seq = mark;
        return TRUE;
}

static void add_item(Spool *s, guint64 seq, guint64 size) {
        Item *item = g_new(Item, 1);

        item->seq = seq;
        item->size = size;
        g_queue_push_tail(&s->items, item);
        g_hash_table_insert(s->by_seq, &item->seq, s->items.tail);
        s->bytes += size;
}

static gint compare_seq(gconstpointer a, gconstpointer b) {
        guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;

        return x < y ? -1 : x > y;
}

/* The size of `name` in the spool (0 if it is not a regular file), or FALSE if it is not there. */
static gboolean file_size(Spool *s, const char *name, guint64 *size) {
        struct stat st;

        if (fstatat(s->dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return FALSE;
        *size = S_ISREG(st.st_mode) ? (guint64) st.st_size : 0;
        return TRUE;
}

static void hold(Spool *s, const char *name, guint64 size) {
        guint64 *value = g_new(guint64, 1);
        guint64 *old = g_hash_table_lookup(s->held, name);

        if (old)
                s->held_bytes -= *old;
        *value = size;
        g_hash_table_insert(s->held, g_strdup(name), value);
        s->held_bytes += size;
}

/* Renames `name` to `name` + `suffix` and syncs the directory; what is aside stays counted. */
static void move_aside(Spool *s, const char *name, const char *suffix, const char *why) {
        g_autofree char *aside = g_strconcat(name, suffix, NULL);
        guint64 size = 0;

        if (!file_size(s, name, &size)) {
                g_warning("%s/%s: %s; it is gone (%s)", s->dir, name, why, g_strerror(errno));
                return;
        }
        if (renameat(s->dir_fd, name, s->dir_fd, aside) < 0) {
                /* Kept under its own name: counted all the same, and met again at the next start. */
                g_warning("%s/%s: %s; cannot move it aside to '%s' (%s), leaving it", s->dir, name, why, aside,
                          g_strerror(errno));
                hold(s, name, size);
                return;
        }
        if (fsync(s->dir_fd) < 0)
                g_warning("%s: cannot sync the directory after moving '%s' aside: %s", s->dir, name,
                          g_strerror(errno));
        g_warning("%s/%s: %s; moved aside to '%s', which counts in the spool's bounds until deleted", s->dir, name,
                  why, aside);
        hold(s, aside, size);
}

/* Finds the messages left by the last run; clears temporary files; corrupt ones go aside. */
static gboolean scan(Spool *s, GError **error) {
        g_autoptr(GDir) dir = g_dir_open(s->dir, 0, error);
        g_autoptr(GArray) found = g_array_new(FALSE, FALSE, sizeof(guint64));
        const char *name;
        guint64 highest = 0;

        if (!dir)
                return FALSE;
        while ((name = g_dir_read_name(dir))) {
                guint64 seq;

                if (name[0] == '.' && g_str_has_suffix(name, ".tmp")) {
                        g_debug("%s/%s: an unfinished write, removing it", s->dir, name);
                        unlinkat(s->dir_fd, name, 0);
                        continue;
                }
                if (g_str_has_suffix(name, CORRUPT_SUFFIX) || g_str_has_suffix(name, REJECTED_SUFFIX)) {
                        guint64 size;

                        if (file_size(s, name, &size))
                                hold(s, name, size);
                        continue;
                }
                if (!g_str_has_suffix(name, ".msg"))
                        continue; /* spool-id, sequence, and whatever else */
                {
                        g_autofree char *digits = g_strndup(name, 20);

                        if (strlen(name) != 24 || strspn(name, "0123456789") != 20 ||
                            !g_ascii_string_to_unsigned(digits, 10, 1, G_MAXUINT64 / 2, &seq, NULL)) {
                                move_aside(s, name, CORRUPT_SUFFIX, "not the name of a spooled message");
                                continue;
                        }
                }
                g_array_append_val(found, seq);
        }
        g_array_sort(found, compare_seq);
        for (guint i = 0; i < found->len; i++) {
                guint64 seq = g_array_index(found, guint64, i);
                g_autofree char *fname = file_name(seq);
                g_autoptr(GError) local = NULL;
                g_autoptr(GBytes) bytes = read_file(s, fname, &local);
                g_autoptr(SpoolMessage) m = NULL;

                if (bytes)
                        m = spool_message_deserialize(bytes, &local);
                if (!m) {
                        move_aside(s, fname, CORRUPT_SUFFIX, local->message);
                        continue;
                }
                add_item(s, seq, g_bytes_get_size(bytes));
                highest = MAX(highest, seq);
        }
        s->next_seq = MAX(load_reserved(s), highest + 1);
        return TRUE;
}

/* ---- the spool ------------------------------------------------------------------------------- */

Spool *spool_open(const char *dir, guint64 max_messages, guint64 max_bytes, GError **error) {
        g_autoptr(Spool) s = g_new0(Spool, 1);
        int saved;

        s->dir = g_strdup(dir);
        s->dir_fd = -1;
        s->max_messages = max_messages;
        s->max_bytes = max_bytes;
        g_queue_init(&s->items);
        s->by_seq = g_hash_table_new(g_int64_hash, g_int64_equal);
        s->held = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        s->held_checked = g_get_monotonic_time();

        if (g_mkdir_with_parents(dir, 0700) < 0) {
                saved = errno;
                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved), "spool '%s': %s", dir, g_strerror(saved));
                return NULL;
        }
        s->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->dir_fd < 0) {
                saved = errno;
                g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved), "spool '%s': %s", dir, g_strerror(saved));
                return NULL;
        }
        if (!load_id(s, error) || !scan(s, error))
                return NULL;
        s->reserved_seq = s->next_seq; /* nothing reserved by this run yet */
        return g_steal_pointer(&s);
}

void spool_free(Spool *s) {
        if (!s)
                return;
        if (s->dir_fd >= 0)
                close(s->dir_fd);
        g_queue_clear_full(&s->items, g_free);
        g_hash_table_unref(s->by_seq);
        g_hash_table_unref(s->held);
        g_free(s->id);
        g_free(s->dir);
        g_free(s);
}

const char *spool_get_id(Spool *s) {
        return s->id;
}

guint64 spool_get_next_seq(Spool *s) {
        return s->next_seq;
}

static gboolean has_room(Spool *s, gsize size) {
        return (guint64) s->items.length + g_hash_table_size(s->held) + 1 <= s->max_messages &&
               s->bytes + s->held_bytes + size <= s->max_bytes;
}

void spool_recount_held(Spool *s) {
        GHashTableIter iter;
        gpointer key, value;

        s->held_checked = g_get_monotonic_time();
        g_hash_table_iter_init(&iter, s->held);
        while (g_hash_table_iter_next(&iter, &key, &value)) {
                guint64 size;

                if (file_size(s, key, &size)) {
                        s->held_bytes = s->held_bytes - *(guint64 *) value + size;
                        *(guint64 *) value = size;
                        continue;
                }
                /* Deleted, by an administrator. */
                s->held_bytes -= *(guint64 *) value;
                g_hash_table_iter_remove(&iter);
        }
}

gboolean spool_add(Spool *s, const SpoolMessage *message, guint64 *ret_seq, GError **error) {
        g_autoptr(GBytes) bytes = spool_message_serialize(message);
        g_autofree char *name = NULL;
        gsize size = g_bytes_get_size(bytes);
        guint64 seq = s->next_seq;

        if (!has_room(s, size) &&
            (g_hash_table_size(s->held) == 0 || g_get_monotonic_time() - s->held_checked < HELD_RECHECK_USEC ||
             (spool_recount_held(s), !has_room(s, size)))) {
                guint held = g_hash_table_size(s->held);

                g_set_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                            "the spool is full (%u of %" G_GUINT64_FORMAT " messages, %" G_GUINT64_FORMAT
                            " + %" G_GSIZE_FORMAT " of %" G_GUINT64_FORMAT " bytes%s)",
                            s->items.length + held, s->max_messages, s->bytes + s->held_bytes, size, s->max_bytes,
                            held ? ", counting the rejected and corrupt files held" : "");
                return FALSE;
        }
        if (seq >= s->reserved_seq && !reserve(s, seq, error))
                return FALSE;
        name = file_name(seq);
        if (!write_durably(s, name, g_bytes_get_data(bytes, NULL), size, error))
                return FALSE;
        s->next_seq = seq + 1;
        add_item(s, seq, size);
        if (ret_seq)
                *ret_seq = seq;
        return TRUE;
}

SpoolMessage *spool_read(Spool *s, guint64 seq, GError **error) {
        g_autofree char *name = file_name(seq);
        g_autoptr(GBytes) bytes = NULL;

        if (!g_hash_table_contains(s->by_seq, &seq)) {
                g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "message %" G_GUINT64_FORMAT " is not in the spool",
                            seq);
                return NULL;
        }
        bytes = read_file(s, name, error);
        return bytes ? spool_message_deserialize(bytes, error) : NULL;
}

/* Takes message `seq` out of the spool's accounting; FALSE if it was not there. */
static gboolean forget(Spool *s, guint64 seq) {
        GList *l = g_hash_table_lookup(s->by_seq, &seq);
        Item *item;

        if (!l)
                return FALSE;
        item = l->data;
        g_hash_table_remove(s->by_seq, &seq);
        g_queue_delete_link(&s->items, l);
        s->bytes -= item->size;
        g_free(item);
        return TRUE;
}

gboolean spool_remove(Spool *s, guint64 seq) {
        g_autofree char *name = file_name(seq);

        if (!forget(s, seq))
                return FALSE;
        /* No fsync: a removal lost in a crash means the message goes out once more, which
         * at-least-once allows (its id lets receivers drop it). */
        if (unlinkat(s->dir_fd, name, 0) < 0 && errno != ENOENT)
                g_warning("%s/%s: cannot remove it, ignoring: %s", s->dir, name, g_strerror(errno));
        return TRUE;
}

gboolean spool_reject(Spool *s, guint64 seq, const char *why) {
        g_autofree char *name = file_name(seq);

        if (!forget(s, seq))
                return FALSE;
        move_aside(s, name, REJECTED_SUFFIX, why);
        return TRUE;
}

guint64 spool_first(Spool *s) {
        Item *item = g_queue_peek_head(&s->items);

        return item ? item->seq : 0;
}

guint64 spool_next(Spool *s, guint64 seq) {
        GList *l = g_hash_table_lookup(s->by_seq, &seq);

        return l && l->next ? ((Item *) l->next->data)->seq : 0;
}

guint64 spool_find_from(Spool *s, guint64 seq) {
        /* From the head: the messages before `seq` are the few published and not yet
         * acknowledged (acknowledged ones are gone). */
        for (GList *l = s->items.head; l; l = l->next)
                if (((Item *) l->data)->seq >= seq)
                        return ((Item *) l->data)->seq;
        return 0;
}

guint spool_get_length(Spool *s) {
        return s->items.length;
}

guint64 spool_get_bytes(Spool *s) {
        return s->bytes;
}

guint spool_get_held(Spool *s, guint64 *ret_bytes) {
        if (ret_bytes)
                *ret_bytes = s->held_bytes;
        return g_hash_table_size(s->held);
}
