#include "config.h"

#include "net/link.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <meshara/meshara.h>

#include "wire/frame.h"

/* Bytes written per dispatch before other sources get a turn. */
#define FLUSH_BUDGET (1024u * 1024)
/* Records read per dispatch, for the same reason. */
#define READ_BUDGET 64
/* Bytes read from the socket at once: GnuTLS asks for a record header,
 * then its body; serving both from one read saves a system call per
 * record, and several records come in one read in bulk. */
#define RECV_BUFFER (64u * 1024)
/* The send buffer starts at this size and is kept when drained; a larger
 * one is freed once drained, so a burst does not stay with every link
 * (the memory per connection is the limit with thousands of links). */
#define SEND_MIN_BUFFER 4096
/* Connections taken per listener dispatch. */
#define ACCEPT_BUDGET 64
/* Pause after accept() fails for lack of descriptors, instead of spinning
 * on a listen socket that stays readable. */
#define ACCEPT_PAUSE_MS 100

typedef enum {
  CLOSE_FLUSH,          /* writing what is queued */
  CLOSE_BYE,            /* sending close_notify */
  CLOSE_WAIT,           /* waiting for the peer's close_notify or EOF */
} CloseStep;

typedef struct {
  GSource source;
  MeshNetLink *link;    /* NULL once the link is gone */
} LinkSource;

struct _MeshNetLink {
  grefcount ref_count;
  gboolean dead;                /* last reference dropped during dispatch */
  guint dispatching;

  GMainContext *context;
  GSource *source;
  gpointer fd_tag;
  GIOCondition events;          /* what the source polls for */
  gint64 ready_us;              /* the source's ready time (deadlines) */
  gboolean wake;                /* dispatch at the next iteration */
  gint64 now_us;                /* the dispatch's time */

  GSocket *socket;
  GSocketAddress *remote;
  char *peer_desc;              /* "ip:port", for messages */
  gnutls_session_t session;
  MeshTlsCredentials *creds;
  MeshTlsPeer peer;
  MeshFrameReader *reader;
  MeshNetLinkConfig config;
  MeshNetLinkCallbacks callbacks;
  gpointer user_data;
  MeshNetLinkState state;
  gboolean server;
  guint32 id;

  /* Send queue: frames from sq_head to sq_tail.  Records are made
   * straight from it, a burst of small frames as full records; in_record
   * bytes at sq_head are in a record GnuTLS could not write out yet
   * (E_AGAIN), to be finished before anything else is sent.  GnuTLS's
   * cork buffer is not used: it would keep its largest size per link. */
  guint8 *sq;
  gsize sq_head, sq_tail, sq_cap;
  gsize in_record;
  gsize max_record;
  gboolean want_write;          /* TLS waits for the socket to take more */
  gboolean flush_asked;         /* something to write at the next dispatch */
  gboolean refused;             /* a send was refused: report writable */
  gboolean read_again;          /* input may be left after a budget ran out */

  /* Received bytes not yet taken by GnuTLS; allocated while in use. */
  guint8 *rb;
  gsize rb_off, rb_len;
  gboolean rb_drained;          /* the socket had no more at the last read */

  CloseStep close_step;
  GError *close_error;          /* why it closed; NULL when graceful */
  gboolean released;
  gboolean close_reported;

  gint64 deadline_us;           /* handshake or close deadline, or -1 */
  gint64 last_in_us;

  MeshNetLinkStats stats;
};

struct _MeshListener {
  GMainContext *context;
  GSocket *socket;
  GSource *source;
  GSource *pause;
  MeshTlsCredentials *creds;
  MeshNetLinkConfig config;
  guint rate;
  double tokens;
  gint64 tokens_us;
  MeshListenerAcceptFunc accept;
  gpointer user_data;
  guint64 refused;
};

static void link_finalize (MeshNetLink *link);

void
mesh_net_link_config_init (MeshNetLinkConfig *config)
{
  *config = (MeshNetLinkConfig) {
    .max_frame_size = MESH_FRAME_MAX_DEFAULT,
    .send_queue_max = MESH_NET_LINK_SEND_QUEUE_DEFAULT,
    .handshake_timeout_ms = MESH_NET_LINK_HANDSHAKE_TIMEOUT_DEFAULT,
    .close_timeout_ms = MESH_NET_LINK_CLOSE_TIMEOUT_DEFAULT,
    .idle_timeout_ms = 0,
  };
}

GSocketAddress *
mesh_net_parse_address (const char *address, GError **error)
{
  const char *port_str;
  char *host;
  guint64 port;
  GSocketAddress *sa;

  g_return_val_if_fail (address != NULL, NULL);

  if (address[0] == '[')
    {
      const char *close = strchr (address, ']');

      if (close == NULL || close[1] != ':')
        {
          g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                       "address \"%s\": expected \"[ipv6]:port\"", address);
          return NULL;
        }
      host = g_strndup (address + 1, (gsize) (close - address - 1));
      port_str = close + 2;
    }
  else
    {
      const char *colon = strrchr (address, ':');

      if (colon == NULL)
        {
          g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                       "address \"%s\" has no port: expected \"ip:port\"", address);
          return NULL;
        }
      if (memchr (address, ':', (gsize) (colon - address)) != NULL)
        {
          g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                       "address \"%s\": an IPv6 address goes in brackets, "
                       "\"[ipv6]:port\"", address);
          return NULL;
        }
      host = g_strndup (address, (gsize) (colon - address));
      port_str = colon + 1;
    }

  if (!g_ascii_string_to_unsigned (port_str, 10, 0, G_MAXUINT16, &port, NULL))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "address \"%s\": port \"%s\" is not a number from 0 to 65535",
                   address, port_str);
      g_free (host);
      return NULL;
    }
  sa = g_inet_socket_address_new_from_string (host, (guint) port);
  if (sa == NULL)
    g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                 "address \"%s\": \"%s\" is not an IPv4 or IPv6 address "
                 "(host names are resolved by the caller)", address, host);
  g_free (host);
  return sa;
}

