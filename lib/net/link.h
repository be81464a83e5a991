/* A link: one TCP connection carrying TLS 1.3 and, inside it, frames
 * (4-byte big-endian length + body).  Nonblocking, driven by one GSource
 * on the GMainContext given at creation; no threads.
 *
 * The engine has its own per-peer MeshLink (lib/engine/link.h); this one
 * is the socket side, hence MeshNetLink.
 *
 * Callbacks run only from the context's dispatch, never from inside a
 * mesh_net_link_*() call, so a caller may send, close or unref from any
 * callback.  After closed() no callback runs again.  A callback that
 * iterates the context itself does not get the same link dispatched
 * again until it returns.  A link is used from its context's thread
 * only.
 *
 * Ownership: the creator holds the one reference.  Dropping the last
 * reference closes the socket at once, without callbacks. */
#ifndef MESH_NET_LINK_H
#define MESH_NET_LINK_H

#include <glib.h>
#include <gio/gio.h>
#include <stdint.h>

#include "net/tls.h"

typedef struct _MeshNetLink MeshNetLink;
typedef struct _MeshListener MeshListener;

typedef enum {
  MESH_NET_LINK_CONNECTING,     /* TCP connect in progress */
  MESH_NET_LINK_HANDSHAKING,    /* TLS handshake in progress */
  MESH_NET_LINK_ESTABLISHED,    /* peer verified; frames flow */
  MESH_NET_LINK_CLOSING,        /* graceful close: flush, close_notify */
  MESH_NET_LINK_CLOSED,
} MeshNetLinkState;

#define MESH_NET_LINK_SEND_QUEUE_DEFAULT (1024u * 1024)
#define MESH_NET_LINK_HANDSHAKE_TIMEOUT_DEFAULT 10000 /* ms */
#define MESH_NET_LINK_CLOSE_TIMEOUT_DEFAULT 5000      /* ms */

typedef struct {
  gsize max_frame_size;         /* largest frame body received; default
                                 * MESH_FRAME_MAX_DEFAULT (16 MiB) */
  gsize send_queue_max;         /* bytes queued before mesh_net_link_send()
                                 * refuses; default 1 MiB.  A frame is
                                 * always taken into an empty queue. */
  guint handshake_timeout_ms;   /* TCP connect + TLS handshake; 10 s */
  guint close_timeout_ms;       /* wait for the peer's close; 5 s */
  guint idle_timeout_ms;        /* established and nothing received for
                                 * this long: closed.  0 (default): never;
                                 * keepalive is the engine's PING. */
} MeshNetLinkConfig;

typedef struct {
  /* The handshake completed and the peer's key passed verification (and
   * the pin, if one was given).  peer_ed_pub: 32 bytes, transfer none.
   * In TLS 1.3 a client finishes before the server has checked the
   * client's certificate: a server that refuses it closes the link right
   * after the client saw established(). */
  void (*established) (MeshNetLink *link, const uint8_t *peer_ed_pub,
                       gpointer user_data);
  /* One complete frame body (without the 4-byte header), valid during the
   * call only. */
  void (*frame) (MeshNetLink *link, const guint8 *data, gsize len,
                 gpointer user_data);
  /* The link is closed.  error is NULL after a graceful close (ours or
   * the peer's close_notify), else says why. */
  void (*closed) (MeshNetLink *link, const GError *error, gpointer user_data);
  /* Optional: after mesh_net_link_send() refused a frame, the queue has
   * drained below half its limit. */
  void (*writable) (MeshNetLink *link, gpointer user_data);
} MeshNetLinkCallbacks;

typedef struct {
  guint64 bytes_in;             /* frame bytes received (headers included) */
  guint64 bytes_out;            /* frame bytes accepted for sending */
  guint64 frames_in;            /* frames delivered */
  guint64 frames_out;           /* frames accepted for sending */
  guint64 records_out;          /* TLS application records written */
  guint64 connected_ns;         /* monotonic, when established; 0 before */
  guint64 last_activity_ns;     /* monotonic, last bytes in or out */
  gsize queued;                 /* bytes accepted, not yet written */
} MeshNetLinkStats;

void mesh_net_link_config_init (MeshNetLinkConfig *config);

/* Parse "a.b.c.d:port" or "[v6]:port" (IP literals only: name resolution
 * is the caller's job).  Transfer full. */
GSocketAddress *mesh_net_parse_address (const char *address, GError **error);

/* Connect to address ("ip:port", see mesh_net_parse_address());
 * expected_ed_pub (32 bytes) pins the peer's key, or NULL to accept any
 * verified key.  creds is referenced.  Errors here are only about the
 * arguments and the socket; connection failures come through closed().
 * config NULL: defaults.  Transfer full. */
