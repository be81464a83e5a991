/* In-process links; see memlink.h. */
#include "config.h"

#include "net/memlink.h"
#include "wire/frame.h"

#include <string.h>
#include <meshara/meshara-error.h>

/* Bytes waiting at the receiving end before a send is refused, as the
 * TLS link's send queue. */
#define MEM_QUEUE_MAX MESH_NET_LINK_SEND_QUEUE_DEFAULT

typedef struct {
  GMainContext *context;
  uint8_t ed_pub[32];
  MeshMemAcceptFunc accept;
  gpointer user_data;
} MemListener;

struct _MeshMemLink {
  gint refs;                    /* the owner's, and one per dispatch */
  GMainContext *context;
  MeshMemLink *peer;            /* NULL once apart */
  uint8_t peer_ed_pub[32];
  gboolean have_peer_key;
  gboolean established;         /* reported */
  const MeshNetLinkCallbacks *callbacks;
  gpointer user_data;
  GQueue inbox;                 /* GBytes*, frame bodies */
  gsize inbox_bytes;
  gboolean closing;             /* closed() due after the inbox */
  char *close_reason;
  gboolean closed;              /* reported, or the owner let go */
  GSource *pump;
};

static GMutex registry_lock;
static GHashTable *registry;    /* address -> MemListener* */

gboolean
mesh_mem_address_is (const char *address)
{
  return address != NULL && g_str_has_prefix (address, MESH_MEM_ADDRESS_PREFIX);
}

gboolean
mesh_mem_address_check (const char *address, GError **error)
{
  const char *name;
  gsize len;

  if (!mesh_mem_address_is (address))
    return FALSE;
  name = address + strlen (MESH_MEM_ADDRESS_PREFIX);
  len = strlen (name);
  if (len == 0 || len > MESH_MEM_NAME_MAX)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "in-process address \"%s\": the name after \"mem:\" must "
                   "have 1 to %d characters", address, MESH_MEM_NAME_MAX);
      return FALSE;
    }
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isgraph (name[i]) || name[i] == ',')
      {
        g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                     "in-process address \"%s\": the name must be printable "
                     "ASCII without spaces or commas", address);
        return FALSE;
      }
  return TRUE;
}

gboolean
mesh_mem_listen (const char *address, const uint8_t *ed_pub,
                 MeshMemAcceptFunc accept, gpointer user_data, GError **error)
{
  MemListener *l;
  gboolean ok = TRUE;

  if (!mesh_mem_address_check (address, error))
    return FALSE;
  g_mutex_lock (&registry_lock);
  if (registry == NULL)
    registry = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (g_hash_table_contains (registry, address))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "in-process address %s is already in use", address);
      ok = FALSE;
    }
  else
    {
      l = g_new0 (MemListener, 1);
      l->context = g_main_context_ref_thread_default ();
      memcpy (l->ed_pub, ed_pub, 32);
      l->accept = accept;
      l->user_data = user_data;
      g_hash_table_insert (registry, g_strdup (address), l);
    }
  g_mutex_unlock (&registry_lock);
  return ok;
}

void
mesh_mem_unlisten (const char *address)
{
  MemListener *l;

  g_mutex_lock (&registry_lock);
  l = registry ? g_hash_table_lookup (registry, address) : NULL;
  if (l != NULL)
    {
      g_main_context_unref (l->context);
      g_hash_table_remove (registry, address);
      if (g_hash_table_size (registry) == 0)
        g_clear_pointer (&registry, g_hash_table_unref);
    }
  g_mutex_unlock (&registry_lock);
}

static void
mem_unref (MeshMemLink *link)
{
  if (--link->refs > 0)
    return;
  g_queue_clear_full (&link->inbox, (GDestroyNotify) g_bytes_unref);
  g_free (link->close_reason);
  g_main_context_unref (link->context);
  g_free (link);
}

/* Delivers what is due on this end: established, frames, closed.  Each
 * callback may free the link (the owner lets go): checked after each. */
static gboolean
pump_dispatch (gpointer user_data)
{
  MeshMemLink *link = user_data;

  /* Whatever a callback makes due goes to a new source. */
  g_source_destroy (link->pump);
  g_clear_pointer (&link->pump, g_source_unref);
  link->refs++;
  if (!link->closed && !link->established && link->have_peer_key
      && link->peer != NULL)
    {
      link->established = TRUE;
      if (link->callbacks && link->callbacks->established)
        link->callbacks->established (NULL, link->peer_ed_pub,
                                      link->user_data);
    }
  while (!link->closed && link->established && link->inbox.length > 0)
    {
      GBytes *frame = g_queue_pop_head (&link->inbox);
      gsize len;
      const guint8 *data = g_bytes_get_data (frame, &len);

      link->inbox_bytes -= len;
      if (link->callbacks && link->callbacks->frame)
        link->callbacks->frame (NULL, data, len, link->user_data);
      g_bytes_unref (frame);
    }
  if (!link->closed && link->closing)
    {
      GError *error = g_error_new (MESHARA_ERROR, MESHARA_ERROR_IO, "%s",
                                   link->close_reason);

      link->closed = TRUE;
      if (link->callbacks && link->callbacks->closed)
        link->callbacks->closed (NULL, error, link->user_data);
      g_error_free (error);
    }
  mem_unref (link);
  return G_SOURCE_REMOVE;
}

