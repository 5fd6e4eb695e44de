/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>

#include "args.h"
#include "gpio-error.h"
#include "protocol.h"

#define CONSUMER_DEFAULT "appservice-gpio"
#define CONSUMER_MAX     31 /* bytes: the kernel's field is 32 with the terminating NUL */

typedef gboolean (*ActionFunc)(Chips *chips, Client *client, GVariant *message, GVariantBuilder *response,
                               GError **error);

static void add(GVariantBuilder *b, const char *key, GVariant *value) {
        g_variant_builder_add(b, "{sv}", key, value);
}

/* enum gpiod_line_value → ai. */
static GVariant *values_to_variant(GArray *values) {
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE("ai"));
        for (guint i = 0; i < values->len; i++)
                g_variant_builder_add(
                        &b, "i", g_array_index(values, enum gpiod_line_value, i) == GPIOD_LINE_VALUE_ACTIVE);
        return g_variant_builder_end(&b);
}

static GVariant *offsets_to_variant(GArray *offsets) {
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE("au"));
        for (guint i = 0; i < offsets->len; i++)
                g_variant_builder_add(&b, "u", (guint32) g_array_index(offsets, guint, i));
        return g_variant_builder_end(&b);
}

/* ---- ListChips ------------------------------------------------------------------------------ */

static GVariant *chip_to_variant(OpenChip *chip) {
        GVariantBuilder b;

        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
        add(&b, "Name", g_variant_new_string(chip->name));
        add(&b, "Label", g_variant_new_string(chip->label));
        add(&b, "Path", g_variant_new_string(chip->path));
        add(&b, "Lines", g_variant_new_uint32(chip->n_lines));
        return g_variant_builder_end(&b);
}

static gboolean action_list_chips(Chips *chips, Client *client, GVariant *message, GVariantBuilder *response,
                                  GError **error) {
        g_autoptr(GPtrArray) all = chips_open_all(chips);
        GVariantBuilder list;

        g_variant_builder_init(&list, G_VARIANT_TYPE("aa{sv}"));
        for (guint i = 0; i < all->len; i++)
                g_variant_builder_add_value(&list, chip_to_variant(all->pdata[i]));
        add(response, "Chips", g_variant_builder_end(&list));
        return TRUE;
}

/* ---- GetLineInfo ---------------------------------------------------------------------------- */

/* The chip a single line is on, and its offset there: on `Chip` if given, else by name across
 * all chips. */
static OpenChip *resolve_line(Chips *chips, GVariant *chip_name, const LineRef *ref, guint *ret_offset,
                              GError **error) {
        g_autoptr(OpenChip) chip = NULL;

        if (!chip_name) {
                if (!ref->name) {
                        g_set_error(error, GPIO_ERROR, GPIO_ERROR_INVALID_ARGUMENT,
                                    "'Chip' is missing: it is required when a line is given by its offset");
                        return NULL;
                }
                return chips_find_line(chips, ref->name, ret_offset, error);
        }
        chip = chips_open(chips, g_variant_get_string(chip_name, NULL), error);
        if (!chip || !chips_find_line_on(chip, ref, ret_offset, error))
                return NULL;
        return g_steal_pointer(&chip);
}

static void add_line_info(GVariantBuilder *b, OpenChip *chip, struct gpiod_line_info *info) {
        const char *name = gpiod_line_info_get_name(info);
        const char *consumer = gpiod_line_info_get_consumer(info);

        add(b, "Chip", g_variant_new_string(chip->name));
        add(b, "Offset", g_variant_new_uint32(gpiod_line_info_get_offset(info)));
        add(b, "Name", g_variant_new_string(name ? name : ""));
        add(b, "Consumer", g_variant_new_string(consumer ? consumer : ""));
        add(b, "Used", g_variant_new_boolean(gpiod_line_info_is_used(info)));
        add(b, "Direction", g_variant_new_string(direction_to_string(gpiod_line_info_get_direction(info))));
        add(b, "Edge", g_variant_new_string(edge_to_string(gpiod_line_info_get_edge_detection(info))));
        add(b, "Bias", g_variant_new_string(bias_to_string(gpiod_line_info_get_bias(info))));
        add(b, "Drive", g_variant_new_string(drive_to_string(gpiod_line_info_get_drive(info))));
        add(b, "ActiveLow", g_variant_new_boolean(gpiod_line_info_is_active_low(info)));
        add(b, "DebounceUs", g_variant_new_uint64(gpiod_line_info_get_debounce_period_us(info)));
}

