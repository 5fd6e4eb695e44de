/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "appservice-private.h"

/**
 * AppServiceResponse:
 *
 * The outcome of sending a message: the Windows `AppServiceResponse`.
 *
 * [method@AppService.Connection.send_message] and [func@AppService.send_message_once] give one
 * for every outcome the broker reports. Its status says how it went; on success its message is
 * the other side's response (possibly empty), otherwise [method@AppService.Response.get_error]
 * says why.
 *
 * A response never changes after it is made: it may be passed to and read from any thread.
 *
 * Since: 0.1
 */

struct _AppServiceResponse {
        GObject parent_instance;

        AppServiceResponseStatus status;
        GVariant *message;
        GError *error;
};

enum {
        PROP_0,
        PROP_STATUS,
        PROP_MESSAGE,
        PROP_ERROR,
        N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE(AppServiceResponse, app_service_response, G_TYPE_OBJECT)

static void app_service_response_init(AppServiceResponse *self) {
}

static void app_service_response_finalize(GObject *object) {
        AppServiceResponse *self = APP_SERVICE_RESPONSE(object);

        g_clear_pointer(&self->message, g_variant_unref);
        g_clear_error(&self->error);

        G_OBJECT_CLASS(app_service_response_parent_class)->finalize(object);
}

static void app_service_response_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec) {
        AppServiceResponse *self = APP_SERVICE_RESPONSE(object);

        switch (prop_id) {
        case PROP_STATUS:
                g_value_set_enum(value, self->status);
                break;
        case PROP_MESSAGE:
                g_value_set_variant(value, self->message);
                break;
        case PROP_ERROR:
                g_value_set_boxed(value, self->error);
                break;
        default:
                G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        }
}

static void app_service_response_class_init(AppServiceResponseClass *klass) {
        GObjectClass *object_class = G_OBJECT_CLASS(klass);

        object_class->finalize = app_service_response_finalize;
        object_class->get_property = app_service_response_get_property;

        /**
         * AppServiceResponse:status:
         *
         * How sending went, with the Windows names: %APP_SERVICE_RESPONSE_STATUS_SUCCESS when the
         * other side answered.
         *
         * Since: 0.1
         */
        properties[PROP_STATUS] = g_param_spec_enum("status", NULL, NULL, APP_SERVICE_TYPE_RESPONSE_STATUS,
                                                    APP_SERVICE_RESPONSE_STATUS_SUCCESS,
                                                    G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

        /**
         * AppServiceResponse:message:
         *
         * The other side's response, an `a{sv}` ValueSet (possibly empty), when the status is
         * %APP_SERVICE_RESPONSE_STATUS_SUCCESS; %NULL otherwise.
         *
         * Since: 0.1
         */
        properties[PROP_MESSAGE] = g_param_spec_variant("message", NULL, NULL, G_VARIANT_TYPE_VARDICT, NULL,
                                                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

        /**
         * AppServiceResponse:error:
         *
         * Why sending failed, when the status is not %APP_SERVICE_RESPONSE_STATUS_SUCCESS: an
         * %APP_SERVICE_ERROR the broker replied with (for example
         * %APP_SERVICE_ERROR_TIMEOUT), or a #G_DBUS_ERROR. %NULL on success.
         *
         * Since: 0.1
         */
        properties[PROP_ERROR] = g_param_spec_boxed("error", NULL, NULL, G_TYPE_ERROR,
                                                    G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

        g_object_class_install_properties(object_class, N_PROPS, properties);
}

/* A success with @message, or a failure with @error (copied). */
AppServiceResponse *as_response_new(GVariant *message, const GError *error) {
        AppServiceResponse *self = g_object_new(APP_SERVICE_TYPE_RESPONSE, NULL);

        if (error) {
                self->status = app_service_response_status_from_error(error);
                self->error = g_error_copy(error);
        } else {
                self->status = APP_SERVICE_RESPONSE_STATUS_SUCCESS;
                self->message = g_variant_ref_sink(message);
        }
        return self;
}

/**
 * app_service_response_get_status:
 * @self: a response
 *
 * Gets [property@AppService.Response:status].
 *
 * Returns: the status: %APP_SERVICE_RESPONSE_STATUS_SUCCESS when the other side answered
 *
 * Since: 0.1
 */
AppServiceResponseStatus app_service_response_get_status(AppServiceResponse *self) {
        g_return_val_if_fail(APP_SERVICE_IS_RESPONSE(self), APP_SERVICE_RESPONSE_STATUS_UNKNOWN);
        return self->status;
}

/**
 * app_service_response_get_message:
 * @self: a response
 *
 * Gets [property@AppService.Response:message]: the other side's response.
 *
 * Returns: (nullable) (transfer none): the response message, an `a{sv}` (empty if the other side
 *   answered with nothing), or %NULL unless the status is %APP_SERVICE_RESPONSE_STATUS_SUCCESS;
 *   owned by @self and valid as long as it is
 *
 * Since: 0.1
 */
GVariant *app_service_response_get_message(AppServiceResponse *self) {
        g_return_val_if_fail(APP_SERVICE_IS_RESPONSE(self), NULL);
        return self->message;
}

/**
 * app_service_response_get_error:
 * @self: a response
 *
 * Gets [property@AppService.Response:error]: why sending failed.
 *
 * Returns: (nullable) (transfer none): the error, or %NULL on success; owned by @self and valid as
 *   long as it is
 *
 * Since: 0.1
 */
const GError *app_service_response_get_error(AppServiceResponse *self) {
        g_return_val_if_fail(APP_SERVICE_IS_RESPONSE(self), NULL);
        return self->error;
}