static char *
describe_address (GSocketAddress *sa)
{
  GInetSocketAddress *isa;
  char *ip, *out;

  if (!G_IS_INET_SOCKET_ADDRESS (sa))
    return g_strdup ("(unknown)");
  isa = G_INET_SOCKET_ADDRESS (sa);
  ip = g_inet_address_to_string (g_inet_socket_address_get_address (isa));
  if (g_inet_socket_address_get_address (isa)
      && g_inet_address_get_family (g_inet_socket_address_get_address (isa))
         == G_SOCKET_FAMILY_IPV6)
    out = g_strdup_printf ("[%s]:%u", ip, g_inet_socket_address_get_port (isa));
  else
    out = g_strdup_printf ("%s:%u", ip, g_inet_socket_address_get_port (isa));
  g_free (ip);
  return out;
}

/* ---- the source ---- */

static gboolean link_source_prepare (GSource *source, gint *timeout);
static gboolean link_source_dispatch (GSource *source, GSourceFunc callback,
                                      gpointer user_data);

static GSourceFuncs link_source_funcs = {
  .prepare = link_source_prepare,
  .dispatch = link_source_dispatch,
};

/* Run the link at the next iteration of its context.  A flag read by
 * prepare() rather than a ready time: changing the ready time writes to
 * the context's wakeup descriptor every time, a system call per burst.
 * Links are used from their context's thread only, so the next
 * iteration always sees the flag. */
static void
link_wake (MeshNetLink *link)
{
  link->wake = TRUE;
}

/* Mark the link closed; resources go and closed() is reported at the end
 * of the dispatch.  Takes error (NULL: graceful). */
static void
link_fail (MeshNetLink *link, GError *error)
{
  if (link->state == MESH_NET_LINK_CLOSED)
    {
      g_clear_error (&error);
      return;
    }
  if (error)
    g_debug ("link %s closed: %s", link->peer_desc, error->message);
  else
    g_debug ("link %s closed", link->peer_desc);
  link->state = MESH_NET_LINK_CLOSED;
  link->close_error = error;
  link_wake (link);
}

static void
link_release (MeshNetLink *link)
{
  if (link->released)
    return;
  link->released = TRUE;
  if (link->fd_tag)
    {
      g_source_remove_unix_fd (link->source, link->fd_tag);
      link->fd_tag = NULL;
    }
  if (link->session)
    {
      gnutls_deinit (link->session);
      link->session = NULL;
    }
  if (link->socket)
    {
      g_socket_close (link->socket, NULL);
      g_clear_object (&link->socket);
    }
  mesh_tls_peer_clear (&link->peer);
  g_clear_pointer (&link->reader, mesh_frame_reader_free);
  g_clear_pointer (&link->rb, g_free);
  link->rb_off = link->rb_len = 0;
  g_clear_pointer (&link->sq, g_free);
  link->sq_head = link->sq_tail = link->sq_cap = 0;
  link->in_record = 0;
}

/* At the end of a dispatch: free what a closed link holds, tell the
 * owner once. */
static void
link_finish (MeshNetLink *link)
{
  link_release (link);
  link->wake = FALSE;
  if (link->ready_us != -1)
    {
      link->ready_us = -1;
      g_source_set_ready_time (link->source, -1);
    }
  if (!link->close_reported && !link->dead)
    {
      link->close_reported = TRUE;
      if (link->callbacks.closed)
        link->callbacks.closed (link, link->close_error, link->user_data);
    }
}

/* ---- sending ---- */

static gsize
queue_pending (const MeshNetLink *link)
{
  return link->sq_tail - link->sq_head;
}

static void
queue_append (MeshNetLink *link, const guint8 *data, gsize len)
{
  if (link->sq_tail + len > link->sq_cap)
    {
      gsize used = link->sq_tail - link->sq_head;

      /* Move the data to the front when that frees at least as much as
       * it copies; otherwise grow, so appends stay amortized O(1). */
      if (link->sq_head > 0 && link->sq_head >= used)
        {
          memmove (link->sq, link->sq + link->sq_head, used);
          link->sq_head = 0;
          link->sq_tail = used;
        }
      if (link->sq_tail + len > link->sq_cap)
        {
          gsize cap = MAX (link->sq_cap * 2, SEND_MIN_BUFFER);

          while (cap < link->sq_tail + len)
            cap *= 2;
          link->sq = g_realloc (link->sq, cap);
          link->sq_cap = cap;
        }
    }
  memcpy (link->sq + link->sq_tail, data, len);
  link->sq_tail += len;
}

static void
queue_drained (MeshNetLink *link)
{
  link->sq_head = link->sq_tail = 0;
  if (link->sq_cap > SEND_MIN_BUFFER)
    {
      g_clear_pointer (&link->sq, g_free);
      link->sq_cap = 0;
    }
}