static gboolean action_get_line_info(Chips *chips, Client *client, GVariant *message,
                                     GVariantBuilder *response, GError **error) {
        g_auto(LineRef) ref = { 0 };
        g_autoptr(GVariant) chip_name = NULL;
        g_autoptr(OpenChip) chip = NULL;
        g_autoptr(GpiodLineInfo) info = NULL;
        guint offset;

        if (!args_lookup_line(message, "Line", &ref, error) ||
            !args_lookup(message, "Chip", G_VARIANT_TYPE_STRING, FALSE, &chip_name, error))
                return FALSE;
        chip = resolve_line(chips, chip_name, &ref, &offset, error);
        if (!chip)
                return FALSE;
        info = gpiod_chip_get_line_info(chip->chip, offset);
        if (!info)
                return gpio_error_set_errno(error, errno, "cannot read line %u of chip '%s'", offset,
                                            chip->name);
        add_line_info(response, chip, info);
        return TRUE;
}

/* ---- Request -------------------------------------------------------------------------------- */

static gboolean lookup_consumer(GVariant *message, char **ret, GError **error) {
        g_autoptr(GVariant) value = NULL;
        const char *consumer;

        if (!args_lookup(message, "Consumer", G_VARIANT_TYPE_STRING, FALSE, &value, error))
                return FALSE;
        consumer = value ? g_variant_get_string(value, NULL) : CONSUMER_DEFAULT;
        if (consumer[0] == '\0' || strlen(consumer) > CONSUMER_MAX) {
                g_set_error(error, GPIO_ERROR, GPIO_ERROR_INVALID_ARGUMENT,
                            "'Consumer' is %zu bytes long: it accepts 1 to %d bytes", strlen(consumer),
                            CONSUMER_MAX);
                return FALSE;
        }
        *ret = g_strdup(consumer);
        return TRUE;
}

/* `EdgeBatch`: 0 (absent) for one `edge` event per edge, the format of before; 1 to EDGE_BATCH_MAX
 * for `edges` events of up to that many edges. */
static gboolean lookup_edge_batch(GVariant *message, guint *ret, GError **error) {
        g_autoptr(GVariant) value = NULL;
        guint32 batch;

        if (!args_lookup(message, "EdgeBatch", G_VARIANT_TYPE_UINT32, FALSE, &value, error))
                return FALSE;
        batch = value ? g_variant_get_uint32(value) : 0;
        if (batch > EDGE_BATCH_MAX) {
                g_set_error(error, GPIO_ERROR, GPIO_ERROR_INVALID_ARGUMENT,
                            "'EdgeBatch' is %" G_GUINT32_FORMAT ": it accepts 0 (an `edge` event per edge) to %d "
                            "(`edges` events of up to that many)",
                            batch, EDGE_BATCH_MAX);
                return FALSE;
        }
        *ret = batch;
        return TRUE;
}

/* Lines named without `Chip`: each found across all chips, and all on the same one. */
static OpenChip *resolve_names(Chips *chips, GArray *refs, GArray *offsets, GError **error) {
        g_autoptr(OpenChip) first = NULL;

        for (guint i = 0; i < refs->len; i++) {
                const LineRef *ref = &g_array_index(refs, LineRef, i);
                g_autoptr(OpenChip) chip = NULL;
                guint offset;

                if (!ref->name) {
                        g_set_error(error, GPIO_ERROR, GPIO_ERROR_INVALID_ARGUMENT,
                                    "'Chip' is missing: it is required when 'Lines' has offsets");
                        return NULL;
                }
                chip = chips_find_line(chips, ref->name, &offset, error);
                if (!chip)
                        return NULL;
                if (first && !g_str_equal(first->name, chip->name)) {
                        g_set_error(
                                error, GPIO_ERROR, GPIO_ERROR_INVALID_ARGUMENT,
                                "the lines of one request must be on one chip, but '%s' is on '%s' and '%s' "
                                "on '%s'",
                                g_array_index(refs, LineRef, 0).name, first->name, ref->name, chip->name);
                        return NULL;
                }
                g_array_append_val(offsets, offset);
                if (!first)
                        first = g_steal_pointer(&chip);
        }
        return g_steal_pointer(&first);
}

static gboolean check_distinct(OpenChip *chip, GArray *offsets, GError **error) {
        for (guint i = 0; i < offsets->len; i++)
                for (guint j = 0; j < i; j++)
                        if (g_array_index(offsets, guint, i) == g_array_index(offsets, guint, j)) {
                                g_set_error(error, GPIO_ERROR, GPIO_ERROR_INVALID_ARGUMENT,
                                            "'Lines' names line %u of chip '%s' twice",
                                            g_array_index(offsets, guint, i), chip->name);
                                return FALSE;
                        }
        return TRUE;
}

