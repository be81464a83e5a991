/* mDNS/DNS-SD discovery through Avahi: see avahi.h.
 *
 * One avahi client per node, on the node's GMainContext (avahi-glib's
 * poll).  When the client runs, an entry group publishes our service
 * and a browser reports the others; each new one is resolved once, its
 * address and TXT record checked, and handed to the node.  Everything
 * from the network is hostile: the TXT value is bounded before it is
 * copied and the key validated before use, and only so many services
 * are resolved at once. */
#include "config.h"

#include "net/avahi.h"

#include <string.h>
#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-glib/glib-watch.h>
#include <meshara/meshara.h>

/* After losing the daemon, the client is made again this often. */
#define MDNS_RETRY_SECONDS 5

struct _MeshMdns {
  GMainContext *context;
  AvahiGLibPoll *poll;
  AvahiClient *client;
  AvahiEntryGroup *group;
  AvahiServiceBrowser *browser;
  GSource *retry;
  char *name;                   /* our service name, avahi-allocated */
  char *txt_key;                /* "key=mshr1..." */
  guint16 port;
  AvahiProtocol resolve_proto;  /* the addresses the node can dial */
  guint resolving;              /* resolvers not yet called back */
  MeshMdnsFoundFunc found;
  gpointer user_data;
};

static void client_callback (AvahiClient *c, AvahiClientState state,
                             void *user_data);

/* ---------------------------------------------------------------------- */
/* Publishing */

static void publish (MeshMdns *m);

static void
rename_service (MeshMdns *m)
{
  char *alt = avahi_alternative_service_name (m->name);

  g_debug ("mDNS: service name \"%s\" is taken, now \"%s\"", m->name, alt);
  avahi_free (m->name);
  m->name = alt;
}

static void
group_callback (AvahiEntryGroup *g, AvahiEntryGroupState state,
                void *user_data)
{
  MeshMdns *m = user_data;

  switch (state)
    {
    case AVAHI_ENTRY_GROUP_COLLISION:
      /* Another host has the name: take the next one. */
      rename_service (m);
      avahi_entry_group_reset (g);
      publish (m);
      break;
    case AVAHI_ENTRY_GROUP_FAILURE:
      g_debug ("mDNS: publishing failed: %s",
               avahi_strerror (avahi_client_errno (avahi_entry_group_get_client (g))));
      break;
    case AVAHI_ENTRY_GROUP_ESTABLISHED:
      g_debug ("mDNS: published \"%s\" on port %u", m->name, m->port);
      break;
    case AVAHI_ENTRY_GROUP_UNCOMMITED:
    case AVAHI_ENTRY_GROUP_REGISTERING:
    default:
      break;
    }
}

static void
publish (MeshMdns *m)
{
  int ret;

  if (m->group == NULL)
    {
      m->group = avahi_entry_group_new (m->client, group_callback, m);
      if (m->group == NULL)
        {
          g_debug ("mDNS: cannot create an entry group: %s",
                   avahi_strerror (avahi_client_errno (m->client)));
          return;
        }
    }
  if (!avahi_entry_group_is_empty (m->group))
    return;
  for (guint tries = 0; tries < 16; tries++)
    {
      ret = avahi_entry_group_add_service (m->group, AVAHI_IF_UNSPEC,
                                           AVAHI_PROTO_UNSPEC, 0, m->name,
                                           MESH_MDNS_SERVICE_TYPE, NULL, NULL,
                                           m->port, m->txt_key, NULL);
      if (ret != AVAHI_ERR_COLLISION)
        break;
      rename_service (m);
    }
  if (ret < 0 || (ret = avahi_entry_group_commit (m->group)) < 0)
    g_debug ("mDNS: cannot publish \"%s\": %s", m->name, avahi_strerror (ret));
}

/* ---------------------------------------------------------------------- */
/* Browsing */

/* The "key=" value of a TXT record, bounded and checked; NULL when it is
 * missing or not a valid public key. */