gboolean
mesh_net_link_send (MeshNetLink *link, const guint8 *frame, gsize len,
                    GError **error)
{
  gsize body, pending;

  g_return_val_if_fail (link != NULL, FALSE);
  g_return_val_if_fail (frame != NULL || len == 0, FALSE);

  if (G_UNLIKELY (link->state >= MESH_NET_LINK_CLOSING))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                   "link to %s is %s: frame not sent", link->peer_desc,
                   link->state == MESH_NET_LINK_CLOSING ? "closing" : "closed");
      return FALSE;
    }
  if (G_UNLIKELY (len <= MESH_FRAME_HEADER_LEN))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "frame of %" G_GSIZE_FORMAT " bytes: a frame is a 4-byte "
                   "header and a body of at least 1 byte", len);
      return FALSE;
    }
  body = mesh_frame_read_header (frame);
  if (G_UNLIKELY (body != len - MESH_FRAME_HEADER_LEN))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "frame header announces %" G_GSIZE_FORMAT " bytes but %"
                   G_GSIZE_FORMAT " follow", body, len - MESH_FRAME_HEADER_LEN);
      return FALSE;
    }
  if (G_UNLIKELY (body > link->config.max_frame_size))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_TOO_LARGE,
                   "frame of %" G_GSIZE_FORMAT " bytes exceeds max-frame-size %"
                   G_GSIZE_FORMAT, body, link->config.max_frame_size);
      return FALSE;
    }
  pending = queue_pending (link);
  /* An empty queue takes any frame, so that frames larger than the limit
   * still go out; memory stays below limit + one frame. */
  if (G_UNLIKELY (pending > 0 && pending + len > link->config.send_queue_max))
    {
      link->refused = TRUE;
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_EXHAUSTED,
                   "send queue of link to %s full: %" G_GSIZE_FORMAT
                   " bytes queued, frame of %" G_GSIZE_FORMAT ", limit %"
                   G_GSIZE_FORMAT, link->peer_desc, pending, len,
                   link->config.send_queue_max);
      return FALSE;
    }

  queue_append (link, frame, len);
  link->stats.frames_out++;
  link->stats.bytes_out += len;
  if (!link->flush_asked)
    {
      link->flush_asked = TRUE;
      if (link->state == MESH_NET_LINK_ESTABLISHED && !link->want_write)
        link_wake (link);
    }
  return TRUE;
}

/* Hand queued bytes to TLS and push them out.  TRUE when all is written;
 * FALSE when the socket is full (want_write), the budget ran out
 * (flush_asked) or the link failed. */
static gboolean
link_flush (MeshNetLink *link)
{
  gsize budget = FLUSH_BUDGET;

  link->flush_asked = FALSE;
  for (;;)
    {
      gsize n = link->in_record;
      ssize_t r;

      if (n == 0)
        {
          n = MIN (link->sq_tail - link->sq_head, link->max_record);
          if (n == 0)
            break;
          if (budget == 0)
            {
              link->flush_asked = TRUE;
              return FALSE;
            }
        }
      /* One record.  After GNUTLS_E_AGAIN the same call finishes it: the
       * record is already sealed, GnuTLS only writes what is left. */
      r = gnutls_record_send (link->session, link->sq + link->sq_head, n);
      if (r == GNUTLS_E_INTERRUPTED)
        continue;
      if (r == GNUTLS_E_AGAIN)
        {
          link->in_record = n;
          link->want_write = TRUE;
          return FALSE;
        }
      if (r < 0)
        {
          link_fail (link, g_error_new (MESHARA_ERROR, MESHARA_ERROR_IO,
                                        "sending to %s failed: %s",
                                        link->peer_desc, gnutls_strerror ((int) r)));
          return FALSE;
        }
      if ((gsize) r != n)
        {
          link_fail (link, g_error_new (MESHARA_ERROR, MESHARA_ERROR_FAILED,
                                        "TLS took %zd of %" G_GSIZE_FORMAT
                                        " bytes of a record", r, n));
          return FALSE;
        }
      link->in_record = 0;
      link->sq_head += n;
      budget -= MIN (budget, n);
      link->stats.records_out++;
      link->stats.last_activity_ns = (guint64) link->now_us * 1000;
      if (link->sq_head == link->sq_tail)
        queue_drained (link);

      if (link->refused && queue_pending (link) <= link->config.send_queue_max / 2)
        {
          link->refused = FALSE;
          if (link->callbacks.writable && !link->dead)
            {
              link->callbacks.writable (link, link->user_data);
              if (link->state != MESH_NET_LINK_ESTABLISHED
                  && link->state != MESH_NET_LINK_CLOSING)
                return FALSE;
            }
        }
    }
  link->want_write = FALSE;
  return TRUE;
}

/* ---- receiving ---- */

static void
link_on_frame (const guint8 *frame, gsize len, gpointer user_data)
{
  MeshNetLink *link = user_data;

  /* Nothing is delivered once the owner closed or dropped the link. */
  if (link->state != MESH_NET_LINK_ESTABLISHED || link->dead)
    return;
  link->stats.frames_in++;
  if (link->callbacks.frame)
    link->callbacks.frame (link, frame, len, link->user_data);
}

/* The peer sent close_notify (or, while we close, EOF). */
static void
link_peer_closed (MeshNetLink *link)
{
  if (link->state == MESH_NET_LINK_ESTABLISHED)
    {
      /* Answer in kind if the socket takes it right away; the peer is
       * not waiting for anything else. */
      gnutls_bye (link->session, GNUTLS_SHUT_WR);
    }
  link_fail (link, NULL);
}

static void
link_read (MeshNetLink *link)
{
  link->read_again = FALSE;
  for (guint i = 0; i < READ_BUDGET; i++)
    {
      gnutls_packet_t packet = NULL;
      gnutls_datum_t data;
      GError *error = NULL;
      ssize_t r;
      gboolean ok;

      r = gnutls_record_recv_packet (link->session, &packet);
      if (r == GNUTLS_E_AGAIN)
        return;
      if (r == GNUTLS_E_INTERRUPTED)
        continue;
      if (r == 0)
        {
          link_peer_closed (link);
          return;
        }
      if (r < 0)
        {
          if (!gnutls_error_is_fatal ((int) r))
            continue;
          if (link->state == MESH_NET_LINK_CLOSING
              && link->close_step == CLOSE_WAIT)
            {
              /* Our close is done; how the peer ends does not matter. */
              link_fail (link, NULL);
              return;
            }
          if (r == GNUTLS_E_PREMATURE_TERMINATION)
            error = g_error_new (MESHARA_ERROR, MESHARA_ERROR_IO,
                                 "%s closed the connection without TLS close_notify",
                                 link->peer_desc);
          else if (r == GNUTLS_E_FATAL_ALERT_RECEIVED)
            error = g_error_new (MESHARA_ERROR, MESHARA_ERROR_FAILED,
                                 "%s sent TLS alert \"%s\"", link->peer_desc,
                                 gnutls_alert_get_name (gnutls_alert_get (link->session)));
          else
            error = g_error_new (MESHARA_ERROR, MESHARA_ERROR_IO,
                                 "receiving from %s failed: %s", link->peer_desc,
                                 gnutls_strerror ((int) r));
          link_fail (link, error);
          return;
        }

      gnutls_packet_get (packet, &data, NULL);
      link->stats.bytes_in += data.size;
      link->last_in_us = link->now_us;
      link->stats.last_activity_ns = (guint64) link->now_us * 1000;
      ok = mesh_frame_reader_feed (link->reader, data.data, data.size, &error);
      gnutls_packet_deinit (packet);
      if (!ok)
        {
          g_prefix_error (&error, "protocol error from %s: ", link->peer_desc);
          link_fail (link, error);
          return;
        }
      if (link->state == MESH_NET_LINK_CLOSED || link->dead)
        return;
    }
  /* Out of budget: records may wait inside GnuTLS where poll cannot see
   * them, so come back at the next iteration. */
  link->read_again = TRUE;
}

