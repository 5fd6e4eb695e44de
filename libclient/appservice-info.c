/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "appservice-private.h"

/**
 * AppServiceInfo:
 *
 * One app service of the node as the caller sees it: a row of
 * [method@AppService.Node.list_services]'s list.
 *
 * Its properties follow the broker while the list it came from is alive: each change is
 * announced with `notify`, in the list's main context. The same object stands for the same app
 * service for as long as the broker declares it, so a view can keep a reference to it (a
 * selection, say) across reloads.
 *
 * [property@AppService.Info:state] is `unknown` when the service's definition restricts who may
 * open it (`AllowUsers=`, `AllowGroups=`) and the caller is not among those who may see it.
 *
 * Since: 0.1
 */

struct _AppServiceInfo {
        GObject parent_instance;

        gchar *object_path;
        gchar *name;
        gchar *provider;
        gchar *description;
        gchar *state;
        gboolean may_open;
        gboolean activatable;
};

enum {
        PROP_0,
        PROP_NAME,
        PROP_PROVIDER,
        PROP_DESCRIPTION,
        PROP_STATE,
        PROP_MAY_OPEN,
        PROP_ACTIVATABLE,
        PROP_OBJECT_PATH,
        N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE(AppServiceInfo, app_service_info, G_TYPE_OBJECT)

static void app_service_info_init(AppServiceInfo *self) {
        self->name = g_strdup("");
        self->provider = g_strdup("");
        self->description = g_strdup("");
        self->state = g_strdup("unknown");
}

static void app_service_info_finalize(GObject *object) {
        AppServiceInfo *self = APP_SERVICE_INFO(object);

        g_free(self->object_path);
        g_free(self->name);
        g_free(self->provider);
        g_free(self->description);
        g_free(self->state);

        G_OBJECT_CLASS(app_service_info_parent_class)->finalize(object);
}

static void app_service_info_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec) {
        AppServiceInfo *self = APP_SERVICE_INFO(object);

        switch (prop_id) {
        case PROP_NAME:
                g_value_set_string(value, self->name);
                break;
        case PROP_PROVIDER:
                g_value_set_string(value, self->provider);
                break;
        case PROP_DESCRIPTION:
                g_value_set_string(value, self->description);
                break;
        case PROP_STATE:
                g_value_set_string(value, self->state);
                break;
        case PROP_MAY_OPEN:
                g_value_set_boolean(value, self->may_open);
                break;
        case PROP_ACTIVATABLE:
                g_value_set_boolean(value, self->activatable);
                break;
        case PROP_OBJECT_PATH:
                g_value_set_string(value, self->object_path);
                break;
        default:
                G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        }
}

static GParamSpec *string_property(const gchar *name) {
        return g_param_spec_string(name, NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY |
                                   G_PARAM_STATIC_STRINGS);
}

static GParamSpec *boolean_property(const gchar *name) {
        return g_param_spec_boolean(name, NULL, NULL, FALSE, G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY |
                                    G_PARAM_STATIC_STRINGS);
}

static void app_service_info_class_init(AppServiceInfoClass *klass) {
        GObjectClass *object_class = G_OBJECT_CLASS(klass);

        object_class->finalize = app_service_info_finalize;
        object_class->get_property = app_service_info_get_property;

        /**
         * AppServiceInfo:name:
         *
         * The app service's name, as clients open it (`com.example.echo`).
         *
         * Since: 0.1
         */
        properties[PROP_NAME] = string_property("name");
        /**
         * AppServiceInfo:provider:
         *
         * The id of the provider that declares the app service (the Windows PackageFamilyName).
         *
         * Since: 0.1
         */
        properties[PROP_PROVIDER] = string_property("provider");
        /**
         * AppServiceInfo:description:
         *
         * What the app service does, from its definition's `Description=`; may be empty.
         *
         * Since: 0.1
         */
        properties[PROP_DESCRIPTION] = string_property("description");
        /**
         * AppServiceInfo:state:
         *
         * `inactive` (no provider registered), `activating`, `active`, `failed`, `disabled`, or
         * `unknown` when the caller may not see it.
         *
         * Since: 0.1
         */
        properties[PROP_STATE] = string_property("state");
        /**
         * AppServiceInfo:may-open:
         *
         * Whether the definition allows the caller to open the app service (`AllowUsers=`,
         * `AllowGroups=`). A disabled service may still say %TRUE: opening it then fails with
         * %APP_SERVICE_ERROR_DISABLED_BY_POLICY.
         *
         * Since: 0.1
         */
        properties[PROP_MAY_OPEN] = boolean_property("may-open");
        /**
         * AppServiceInfo:activatable:
         *
         * Whether the broker can start the provider itself (`Exec=` or `SystemdService=`).
         *
         * Since: 0.1
         */
        properties[PROP_ACTIVATABLE] = boolean_property("activatable");
        /**
         * AppServiceInfo:object-path:
         *
         * The app service's object on the bus (`/io/appservice1/service/…`).
         *
         * Since: 0.1
         */
        properties[PROP_OBJECT_PATH] = string_property("object-path");
        g_object_class_install_properties(object_class, N_PROPS, properties);
}

/* ---- for the list ---- */

AppServiceInfo *as_service_info_new(const gchar *object_path) {
        AppServiceInfo *self = g_object_new(APP_SERVICE_TYPE_INFO, NULL);

        self->object_path = g_strdup(object_path);
        return self;
}