static void
pump_schedule (MeshMemLink *link)
{
  if (link->pump != NULL || link->closed)
    return;
  link->pump = g_idle_source_new ();
  g_source_set_priority (link->pump, G_PRIORITY_DEFAULT);
  g_source_set_callback (link->pump, pump_dispatch, link, NULL);
  g_source_set_name (link->pump, "in-process link");
  g_source_attach (link->pump, link->context);
}

/* This end learns it is closed (after what is already in its inbox). */
static void
mem_close_end (MeshMemLink *link, const char *reason)
{
  if (link->closing || link->closed)
    return;
  link->closing = TRUE;
  link->close_reason = g_strdup (reason);
  pump_schedule (link);
}

static void
mem_separate (MeshMemLink *link)
{
  if (link->peer != NULL)
    {
      link->peer->peer = NULL;
      link->peer = NULL;
    }
}

static MeshMemLink *
mem_new (GMainContext *context)
{
  MeshMemLink *link = g_new0 (MeshMemLink, 1);

  link->refs = 1;
  link->context = g_main_context_ref (context);
  g_queue_init (&link->inbox);
  return link;
}

MeshMemLink *
mesh_mem_connect (GMainContext *context, const char *address,
                  const uint8_t *own_ed_pub, const uint8_t *expected_ed_pub,
                  const MeshNetLinkCallbacks *callbacks, gpointer user_data)
{
  MeshMemLink *client = mem_new (context), *server;
  MemListener l = { 0 };
  gboolean found = FALSE;

  client->callbacks = callbacks;
  client->user_data = user_data;
  g_mutex_lock (&registry_lock);
  if (registry != NULL && g_hash_table_contains (registry, address))
    {
      l = *(MemListener *) g_hash_table_lookup (registry, address);
      found = TRUE;
    }
  g_mutex_unlock (&registry_lock);

  if (!found)
    {
      char *reason = g_strdup_printf ("connecting to %s failed: no node of "
                                      "this process listens there", address);

      mem_close_end (client, reason);
      g_free (reason);
      return client;
    }
  if (expected_ed_pub != NULL && memcmp (expected_ed_pub, l.ed_pub, 32) != 0)
    {
      char *reason = g_strdup_printf ("%s: the peer's key differs from the "
                                      "pinned key", address);

      mem_close_end (client, reason);
      g_free (reason);
      return client;
    }
  server = mem_new (l.context);
  client->peer = server;
  server->peer = client;
  memcpy (client->peer_ed_pub, l.ed_pub, 32);
  client->have_peer_key = TRUE;
  memcpy (server->peer_ed_pub, own_ed_pub, 32);
  server->have_peer_key = TRUE;
  pump_schedule (client);
  pump_schedule (server);
  l.accept (server, l.user_data);
  return client;
}

void
mesh_mem_link_set_callbacks (MeshMemLink *link,
                             const MeshNetLinkCallbacks *callbacks,
                             gpointer user_data)
{
  link->callbacks = callbacks;
  link->user_data = user_data;
}

gboolean
mesh_mem_link_send (MeshMemLink *link, const guint8 *frame, gsize len,
                    GError **error)
{
  MeshMemLink *peer = link->peer;

  if (len < MESH_FRAME_HEADER_LEN)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "a frame of %" G_GSIZE_FORMAT " bytes has no header", len);
      return FALSE;
    }
  if (peer == NULL || link->closing || link->closed || peer->closing)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                   "the in-process link is closed");
      return FALSE;
    }
  if (peer->inbox_bytes > 0 && peer->inbox_bytes + len > MEM_QUEUE_MAX)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED,
                   "the in-process link's queue is full");
      return FALSE;
    }
  g_queue_push_tail (&peer->inbox,
                     g_bytes_new (frame + MESH_FRAME_HEADER_LEN,
                                  len - MESH_FRAME_HEADER_LEN));
  peer->inbox_bytes += len - MESH_FRAME_HEADER_LEN;
  pump_schedule (peer);
  return TRUE;
}

void
mesh_mem_link_abort (MeshMemLink *link, const char *reason)
{
  MeshMemLink *peer = link->peer;

  mem_separate (link);
  if (peer != NULL)
    mem_close_end (peer, reason);
  /* No frame is delivered after this call. */
  g_queue_clear_full (&link->inbox, (GDestroyNotify) g_bytes_unref);
  link->inbox_bytes = 0;
  mem_close_end (link, reason);
}

const uint8_t *
mesh_mem_link_get_peer_ed_pub (const MeshMemLink *link)
{
  return link->established ? link->peer_ed_pub : NULL;
}

void
mesh_mem_link_free (MeshMemLink *link)
{
  MeshMemLink *peer;

  if (link == NULL)
    return;
  peer = link->peer;
  mem_separate (link);
  if (peer != NULL)
    mem_close_end (peer, "the peer closed the in-process link");
  link->closed = TRUE;
  link->callbacks = NULL;
  if (link->pump != NULL)
    {
      g_source_destroy (link->pump);
      g_clear_pointer (&link->pump, g_source_unref);
    }
  mem_unref (link);
}