/* ---- handshake and close ---- */

static void
link_handshake (MeshNetLink *link)
{
  GError *error = NULL;
  guint tries = 0;
  int ret;

  /* Warning alerts and interruptions are not failures; a peer sending
   * nothing else gets the same treatment as any other error. */
  do
    ret = gnutls_handshake (link->session);
  while (ret < 0 && ret != GNUTLS_E_AGAIN && !gnutls_error_is_fatal (ret)
         && ++tries < 16);

  if (ret == GNUTLS_E_AGAIN)
    {
      link->want_write = gnutls_record_get_direction (link->session) == 1;
      return;
    }
  if (ret < 0)
    {
      mesh_tls_handshake_error (link->session, &link->peer, ret, &error);
      /* Best effort: tell the peer why, if the socket takes it now. */
      gnutls_alert_send_appropriate (link->session, ret);
      link_fail (link, error);
      return;
    }
  if (!mesh_tls_session_check (link->session, &link->peer, &error))
    {
      gnutls_alert_send (link->session, GNUTLS_AL_FATAL,
                         error->code == MESHARA_ERROR_UNSUPPORTED_VERSION
                         ? GNUTLS_A_NO_APPLICATION_PROTOCOL
                         : GNUTLS_A_BAD_CERTIFICATE);
      g_prefix_error (&error, "TLS handshake refused: ");
      link_fail (link, error);
      return;
    }

  link->state = MESH_NET_LINK_ESTABLISHED;
  link->want_write = FALSE;
  link->deadline_us = -1;
  link->last_in_us = link->now_us;
  link->stats.connected_ns = (guint64) link->now_us * 1000;
  link->stats.last_activity_ns = link->stats.connected_ns;
  link->max_record = gnutls_record_get_max_size (link->session);
  if (link->max_record == 0)
    link->max_record = 16384;
  /* Records that came with the last handshake flight wait in GnuTLS. */
  link->read_again = TRUE;
  if (link->sq_tail > link->sq_head)
    link->flush_asked = TRUE;
  g_debug ("link %s established", link->peer_desc);
  if (link->callbacks.established && !link->dead)
    link->callbacks.established (link, link->peer.ed_pub, link->user_data);
}

static void
link_connected (MeshNetLink *link)
{
  GError *error = NULL;

  if (!g_socket_check_connect_result (link->socket, &error))
    {
      GError *e = g_error_new (MESHARA_ERROR, MESHARA_ERROR_IO,
                               "connecting to %s failed: %s",
                               link->peer_desc, error->message);

      g_error_free (error);
      link_fail (link, e);
      return;
    }
  link->state = MESH_NET_LINK_HANDSHAKING;
  link_handshake (link);
}

static void
link_close_step (MeshNetLink *link, GIOCondition rev)
{
  int ret;

  /* Keep reading (and dropping) what the peer sends, so that neither side
   * blocks on a full socket while the other closes. */
  if ((rev & (G_IO_IN | G_IO_HUP | G_IO_ERR)) || link->read_again)
    {
      link_read (link);
      if (link->state != MESH_NET_LINK_CLOSING)
        return;
    }
  if (link->close_step == CLOSE_FLUSH)
    {
      if (!link_flush (link))
        return;
      link->close_step = CLOSE_BYE;
    }
  if (link->close_step == CLOSE_BYE)
    {
      ret = gnutls_bye (link->session, GNUTLS_SHUT_WR);
      if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED)
        {
          link->want_write = TRUE;
          return;
        }
      link->want_write = FALSE;
      if (ret < 0)
        {
          link_fail (link, g_error_new (MESHARA_ERROR, MESHARA_ERROR_IO,
                                        "closing the link to %s failed: %s",
                                        link->peer_desc, gnutls_strerror (ret)));
          return;
        }
      g_socket_shutdown (link->socket, FALSE, TRUE, NULL);
      link->close_step = CLOSE_WAIT;
    }
}

static void
link_check_timers (MeshNetLink *link)
{
  gint64 now = link->now_us;

  switch (link->state)
    {
    case MESH_NET_LINK_CONNECTING:
    case MESH_NET_LINK_HANDSHAKING:
      if (now >= link->deadline_us)
        link_fail (link, g_error_new (MESHARA_ERROR, MESHARA_ERROR_IO,
                                      "%s with %s not finished after %u ms",
                                      link->state == MESH_NET_LINK_CONNECTING
                                      ? "TCP connect" : "TLS handshake",
                                      link->peer_desc,
                                      link->config.handshake_timeout_ms));
      break;
    case MESH_NET_LINK_ESTABLISHED:
      if (link->config.idle_timeout_ms
          && now - link->last_in_us >= (gint64) link->config.idle_timeout_ms * 1000)
        link_fail (link, g_error_new (MESHARA_ERROR, MESHARA_ERROR_IO,
                                      "nothing received from %s for %u ms "
                                      "(idle timeout)", link->peer_desc,
                                      link->config.idle_timeout_ms));
      break;
    case MESH_NET_LINK_CLOSING:
      if (now >= link->deadline_us)
        {
          /* Our part is done; the peer just did not answer. */
          g_debug ("link %s: no close from the peer after %u ms",
                   link->peer_desc, link->config.close_timeout_ms);
          link_fail (link, NULL);
        }
      break;
    case MESH_NET_LINK_CLOSED:
      break;
    }
}