static char *
txt_public_key (AvahiStringList *txt)
{
  AvahiStringList *item = avahi_string_list_find (txt, "key");
  g_autoptr (GError) error = NULL;
  const char *value;
  size_t len;
  char *key;

  if (item == NULL)
    {
      g_debug ("mDNS: ignoring a service without a key in its TXT record");
      return NULL;
    }
  if (item->size <= 4 || item->size > 4 + MESH_MDNS_KEY_MAX)
    {
      g_debug ("mDNS: ignoring a service whose TXT key has %zu bytes",
               item->size);
      return NULL;
    }
  value = (const char *) item->text + 4;
  len = item->size - 4;
  if (memcmp (item->text, "key=", 4) != 0 || memchr (value, '\0', len) != NULL)
    return NULL;
  key = g_strndup (value, len);
  if (!meshara_public_key_validate (key, &error))
    {
      g_debug ("mDNS: ignoring a service with a bad key: %s", error->message);
      g_free (key);
      return NULL;
    }
  return key;
}

/* "ip:port" of a resolved service, or NULL for an address a node cannot
 * dial (IPv6 link-local ones would need their interface). */
static char *
service_address (const AvahiAddress *a, guint16 port)
{
  char ip[AVAHI_ADDRESS_STR_MAX];

  if (port == 0 || avahi_address_snprint (ip, sizeof ip, a) == NULL)
    return NULL;
  if (a->proto == AVAHI_PROTO_INET)
    return g_strdup_printf ("%s:%u", ip, port);
  if (a->proto == AVAHI_PROTO_INET6)
    {
      if (a->data.ipv6.address[0] == 0xfe
          && (a->data.ipv6.address[1] & 0xc0) == 0x80)
        return NULL;
      return g_strdup_printf ("[%s]:%u", ip, port);
    }
  return NULL;
}

static void
resolve_callback (AvahiServiceResolver *r, AvahiIfIndex interface,
                  AvahiProtocol protocol, AvahiResolverEvent event,
                  const char *name, const char *type, const char *domain,
                  const char *host_name, const AvahiAddress *a,
                  uint16_t port, AvahiStringList *txt,
                  AvahiLookupResultFlags flags, void *user_data)
{
  MeshMdns *m = user_data;
  char *key = NULL, *address = NULL;

  if (event == AVAHI_RESOLVER_FOUND && a != NULL)
    {
      key = txt_public_key (txt);
      address = key ? service_address (a, port) : NULL;
      if (key != NULL && address != NULL)
        m->found (address, key, m->user_data);
    }
  g_free (key);
  g_free (address);
  m->resolving--;
  avahi_service_resolver_free (r);
}

static void
browse_callback (AvahiServiceBrowser *b, AvahiIfIndex interface,
                 AvahiProtocol protocol, AvahiBrowserEvent event,
                 const char *name, const char *type, const char *domain,
                 AvahiLookupResultFlags flags, void *user_data)
{
  MeshMdns *m = user_data;

  switch (event)
    {
    case AVAHI_BROWSER_NEW:
      if (flags & AVAHI_LOOKUP_RESULT_OUR_OWN)
        return;
      if (m->resolving >= MESH_MDNS_RESOLVING_MAX)
        {
          g_debug ("mDNS: %u services are being resolved, dropping one",
                   m->resolving);
          return;
        }
      if (avahi_service_resolver_new (m->client, interface, protocol, name,
                                      type, domain, m->resolve_proto, 0,
                                      resolve_callback, m) != NULL)
        m->resolving++;
      break;
    case AVAHI_BROWSER_FAILURE:
      g_debug ("mDNS: browsing failed: %s",
               avahi_strerror (avahi_client_errno (m->client)));
      break;
    case AVAHI_BROWSER_REMOVE:
    case AVAHI_BROWSER_CACHE_EXHAUSTED:
    case AVAHI_BROWSER_ALL_FOR_NOW:
    default:
      break;
    }
}

/* ---------------------------------------------------------------------- */
/* The client */

static void
client_drop (MeshMdns *m)
{
  /* Frees the group, the browser and pending resolvers with it. */
  g_clear_pointer (&m->client, avahi_client_free);
  m->group = NULL;
  m->browser = NULL;
  m->resolving = 0;
}

static gboolean
client_make (MeshMdns *m, int *err)
{
  AvahiClient *c;

  c = avahi_client_new (avahi_glib_poll_get (m->poll), 0, client_callback,
                        m, err);
  if (c == NULL)
    {
      /* The callback may have seen it before it was freed. */
      m->client = NULL;
      return FALSE;
    }
  m->client = c;
  return TRUE;
}

