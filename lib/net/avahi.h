/* mDNS/DNS-SD discovery through the Avahi daemon: publishes the node as a
 * "_meshara._tcp" service whose TXT record carries its public key, and
 * browses for the services of other nodes on the local network.  Runs on
 * a GMainContext through avahi-glib.  Built only with --with-avahi. */
#ifndef MESH_NET_AVAHI_H
#define MESH_NET_AVAHI_H

#include <glib.h>

G_BEGIN_DECLS

#define MESH_MDNS_SERVICE_TYPE "_meshara._tcp"

/* Longest TXT "key=" value taken from the network (a public key has
 * 177 characters); longer ones are ignored before anything is copied. */
#define MESH_MDNS_KEY_MAX 200

/* Services being resolved at once at most; further ones are dropped
 * until some finish. */
#define MESH_MDNS_RESOLVING_MAX 32

typedef struct _MeshMdns MeshMdns;

/* Another node's service was resolved: address is "ip:port" (or
 * "[ip6]:port") and public_key a valid "mshr1..." string, both checked.
 * The service may be this node's own: the caller compares the key. */
typedef void (*MeshMdnsFoundFunc) (const char *address,
                                   const char *public_key,
                                   gpointer user_data);

/* Connects to the Avahi daemon, publishes the service for port with
 * public_key in its TXT record and starts browsing.  Services found are
 * resolved to IPv4 addresses, or to IPv6 ones too with ipv6 (a node
 * listening on an IPv6 address).  Fails when the
 * daemon cannot be reached (or the key cannot fit a TXT record).  Once
 * running, losing the daemon is not an error: the client is made again
 * every few seconds until it comes back. */
MeshMdns *mesh_mdns_new (GMainContext *context, const char *public_key,
                         const char *node_id_hex, guint16 port,
                         gboolean ipv6, MeshMdnsFoundFunc found, gpointer user_data,
                         GError **error);
void mesh_mdns_free (MeshMdns *mdns);

G_END_DECLS

#endif