/* Poll for what the state needs; come back at the earliest deadline. */
static void
link_update_source (MeshNetLink *link)
{
  GIOCondition events = 0;
  gint64 ready = -1;

  switch (link->state)
    {
    case MESH_NET_LINK_CONNECTING:
      events = G_IO_OUT;
      ready = link->deadline_us;
      break;
    case MESH_NET_LINK_HANDSHAKING:
      events = link->want_write ? G_IO_OUT : G_IO_IN;
      ready = link->deadline_us;
      break;
    case MESH_NET_LINK_ESTABLISHED:
      events = G_IO_IN | (link->want_write ? G_IO_OUT : 0);
      if (link->config.idle_timeout_ms)
        {
          /* Input moves the deadline later; a check that comes early
           * just sets the next one, so the ready time (a system call to
           * change) changes once per idle period, not per read. */
          gint64 idle_at = link->last_in_us
                           + (gint64) link->config.idle_timeout_ms * 1000;

          if (link->ready_us > link->now_us && link->ready_us <= idle_at)
            ready = link->ready_us;
          else
            ready = idle_at;
        }
      break;
    case MESH_NET_LINK_CLOSING:
      events = G_IO_IN | (link->want_write ? G_IO_OUT : 0);
      ready = link->deadline_us;
      break;
    case MESH_NET_LINK_CLOSED:
      break;
    }
  if (link->fd_tag && events != link->events)
    {
      g_source_modify_unix_fd (link->source, link->fd_tag, events);
      link->events = events;
    }
  if (ready != link->ready_us)
    {
      link->ready_us = ready;
      g_source_set_ready_time (link->source, ready);
    }
}

static void
link_step (MeshNetLink *link, GIOCondition rev)
{
  gboolean readable = (rev & (G_IO_IN | G_IO_HUP | G_IO_ERR)) != 0;
  gboolean writable = (rev & (G_IO_OUT | G_IO_HUP | G_IO_ERR)) != 0;

  switch (link->state)
    {
    case MESH_NET_LINK_CONNECTING:
      if (rev)
        link_connected (link);
      break;
    case MESH_NET_LINK_HANDSHAKING:
      link_handshake (link);
      break;
    case MESH_NET_LINK_CLOSING:
      link_close_step (link, rev);
      return;
    case MESH_NET_LINK_ESTABLISHED:
    case MESH_NET_LINK_CLOSED:
      break;
    }

  /* Also reached right after the handshake, to read the records that
   * came with its last flight and write what was queued before. */
  if (link->state == MESH_NET_LINK_ESTABLISHED
      && (readable || link->read_again))
    link_read (link);
  if (link->state == MESH_NET_LINK_ESTABLISHED
      && (link->want_write ? writable : link->flush_asked))
    link_flush (link);
}

/* Ready without polling: woken, input left inside GnuTLS or our buffer,
 * frames to write, or a close to report. */
static gboolean
link_source_prepare (GSource *source, gint *timeout)
{
  MeshNetLink *link = ((LinkSource *) source)->link;

  *timeout = -1;
  if (link == NULL)
    return FALSE;
  if (link->wake || link->read_again
      || (link->flush_asked && !link->want_write
          && link->state >= MESH_NET_LINK_ESTABLISHED)
      || (link->state == MESH_NET_LINK_CLOSED && !link->close_reported))
    {
      *timeout = 0;
      return TRUE;
    }
  return FALSE;
}

static gboolean
link_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  MeshNetLink *link = ((LinkSource *) source)->link;
  GIOCondition rev = 0;

  if (link == NULL)
    return G_SOURCE_REMOVE;
  /* A callback that runs the context itself must not re-enter the link
   * (the frame reader is mid-feed); it is served when the callback
   * returns. */
  if (link->dispatching)
    return G_SOURCE_CONTINUE;
  if (link->fd_tag)
    rev = g_source_query_unix_fd (source, link->fd_tag);

  link->dispatching++;
  link->wake = FALSE;
  if (rev & (G_IO_IN | G_IO_HUP | G_IO_ERR))
    link->rb_drained = FALSE;
  link->now_us = g_source_get_time (source);
  if (link->state != MESH_NET_LINK_CLOSED)
    link_step (link, rev);
  if (link->state != MESH_NET_LINK_CLOSED)
    link_check_timers (link);
  if (link->state == MESH_NET_LINK_CLOSED)
    link_finish (link);
  else
    link_update_source (link);
  /* Nothing is held between reads: idle links stay small. */
  if (link->rb && link->rb_len == 0)
    g_clear_pointer (&link->rb, g_free);
  link->dispatching--;

  if (link->dead && link->dispatching == 0)
    link_finalize (link);
  return G_SOURCE_CONTINUE;
}

/* ---- creation and teardown ---- */