static void set_string(AppServiceInfo *self, gchar **field, const gchar *value, guint prop_id) {
        if (!value || g_strcmp0(*field, value) == 0)
                return;
        g_free(*field);
        *field = g_strdup(value);
        g_object_notify_by_pspec(G_OBJECT(self), properties[prop_id]);
}

static void set_boolean(AppServiceInfo *self, gboolean *field, gboolean value, guint prop_id) {
        if (*field == !!value)
                return;
        *field = !!value;
        g_object_notify_by_pspec(G_OBJECT(self), properties[prop_id]);
}

/* A row of ListServices, (ssssbo). */
void as_service_info_update_from_row(AppServiceInfo *self, GVariant *row) {
        const gchar *name, *provider, *description, *state;
        gboolean may_open;

        g_variant_get(row, "(&s&s&s&sb&o)", &name, &provider, &description, &state, &may_open, NULL);
        g_object_freeze_notify(G_OBJECT(self));
        set_string(self, &self->name, name, PROP_NAME);
        set_string(self, &self->provider, provider, PROP_PROVIDER);
        set_string(self, &self->description, description, PROP_DESCRIPTION);
        set_string(self, &self->state, state, PROP_STATE);
        set_boolean(self, &self->may_open, may_open, PROP_MAY_OPEN);
        g_object_thaw_notify(G_OBJECT(self));
}

/* io.appservice1.Service properties, a{sv}, as GetManagedObjects, InterfacesAdded and
 * PropertiesChanged carry them: those of the wrong type are ignored. */
void as_service_info_update_from_properties(AppServiceInfo *self, GVariant *props) {
        const gchar *value;
        gboolean flag;

        g_object_freeze_notify(G_OBJECT(self));
        if (g_variant_lookup(props, "Name", "&s", &value))
                set_string(self, &self->name, value, PROP_NAME);
        if (g_variant_lookup(props, "Provider", "&s", &value))
                set_string(self, &self->provider, value, PROP_PROVIDER);
        if (g_variant_lookup(props, "Description", "&s", &value))
                set_string(self, &self->description, value, PROP_DESCRIPTION);
        if (g_variant_lookup(props, "State", "&s", &value))
                set_string(self, &self->state, value, PROP_STATE);
        if (g_variant_lookup(props, "Activatable", "b", &flag))
                set_boolean(self, &self->activatable, flag, PROP_ACTIVATABLE);
        g_object_thaw_notify(G_OBJECT(self));
}

/* ---- the getters ---- */

/**
 * app_service_info_get_name:
 * @self: an app service's info
 *
 * Gets [property@AppService.Info:name].
 *
 * Returns: (transfer none): the app service's name, owned by @self and valid until the property changes
 *
 * Since: 0.1
 */
const gchar *app_service_info_get_name(AppServiceInfo *self) {
        g_return_val_if_fail(APP_SERVICE_IS_INFO(self), NULL);
        return self->name;
}

/**
 * app_service_info_get_provider:
 * @self: an app service's info
 *
 * Gets [property@AppService.Info:provider].
 *
 * Returns: (transfer none): the id of the provider that declares it, owned by @self and valid until the property changes
 *
 * Since: 0.1
 */
const gchar *app_service_info_get_provider(AppServiceInfo *self) {
        g_return_val_if_fail(APP_SERVICE_IS_INFO(self), NULL);
        return self->provider;
}

/**
 * app_service_info_get_description:
 * @self: an app service's info
 *
 * Gets [property@AppService.Info:description].
 *
 * Returns: (transfer none): its description, maybe empty, owned by @self and valid until the property changes
 *
 * Since: 0.1
 */
const gchar *app_service_info_get_description(AppServiceInfo *self) {
        g_return_val_if_fail(APP_SERVICE_IS_INFO(self), NULL);
        return self->description;
}

/**
 * app_service_info_get_state:
 * @self: an app service's info
 *
 * Gets [property@AppService.Info:state].
 *
 * Returns: (transfer none): its state, as [property@AppService.Info:state] says, owned by @self and valid until the property changes
 *
 * Since: 0.1
 */
const gchar *app_service_info_get_state(AppServiceInfo *self) {
        g_return_val_if_fail(APP_SERVICE_IS_INFO(self), NULL);
        return self->state;
}

/**
 * app_service_info_get_may_open:
 * @self: an app service's info
 *
 * Gets [property@AppService.Info:may-open].
 *
 * Returns: whether its definition lets the caller open it
 *
 * Since: 0.1
 */
gboolean app_service_info_get_may_open(AppServiceInfo *self) {
        g_return_val_if_fail(APP_SERVICE_IS_INFO(self), FALSE);
        return self->may_open;
}

/**
 * app_service_info_get_activatable:
 * @self: an app service's info
 *
 * Gets [property@AppService.Info:activatable].
 *
 * Returns: whether the broker starts its provider on demand
 *
 * Since: 0.1
 */
gboolean app_service_info_get_activatable(AppServiceInfo *self) {
        g_return_val_if_fail(APP_SERVICE_IS_INFO(self), FALSE);
        return self->activatable;
}

/**
 * app_service_info_get_object_path:
 * @self: an app service's info
 *
 * Gets [property@AppService.Info:object-path].
 *
 * Returns: (transfer none): its object path on the bus, owned by @self and valid until the property changes
 *
 * Since: 0.1
 */
const gchar *app_service_info_get_object_path(AppServiceInfo *self) {
        g_return_val_if_fail(APP_SERVICE_IS_INFO(self), NULL);
        return self->object_path;
}