static gboolean retry_due (gpointer user_data);

static void
schedule_retry (MeshMdns *m)
{
  if (m->retry != NULL)
    return;
  m->retry = g_timeout_source_new_seconds (MDNS_RETRY_SECONDS);
  g_source_set_callback (m->retry, retry_due, m, NULL);
  g_source_set_name (m->retry, "MesharaNode mDNS reconnect");
  g_source_attach (m->retry, m->context);
}

static gboolean
retry_due (gpointer user_data)
{
  MeshMdns *m = user_data;
  int err = 0;

  g_clear_pointer (&m->retry, g_source_unref);
  client_drop (m);
  if (!client_make (m, &err))
    {
      g_debug ("mDNS: the Avahi daemon is still unreachable: %s",
               avahi_strerror (err));
      schedule_retry (m);
    }
  return G_SOURCE_REMOVE;
}

static void
client_callback (AvahiClient *c, AvahiClientState state, void *user_data)
{
  MeshMdns *m = user_data;

  /* Called from inside avahi_client_new() too, before it returns. */
  m->client = c;
  switch (state)
    {
    case AVAHI_CLIENT_S_RUNNING:
      publish (m);
      if (m->browser == NULL)
        {
          m->browser = avahi_service_browser_new (c, AVAHI_IF_UNSPEC,
                                                  AVAHI_PROTO_UNSPEC,
                                                  MESH_MDNS_SERVICE_TYPE,
                                                  NULL, 0, browse_callback, m);
          if (m->browser == NULL)
            g_debug ("mDNS: cannot browse: %s",
                     avahi_strerror (avahi_client_errno (c)));
        }
      break;
    case AVAHI_CLIENT_S_COLLISION:
    case AVAHI_CLIENT_S_REGISTERING:
      /* The host name changed: publish again once it runs. */
      if (m->group != NULL)
        avahi_entry_group_reset (m->group);
      break;
    case AVAHI_CLIENT_FAILURE:
      /* The daemon went away.  The client cannot be freed from its own
       * callback: a new one is made from the context. */
      g_debug ("mDNS: lost the Avahi daemon: %s",
               avahi_strerror (avahi_client_errno (c)));
      schedule_retry (m);
      break;
    case AVAHI_CLIENT_CONNECTING:
    default:
      break;
    }
}

MeshMdns *
mesh_mdns_new (GMainContext *context, const char *public_key,
               const char *node_id_hex, guint16 port, gboolean ipv6,
               MeshMdnsFoundFunc found,
               gpointer user_data, GError **error)
{
  MeshMdns *m;
  char *name;
  int err = 0;

  g_return_val_if_fail (public_key != NULL, NULL);
  g_return_val_if_fail (node_id_hex != NULL, NULL);
  g_return_val_if_fail (found != NULL, NULL);

  /* One TXT string holds at most 255 bytes. */
  if (strlen (public_key) + 4 > 255)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE,
                   "mDNS: the public key does not fit a TXT record");
      return NULL;
    }
  m = g_new0 (MeshMdns, 1);
  m->context = g_main_context_ref (context);
  m->poll = avahi_glib_poll_new (context, G_PRIORITY_DEFAULT);
  m->txt_key = g_strconcat ("key=", public_key, NULL);
  m->port = port;
  m->resolve_proto = ipv6 ? AVAHI_PROTO_UNSPEC : AVAHI_PROTO_INET;
  m->found = found;
  m->user_data = user_data;
  name = g_strdup_printf ("meshara-%.16s", node_id_hex);
  m->name = avahi_strdup (name);
  g_free (name);
  if (!client_make (m, &err))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                   "mDNS: cannot reach the Avahi daemon: %s",
                   avahi_strerror (err));
      mesh_mdns_free (m);
      return NULL;
    }
  return m;
}

void
mesh_mdns_free (MeshMdns *m)
{
  if (m == NULL)
    return;
  if (m->retry != NULL)
    {
      g_source_destroy (m->retry);
      g_source_unref (m->retry);
    }
  client_drop (m);
  avahi_glib_poll_free (m->poll);
  avahi_free (m->name);
  g_free (m->txt_key);
  g_main_context_unref (m->context);
  g_free (m);
}