static ssize_t
link_pull (gnutls_transport_ptr_t ptr, void *data, size_t len)
{
  MeshNetLink *link = ptr;
  gsize avail = link->rb_len - link->rb_off;

  if (avail == 0)
    {
      int fd = g_socket_get_fd (link->socket);
      ssize_t n;

      /* The last read emptied the socket; poll says when there is more. */
      if (link->rb_drained)
        {
          gnutls_transport_set_errno (link->session, EAGAIN);
          return -1;
        }
      if (len >= RECV_BUFFER)
        {
          n = recv (fd, data, len, 0);
          if (n < 0)
            goto failed;
          if ((gsize) n < len)
            link->rb_drained = TRUE;
          return n;
        }
      if (link->rb == NULL)
        link->rb = g_malloc (RECV_BUFFER);
      n = recv (fd, link->rb, RECV_BUFFER, 0);
      if (n < 0)
        goto failed;
      if (n == 0)
        return 0;
      if (n < (ssize_t) RECV_BUFFER)
        link->rb_drained = TRUE;
      link->rb_off = 0;
      link->rb_len = (gsize) n;
      avail = (gsize) n;
    }
  len = MIN (len, avail);
  memcpy (data, link->rb + link->rb_off, len);
  link->rb_off += len;
  if (link->rb_off == link->rb_len)
    link->rb_off = link->rb_len = 0;
  return (ssize_t) len;

failed:
  if (errno == EAGAIN || errno == EWOULDBLOCK)
    link->rb_drained = TRUE;
  gnutls_transport_set_errno (link->session, errno);
  return -1;
}

static MeshNetLink *
link_new (GMainContext *context, MeshTlsCredentials *creds,
          const MeshNetLinkConfig *config, GSocket *socket,
          GSocketAddress *remote, MeshTlsRole role, const uint8_t *pin,
          const MeshNetLinkCallbacks *callbacks, gpointer user_data,
          GError **error)
{
  MeshNetLink *link;
  LinkSource *ls;

  link = g_new0 (MeshNetLink, 1);
  g_ref_count_init (&link->ref_count);
  link->context = context ? g_main_context_ref (context) : g_main_context_ref_thread_default ();
  if (config)
    link->config = *config;
  else
    mesh_net_link_config_init (&link->config);
  if (link->config.max_frame_size == 0 || link->config.max_frame_size > G_MAXUINT32)
    link->config.max_frame_size = MESH_FRAME_MAX_DEFAULT;
  if (callbacks)
    link->callbacks = *callbacks;
  link->user_data = user_data;
  link->server = role == MESH_TLS_SERVER;
  link->creds = mesh_tls_credentials_ref (creds);
  link->socket = g_object_ref (socket);
  link->ready_us = -1;
  link->deadline_us = -1;
  link->max_record = 16384;

  /* Asking a connecting GSocket for its peer would consume the pending
   * connect error, so the client passes the address it dialed. */
  link->remote = remote ? g_object_ref (remote) : g_socket_get_remote_address (socket, NULL);
  link->peer_desc = link->remote ? describe_address (link->remote)
                                 : g_strdup ("(unknown peer)");

  mesh_tls_peer_init (&link->peer, pin);
  link->session = mesh_tls_session_new (creds, role, &link->peer, error);
  if (link->session == NULL)
    goto failed;
  /* GnuTLS writes to the descriptor itself (writev, MSG_NOSIGNAL) and
   * reads through link_pull. */
  gnutls_transport_set_ptr2 (link->session, link,
                             GINT_TO_POINTER (g_socket_get_fd (socket)));
  gnutls_transport_set_pull_function (link->session, link_pull);
  link->reader = mesh_frame_reader_new (link->config.max_frame_size,
                                        link_on_frame, link);

  /* Frames are coalesced here; Nagle would only add delay. */
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);

  ls = (LinkSource *) g_source_new (&link_source_funcs, sizeof (LinkSource));
  ls->link = link;
  link->source = &ls->source;
  g_source_set_name (link->source, "MeshNetLink");
  /* GLib takes a non-recursive source's descriptors out of the poll set
   * for each dispatch and puts them back, waking the context (a write to
   * its eventfd) each time; dispatch guards against re-entry itself. */
  g_source_set_can_recurse (link->source, TRUE);
  link->fd_tag = g_source_add_unix_fd (link->source, g_socket_get_fd (socket), 0);
  link->deadline_us = g_get_monotonic_time ()
                      + (gint64) link->config.handshake_timeout_ms * 1000;
  /* The caller sets the state, then attaches: set up before attaching,
   * the source costs the context no wakeups. */
  return link;

failed:
  link_finalize (link);
  return NULL;
}

MeshNetLink *
mesh_net_link_connect_address (GMainContext *context, MeshTlsCredentials *creds,
                               const MeshNetLinkConfig *config,
                               GSocketAddress *address,
                               const uint8_t *expected_ed_pub,
                               const MeshNetLinkCallbacks *callbacks,
                               gpointer user_data, GError **error)
{
  GSocket *socket;
  MeshNetLink *link;
  GError *connect_error = NULL;

  g_return_val_if_fail (creds != NULL, NULL);
  g_return_val_if_fail (G_IS_INET_SOCKET_ADDRESS (address), NULL);

  if (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address)) == 0)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "cannot connect to port 0");
      return NULL;
    }
  socket = g_socket_new (g_socket_address_get_family (address),
                         G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    {
      g_prefix_error (error, "creating a socket: ");
      return NULL;
    }
  g_socket_set_blocking (socket, FALSE);

  g_socket_connect (socket, address, NULL, &connect_error);
  link = link_new (context, creds, config, socket, address, MESH_TLS_CLIENT,
                   expected_ed_pub, callbacks, user_data, error);
  g_object_unref (socket);
  if (link == NULL)
    {
      g_clear_error (&connect_error);
      return NULL;
    }
  if (connect_error == NULL)
    link->state = MESH_NET_LINK_HANDSHAKING;
  else if (g_error_matches (connect_error, G_IO_ERROR, G_IO_ERROR_PENDING))
    link->state = MESH_NET_LINK_CONNECTING;
  else
    {
      /* Refused at once (loopback does that): report it like a refusal
       * that took a while, through closed(). */
      link->state = MESH_NET_LINK_CONNECTING;
      link_fail (link, g_error_new (MESHARA_ERROR, MESHARA_ERROR_IO,
                                    "connecting to %s failed: %s",
                                    link->peer_desc, connect_error->message));
    }
  g_clear_error (&connect_error);
  link_update_source (link);
  link_wake (link);
  g_source_attach (link->source, link->context);
  return link;
}