/* The chip of a request's lines and their offsets, in the request's order. */
static OpenChip *resolve_lines(Chips *chips, GVariant *chip_name, GArray *refs, GArray **ret_offsets,
                               GError **error) {
        g_autoptr(GArray) offsets = g_array_sized_new(FALSE, FALSE, sizeof(guint), refs->len);
        g_autoptr(OpenChip) chip = NULL;

        if (chip_name) {
                chip = chips_open(chips, g_variant_get_string(chip_name, NULL), error);
                if (!chip)
                        return NULL;
                for (guint i = 0; i < refs->len; i++) {
                        guint offset;

                        if (!chips_find_line_on(chip, &g_array_index(refs, LineRef, i), &offset, error))
                                return NULL;
                        g_array_append_val(offsets, offset);
                }
        } else {
                chip = resolve_names(chips, refs, offsets, error);
                if (!chip)
                        return NULL;
        }
        /* An offset and a name may be the same line. */
        if (!check_distinct(chip, offsets, error))
                return NULL;
        *ret_offsets = g_steal_pointer(&offsets);
        return g_steal_pointer(&chip);
}

static char *describe_offsets(GArray *offsets) {
        GString *text = g_string_new(NULL);

        for (guint i = 0; i < offsets->len; i++)
                g_string_append_printf(text, "%s%u", i ? "," : "", g_array_index(offsets, guint, i));
        return g_string_free(text, FALSE);
}

static gboolean action_request(Chips *chips, Client *client, GVariant *message, GVariantBuilder *response,
                               GError **error) {
        g_autoptr(GArray) refs = NULL;
        g_autoptr(GVariant) chip_name = NULL;
        g_autoptr(GArray) values = NULL;
        g_autoptr(GArray) offsets = NULL;
        g_autoptr(OpenChip) chip = NULL;
        g_autofree char *consumer = NULL;
        g_autofree char *offsets_text = NULL;
        LineRequest *request;
        LineSettings settings;
        guint edge_batch;
        guint32 id;

        if (!args_lookup_lines(message, "Lines", &refs, error) ||
            !args_lookup(message, "Chip", G_VARIANT_TYPE_STRING, FALSE, &chip_name, error) ||
            !line_settings_parse(message, &settings, error) ||
            !values_parse(message, refs->len, settings.direction == GPIOD_LINE_DIRECTION_OUTPUT, FALSE,
                          &values, error) ||
            !lookup_consumer(message, &consumer, error) || !lookup_edge_batch(message, &edge_batch, error))
                return FALSE;
        chip = resolve_lines(chips, chip_name, refs, &offsets, error);
        if (!chip || !client_reserve_id(client, &id, error))
                return FALSE;
        request = line_request_new(chip, id, (const guint *) offsets->data, offsets->len, &settings, values,
                                   consumer, edge_batch, client_on_edges, client, error);
        if (!request)
                return FALSE;
        client_add_request(client, request);

        offsets_text = describe_offsets(offsets);
        g_message("%s: request %" G_GUINT32_FORMAT ": chip '%s' lines %s, %s, consumer '%s', edge batch %u",
                  client_get_label(client), id, chip->name, offsets_text,
                  direction_to_string(settings.direction), consumer, edge_batch);
        add(response, "Request", g_variant_new_uint32(id));
        add(response, "Chip", g_variant_new_string(chip->name));
        add(response, "Offsets", offsets_to_variant(offsets));
        add(response, "Names",
            g_variant_new_strv((const char *const *) line_request_get_names(request)->pdata,
                               line_request_get_names(request)->len));
        /* Says that this service knows EdgeBatch: one that predates it ignores the key. */
        add(response, "EdgeBatch", g_variant_new_uint32(edge_batch));
        return TRUE;
}

/* ---- actions on a request ------------------------------------------------------------------- */

static LineRequest *lookup_request(Client *client, GVariant *message, GError **error) {
        g_autoptr(GVariant) id = NULL;

        if (!args_lookup(message, "Request", G_VARIANT_TYPE_UINT32, TRUE, &id, error))
                return NULL;
        return client_lookup_request(client, g_variant_get_uint32(id), error);
}