MeshNetLink *mesh_net_link_connect (GMainContext *context,
                                    MeshTlsCredentials *creds,
                                    const MeshNetLinkConfig *config,
                                    const char *address,
                                    const uint8_t *expected_ed_pub,
                                    const MeshNetLinkCallbacks *callbacks,
                                    gpointer user_data, GError **error);

/* The same with an address already parsed (a GInetSocketAddress). */
MeshNetLink *mesh_net_link_connect_address (GMainContext *context,
                                            MeshTlsCredentials *creds,
                                            const MeshNetLinkConfig *config,
                                            GSocketAddress *address,
                                            const uint8_t *expected_ed_pub,
                                            const MeshNetLinkCallbacks *callbacks,
                                            gpointer user_data, GError **error);

/* The server side of an accepted connection (socket is referenced).
 * Callbacks may be set later with mesh_net_link_set_callbacks(), before
 * the context runs again.  Transfer full. */
MeshNetLink *mesh_net_link_accept (GMainContext *context,
                                   MeshTlsCredentials *creds,
                                   const MeshNetLinkConfig *config,
                                   GSocket *socket,
                                   const MeshNetLinkCallbacks *callbacks,
                                   gpointer user_data, GError **error);

MeshNetLink *mesh_net_link_ref (MeshNetLink *link);
void mesh_net_link_unref (MeshNetLink *link);

void mesh_net_link_set_callbacks (MeshNetLink *link,
                                  const MeshNetLinkCallbacks *callbacks,
                                  gpointer user_data);

/* Queue one frame: header + body, len = 4 + body length.  Sent from the
 * context, coalesced with the frames queued with it.  FALSE with
 * MESHARA_ERROR_EXHAUSTED when the queue is full (backpressure: wait for
 * writable()), MESHARA_ERROR_TOO_LARGE or _INVALID_ARGUMENT for a bad
 * frame, MESHARA_ERROR_IO once the link is closing.  Frames may be queued
 * before the link is established. */
gboolean mesh_net_link_send (MeshNetLink *link, const guint8 *frame, gsize len,
                             GError **error);

/* Graceful close: queued frames are written, then TLS close_notify and a
 * TCP half-close; closed() follows (error NULL) when the peer answers or
 * after close_timeout_ms.  Before the handshake completed it just closes.
 * No frame is delivered after this call. */
void mesh_net_link_close (MeshNetLink *link);

/* Close at once, dropping what is queued; closed() reports reason. */
void mesh_net_link_abort (MeshNetLink *link, const char *reason);

MeshNetLinkState mesh_net_link_get_state (const MeshNetLink *link);
gboolean mesh_net_link_is_server (const MeshNetLink *link);

/* The peer's verified Ed25519 key (32 bytes) once established, else NULL.
 * Transfer none. */
const uint8_t *mesh_net_link_get_peer_ed_pub (const MeshNetLink *link);

/* Transfer full, or NULL when the socket is gone. */
GSocketAddress *mesh_net_link_get_remote_address (const MeshNetLink *link);

void mesh_net_link_get_stats (const MeshNetLink *link, MeshNetLinkStats *stats);

/* A number of the caller's choosing (the node uses the engine's link
 * ID); 0 until set. */
void mesh_net_link_set_id (MeshNetLink *link, guint32 id);
guint32 mesh_net_link_get_id (const MeshNetLink *link);

/* Listener.  accept() receives each new server-side link (transfer full)
 * before its handshake starts; it sets the link's callbacks.  At most
 * max_accepts_per_s connections are taken per second (burst of the same
 * size); more are closed as soon as they are accepted.  0 = no limit. */
typedef void (*MeshListenerAcceptFunc) (MeshListener *listener,
                                        MeshNetLink *link, gpointer user_data);

/* address: "ip:port", port 0 for any free port. */
MeshListener *mesh_listener_new (GMainContext *context, const char *address,
                                 MeshTlsCredentials *creds,
                                 const MeshNetLinkConfig *config,
                                 guint max_accepts_per_s,
                                 MeshListenerAcceptFunc accept,
                                 gpointer user_data, GError **error);
void mesh_listener_free (MeshListener *listener);

/* The bound address (with the chosen port).  Transfer full. */
GSocketAddress *mesh_listener_get_address (const MeshListener *listener);
guint16 mesh_listener_get_port (const MeshListener *listener);

/* Connections closed at accept for exceeding max_accepts_per_s. */
guint64 mesh_listener_get_refused (const MeshListener *listener);

#endif