MeshNetLink *
mesh_net_link_connect (GMainContext *context, MeshTlsCredentials *creds,
                       const MeshNetLinkConfig *config, const char *address,
                       const uint8_t *expected_ed_pub,
                       const MeshNetLinkCallbacks *callbacks,
                       gpointer user_data, GError **error)
{
  GSocketAddress *sa;
  MeshNetLink *link;

  g_return_val_if_fail (address != NULL, NULL);

  sa = mesh_net_parse_address (address, error);
  if (sa == NULL)
    return NULL;
  link = mesh_net_link_connect_address (context, creds, config, sa,
                                        expected_ed_pub, callbacks, user_data,
                                        error);
  g_object_unref (sa);
  return link;
}

MeshNetLink *
mesh_net_link_accept (GMainContext *context, MeshTlsCredentials *creds,
                      const MeshNetLinkConfig *config, GSocket *socket,
                      const MeshNetLinkCallbacks *callbacks,
                      gpointer user_data, GError **error)
{
  MeshNetLink *link;

  g_return_val_if_fail (creds != NULL, NULL);
  g_return_val_if_fail (G_IS_SOCKET (socket), NULL);

  g_socket_set_blocking (socket, FALSE);
  link = link_new (context, creds, config, socket, NULL, MESH_TLS_SERVER,
                   NULL, callbacks, user_data, error);
  if (link == NULL)
    return NULL;
  link->state = MESH_NET_LINK_HANDSHAKING;
  link_update_source (link);
  link_wake (link);
  g_source_attach (link->source, link->context);
  return link;
}

static void
link_finalize (MeshNetLink *link)
{
  link_release (link);
  if (link->source)
    {
      ((LinkSource *) link->source)->link = NULL;
      g_source_destroy (link->source);
      g_source_unref (link->source);
      link->source = NULL;
    }
  mesh_tls_credentials_unref (link->creds);
  g_clear_object (&link->remote);
  g_clear_error (&link->close_error);
  g_main_context_unref (link->context);
  g_free (link->peer_desc);
  g_free (link);
}

MeshNetLink *
mesh_net_link_ref (MeshNetLink *link)
{
  g_return_val_if_fail (link != NULL, NULL);
  g_ref_count_inc (&link->ref_count);
  return link;
}

void
mesh_net_link_unref (MeshNetLink *link)
{
  if (link == NULL || !g_ref_count_dec (&link->ref_count))
    return;
  /* Inside its own dispatch the link is finished when the dispatch
   * returns; no callback runs in between. */
  if (link->dispatching)
    link->dead = TRUE;
  else
    link_finalize (link);
}

void
mesh_net_link_set_callbacks (MeshNetLink *link,
                             const MeshNetLinkCallbacks *callbacks,
                             gpointer user_data)
{
  g_return_if_fail (link != NULL);
  if (callbacks)
    link->callbacks = *callbacks;
  else
    memset (&link->callbacks, 0, sizeof link->callbacks);
  link->user_data = user_data;
}

void
mesh_net_link_close (MeshNetLink *link)
{
  g_return_if_fail (link != NULL);

  switch (link->state)
    {
    case MESH_NET_LINK_CONNECTING:
    case MESH_NET_LINK_HANDSHAKING:
      link_fail (link, NULL);
      break;
    case MESH_NET_LINK_ESTABLISHED:
      link->state = MESH_NET_LINK_CLOSING;
      link->close_step = CLOSE_FLUSH;
      link->deadline_us = g_get_monotonic_time ()
                          + (gint64) link->config.close_timeout_ms * 1000;
      link->flush_asked = TRUE;
      link_wake (link);
      break;
    case MESH_NET_LINK_CLOSING:
    case MESH_NET_LINK_CLOSED:
      break;
    }
}

void
mesh_net_link_abort (MeshNetLink *link, const char *reason)
{
  g_return_if_fail (link != NULL);
  link_fail (link, g_error_new (MESHARA_ERROR, MESHARA_ERROR_FAILED,
                                "link to %s aborted: %s", link->peer_desc,
                                reason ? reason : "no reason given"));
}

MeshNetLinkState
mesh_net_link_get_state (const MeshNetLink *link)
{
  g_return_val_if_fail (link != NULL, MESH_NET_LINK_CLOSED);
  return link->state;
}

gboolean
mesh_net_link_is_server (const MeshNetLink *link)
{
  g_return_val_if_fail (link != NULL, FALSE);
  return link->server;
}

const uint8_t *
mesh_net_link_get_peer_ed_pub (const MeshNetLink *link)
{
  g_return_val_if_fail (link != NULL, NULL);
  if (!link->peer.verified
      || (link->state != MESH_NET_LINK_ESTABLISHED
          && link->state != MESH_NET_LINK_CLOSING))
    return NULL;
  return link->peer.ed_pub;
}

GSocketAddress *
mesh_net_link_get_remote_address (const MeshNetLink *link)
{
  g_return_val_if_fail (link != NULL, NULL);
  return link->remote ? g_object_ref (link->remote) : NULL;
}

void
mesh_net_link_get_stats (const MeshNetLink *link, MeshNetLinkStats *stats)
{
  g_return_if_fail (link != NULL && stats != NULL);
  *stats = link->stats;
  stats->queued = queue_pending (link);
}

void
mesh_net_link_set_id (MeshNetLink *link, guint32 id)
{
  g_return_if_fail (link != NULL);
  link->id = id;
}

guint32
mesh_net_link_get_id (const MeshNetLink *link)
{
  g_return_val_if_fail (link != NULL, 0);
  return link->id;
}

/* ---- listener ---- */

static gboolean listener_incoming (GSocket *socket, GIOCondition condition,
                                   gpointer user_data);