static gboolean action_read(Chips *chips, Client *client, GVariant *message, GVariantBuilder *response,
                            GError **error) {
        LineRequest *request = lookup_request(client, message, error);
        g_autoptr(GArray) values = NULL;

        if (!request || !line_request_read(request, &values, error))
                return FALSE;
        add(response, "Values", values_to_variant(values));
        add(response, "Offsets", offsets_to_variant(line_request_get_offsets(request)));
        return TRUE;
}

static gboolean action_write(Chips *chips, Client *client, GVariant *message, GVariantBuilder *response,
                             GError **error) {
        LineRequest *request = lookup_request(client, message, error);
        g_autoptr(GArray) values = NULL;

        if (!request)
                return FALSE;
        if (!line_request_is_output(request)) {
                g_set_error(error, GPIO_ERROR, GPIO_ERROR_NOT_OUTPUT,
                            "request %" G_GUINT32_FORMAT
                            " holds inputs: Reconfigure it with 'Direction' 'output' "
                            "to write",
                            line_request_get_id(request));
                return FALSE;
        }
        if (!values_parse(message, line_request_get_offsets(request)->len, TRUE, TRUE, &values, error))
                return FALSE;
        return line_request_write(request, values, error);
}

static gboolean action_reconfigure(Chips *chips, Client *client, GVariant *message,
                                   GVariantBuilder *response, GError **error) {
        LineRequest *request = lookup_request(client, message, error);
        g_autoptr(GArray) values = NULL;
        LineSettings settings;

        if (!request || !line_settings_parse(message, &settings, error) ||
            !values_parse(message, line_request_get_offsets(request)->len,
                          settings.direction == GPIOD_LINE_DIRECTION_OUTPUT, FALSE, &values, error))
                return FALSE;
        return line_request_reconfigure(request, &settings, values, error);
}

static gboolean action_release(Chips *chips, Client *client, GVariant *message, GVariantBuilder *response,
                               GError **error) {
        g_autoptr(GVariant) id = NULL;

        if (!args_lookup(message, "Request", G_VARIANT_TYPE_UINT32, TRUE, &id, error) ||
            !client_release_request(client, g_variant_get_uint32(id), error))
                return FALSE;
        g_message("%s: request %" G_GUINT32_FORMAT " released", client_get_label(client),
                  g_variant_get_uint32(id));
        return TRUE;
}

/* ---- dispatch ------------------------------------------------------------------------------- */

static const struct {
        const char *name;
        ActionFunc func;
} actions[] = {
        { "ListChips", action_list_chips }, { "GetLineInfo", action_get_line_info },
        { "Request", action_request },      { "Read", action_read },
        { "Write", action_write },          { "Reconfigure", action_reconfigure },
        { "Release", action_release },
};

static ActionFunc lookup_action(GVariant *message, GError **error) {
        g_autoptr(GVariant) action = NULL;
        const char *name;

        if (!args_lookup(message, "Action", G_VARIANT_TYPE_STRING, TRUE, &action, error))
                return NULL;
        name = g_variant_get_string(action, NULL);
        for (gsize i = 0; i < G_N_ELEMENTS(actions); i++)
                if (g_str_equal(name, actions[i].name))
                        return actions[i].func;
        g_set_error(error, GPIO_ERROR, GPIO_ERROR_UNKNOWN_ACTION,
                    "unknown Action '%s': it accepts ListChips, GetLineInfo, Request, Read, Write, "
                    "Reconfigure and Release",
                    name);
        return NULL;
}

static GVariant *error_response(const GError *error) {
        GVariantBuilder b;
        int code = error->domain == GPIO_ERROR ? error->code : GPIO_ERROR_IO;

        g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
        add(&b, "Status", g_variant_new_string("error"));
        add(&b, "Error", g_variant_new_string(gpio_error_to_string(code)));
        add(&b, "Message", g_variant_new_string(error->message));
        return g_variant_ref_sink(g_variant_builder_end(&b));
}

GVariant *protocol_handle(Chips *chips, Client *client, GVariant *message) {
        g_autoptr(GError) error = NULL;
        GVariantBuilder response;
        ActionFunc action;

        action = lookup_action(message, &error);
        if (!action)
                return error_response(error);

        g_variant_builder_init(&response, G_VARIANT_TYPE_VARDICT);
        add(&response, "Status", g_variant_new_string("ok"));
        if (!action(chips, client, message, &response, &error)) {
                g_variant_builder_clear(&response);
                g_debug("%s: answering with %s: %s", client_get_label(client),
                        gpio_error_to_string(error->code), error->message);
                return error_response(error);
        }
        return g_variant_ref_sink(g_variant_builder_end(&response));
}