static void
listener_watch (MeshListener *l)
{
  l->source = g_socket_create_source (l->socket, G_IO_IN, NULL);
  g_source_set_callback (l->source, G_SOURCE_FUNC (listener_incoming), l, NULL);
  g_source_set_name (l->source, "MeshListener");
  /* No descriptor juggling (and context wakeup) around each dispatch;
   * accepting again from a nested iteration is harmless. */
  g_source_set_can_recurse (l->source, TRUE);
  g_source_attach (l->source, l->context);
}

static gboolean
listener_resume (gpointer user_data)
{
  MeshListener *l = user_data;

  g_clear_pointer (&l->pause, g_source_unref);
  listener_watch (l);
  return G_SOURCE_REMOVE;
}

/* Token bucket: rate per second, burst of the same size. */
static gboolean
listener_admit (MeshListener *l)
{
  gint64 now;

  if (l->rate == 0)
    return TRUE;
  now = g_get_monotonic_time ();
  l->tokens += (double) (now - l->tokens_us) * l->rate / 1e6;
  if (l->tokens > l->rate)
    l->tokens = l->rate;
  l->tokens_us = now;
  if (l->tokens < 1.0)
    return FALSE;
  l->tokens -= 1.0;
  return TRUE;
}

static gboolean
listener_incoming (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  MeshListener *l = user_data;

  for (guint i = 0; i < ACCEPT_BUDGET; i++)
    {
      GError *error = NULL;
      GSocket *conn = g_socket_accept (l->socket, NULL, &error);
      MeshNetLink *link;

      if (conn == NULL)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            {
              g_error_free (error);
              return G_SOURCE_CONTINUE;
            }
          /* Out of descriptors and the like: the socket stays readable,
           * so stop watching it for a moment rather than spin. */
          g_message ("accepting a connection failed: %s; pausing %d ms",
                     error->message, ACCEPT_PAUSE_MS);
          g_error_free (error);
          g_source_destroy (l->source);
          g_clear_pointer (&l->source, g_source_unref);
          l->pause = g_timeout_source_new (ACCEPT_PAUSE_MS);
          g_source_set_callback (l->pause, listener_resume, l, NULL);
          g_source_attach (l->pause, l->context);
          return G_SOURCE_REMOVE;
        }
      if (!listener_admit (l))
        {
          l->refused++;
          g_debug ("connection refused: over %u new connections per second", l->rate);
          g_socket_close (conn, NULL);
          g_object_unref (conn);
          continue;
        }
      link = mesh_net_link_accept (l->context, l->creds, &l->config, conn,
                                   NULL, NULL, &error);
      g_object_unref (conn);
      if (link == NULL)
        {
          g_message ("accepting a connection failed: %s", error->message);
          g_error_free (error);
          continue;
        }
      l->accept (l, link, l->user_data);
    }
  return G_SOURCE_CONTINUE;
}

MeshListener *
mesh_listener_new (GMainContext *context, const char *address,
                   MeshTlsCredentials *creds, const MeshNetLinkConfig *config,
                   guint max_accepts_per_s, MeshListenerAcceptFunc accept,
                   gpointer user_data, GError **error)
{
  MeshListener *l;
  GSocketAddress *sa;
  GSocket *socket;
  GError *bind_error = NULL;

  g_return_val_if_fail (address != NULL && creds != NULL && accept != NULL, NULL);

  sa = mesh_net_parse_address (address, error);
  if (sa == NULL)
    return NULL;
  socket = g_socket_new (g_socket_address_get_family (sa), G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    {
      g_prefix_error (error, "creating a socket for %s: ", address);
      g_object_unref (sa);
      return NULL;
    }
  g_socket_set_blocking (socket, FALSE);
  g_socket_set_listen_backlog (socket, 128);
  if (!g_socket_bind (socket, sa, TRUE, &bind_error)
      || !g_socket_listen (socket, &bind_error))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                   "listening on %s failed: %s", address, bind_error->message);
      g_error_free (bind_error);
      g_object_unref (socket);
      g_object_unref (sa);
      return NULL;
    }
  g_object_unref (sa);

  l = g_new0 (MeshListener, 1);
  l->context = context ? g_main_context_ref (context) : g_main_context_ref_thread_default ();
  l->socket = socket;
  l->creds = mesh_tls_credentials_ref (creds);
  if (config)
    l->config = *config;
  else
    mesh_net_link_config_init (&l->config);
  l->rate = max_accepts_per_s;
  l->tokens = max_accepts_per_s;
  l->tokens_us = g_get_monotonic_time ();
  l->accept = accept;
  l->user_data = user_data;
  listener_watch (l);
  return l;
}

void
mesh_listener_free (MeshListener *listener)
{
  if (listener == NULL)
    return;
  if (listener->source)
    {
      g_source_destroy (listener->source);
      g_source_unref (listener->source);
    }
  if (listener->pause)
    {
      g_source_destroy (listener->pause);
      g_source_unref (listener->pause);
    }
  g_socket_close (listener->socket, NULL);
  g_object_unref (listener->socket);
  mesh_tls_credentials_unref (listener->creds);
  g_main_context_unref (listener->context);
  g_free (listener);
}

GSocketAddress *
mesh_listener_get_address (const MeshListener *listener)
{
  g_return_val_if_fail (listener != NULL, NULL);
  return g_socket_get_local_address (listener->socket, NULL);
}

guint16
mesh_listener_get_port (const MeshListener *listener)
{
  GSocketAddress *sa;
  guint16 port = 0;

  g_return_val_if_fail (listener != NULL, 0);
  sa = g_socket_get_local_address (listener->socket, NULL);
  if (G_IS_INET_SOCKET_ADDRESS (sa))
    port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (sa));
  g_clear_object (&sa);
  return port;
}

guint64
mesh_listener_get_refused (const MeshListener *listener)
{
  g_return_val_if_fail (listener != NULL, 0);
  return listener->refused;
}
