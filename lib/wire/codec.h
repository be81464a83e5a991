/* Encoding, decoding and validation of the meshara.v1 messages
 * (lib/wire/meshara.proto).
 *
 * Input from peers is hostile.  A decoder checks the size against a
 * limit, walks the encoding once (lengths, wire types, repeated counts,
 * UTF-8) before protobuf-c allocates anything, unpacks under a memory
 * budget, then validates every field.  What it returns is safe to use
 * without further length checks.  Errors are in the MESHARA_ERROR domain
 * and name the message, the field and the limit. */
#ifndef MESH_WIRE_CODEC_H
#define MESH_WIRE_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "wire/frame.h"
#include "wire/meshara.pb-c.h"

/* Short names for the generated types. */
typedef Meshara__V1__BaseMessage MeshWireBaseMessage;
typedef Meshara__V1__RoutingInfo MeshWireRoutingInfo;
typedef Meshara__V1__PrivateMessagePayload MeshWirePrivateMessage;
typedef Meshara__V1__PrivateContent MeshWirePrivateContent;
typedef Meshara__V1__Acknowledgment MeshWireAck;
typedef Meshara__V1__BroadcastPayload MeshWireBroadcast;
typedef Meshara__V1__BroadcastPayload__MetadataEntry MeshWireMetadataEntry;
typedef Meshara__V1__AuthoritySignature MeshWireAuthoritySignature;
typedef Meshara__V1__UpdatePackage MeshWireUpdatePackage;
typedef Meshara__V1__UpdateAnnouncement MeshWireUpdateAnnouncement;
typedef Meshara__V1__UpdateRequest MeshWireUpdateRequest;
typedef Meshara__V1__UpdateChunk MeshWireUpdateChunk;
typedef Meshara__V1__QueryMessage MeshWireQuery;
typedef Meshara__V1__ResponseMessage MeshWireResponse;
typedef Meshara__V1__RouteEntry MeshWireRouteEntry;
typedef Meshara__V1__RouteAdvertisement MeshWireRouteAdvertisement;
typedef Meshara__V1__Hello MeshWireHello;
typedef Meshara__V1__Ping MeshWirePing;
typedef Meshara__V1__Pong MeshWirePong;
typedef Meshara__V1__FindNode MeshWireFindNode;
typedef Meshara__V1__FindValue MeshWireFindValue;
typedef Meshara__V1__ContactRecord MeshWireContactRecord;
typedef Meshara__V1__Store MeshWireStore;
typedef Meshara__V1__NodeInfo MeshWireNodeInfo;
typedef Meshara__V1__Nodes MeshWireNodes;
typedef Meshara__V1__GossipAnnounce MeshWireGossipAnnounce;
typedef Meshara__V1__GossipPull MeshWireGossipPull;
typedef Meshara__V1__AuthorityInfo MeshWireAuthorityInfo;
typedef Meshara__V1__TrustedAuthority MeshWireTrustedAuthority;
typedef Meshara__V1__TrustStore MeshWireTrustStore;
typedef Meshara__V1__UpdateManifest MeshWireUpdateManifest;
typedef Meshara__V1__UpdateNotice MeshWireUpdateNotice;
typedef Meshara__V1__UpdateQuery MeshWireUpdateQuery;

#define MESH_WIRE_TYPE_UNSPECIFIED MESHARA__V1__MESSAGE_TYPE__MESSAGE_TYPE_UNSPECIFIED
#define MESH_WIRE_TYPE_PRIVATE MESHARA__V1__MESSAGE_TYPE__MESSAGE_TYPE_PRIVATE
#define MESH_WIRE_TYPE_ACK MESHARA__V1__MESSAGE_TYPE__MESSAGE_TYPE_ACK
#define MESH_WIRE_TYPE_BROADCAST MESHARA__V1__MESSAGE_TYPE__MESSAGE_TYPE_BROADCAST
#define MESH_WIRE_TYPE_UPDATE_PACKAGE MESHARA__V1__MESSAGE_TYPE__MESSAGE_TYPE_UPDATE_PACKAGE
#define MESH_WIRE_TYPE_UPDATE_ANNOUNCEMENT MESHARA__V1__MESSAGE_TYPE__MESSAGE_TYPE_UPDATE_ANNOUNCEMENT
#define MESH_WIRE_TYPE_UPDATE_REQUEST MESHARA__V1__MESSAGE_TYPE__MESSAGE_TYPE_UPDATE_REQUEST
#define MESH_WIRE_TYPE_UPDATE_CHUNK MESHARA__V1__MESSAGE_TYPE__MESSAGE_TYPE_UPDATE_CHUNK
#define MESH_WIRE_TYPE_QUERY MESHARA__V1__MESSAGE_TYPE__MESSAGE_TYPE_QUERY
#define MESH_WIRE_TYPE_RESPONSE MESHARA__V1__MESSAGE_TYPE__MESSAGE_TYPE_RESPONSE
#define MESH_WIRE_TYPE_ROUTE_ADVERTISEMENT MESHARA__V1__MESSAGE_TYPE__MESSAGE_TYPE_ROUTE_ADVERTISEMENT
#define MESH_WIRE_TYPE_HELLO MESHARA__V1__MESSAGE_TYPE__MESSAGE_TYPE_HELLO
#define MESH_WIRE_TYPE_PING MESHARA__V1__MESSAGE_TYPE__MESSAGE_TYPE_PING
#define MESH_WIRE_TYPE_PONG MESHARA__V1__MESSAGE_TYPE__MESSAGE_TYPE_PONG
#define MESH_WIRE_TYPE_FIND_NODE MESHARA__V1__MESSAGE_TYPE__MESSAGE_TYPE_FIND_NODE
#define MESH_WIRE_TYPE_FIND_VALUE MESHARA__V1__MESSAGE_TYPE__MESSAGE_TYPE_FIND_VALUE
#define MESH_WIRE_TYPE_STORE MESHARA__V1__MESSAGE_TYPE__MESSAGE_TYPE_STORE
#define MESH_WIRE_TYPE_NODES MESHARA__V1__MESSAGE_TYPE__MESSAGE_TYPE_NODES
#define MESH_WIRE_TYPE_GOSSIP_ANNOUNCE MESHARA__V1__MESSAGE_TYPE__MESSAGE_TYPE_GOSSIP_ANNOUNCE
#define MESH_WIRE_TYPE_GOSSIP_PULL MESHARA__V1__MESSAGE_TYPE__MESSAGE_TYPE_GOSSIP_PULL
/* One past the highest type this version knows. */
#define MESH_WIRE_TYPE_COUNT 20

#define MESH_WIRE_ROUTE_DIRECT MESHARA__V1__ROUTE_TYPE__ROUTE_TYPE_DIRECT
#define MESH_WIRE_ROUTE_ROUTED MESHARA__V1__ROUTE_TYPE__ROUTE_TYPE_ROUTED
#define MESH_WIRE_ROUTE_FLOOD MESHARA__V1__ROUTE_TYPE__ROUTE_TYPE_FLOOD

#define MESH_WIRE_ACK_DELIVERED MESHARA__V1__ACK_STATUS__ACK_STATUS_DELIVERED
#define MESH_WIRE_ACK_DUPLICATE MESHARA__V1__ACK_STATUS__ACK_STATUS_DUPLICATE
#define MESH_WIRE_ACK_SESSION_UNKNOWN MESHARA__V1__ACK_STATUS__ACK_STATUS_SESSION_UNKNOWN
#define MESH_WIRE_ACK_REJECTED MESHARA__V1__ACK_STATUS__ACK_STATUS_REJECTED

#define MESH_WIRE_RESPONSE_OK MESHARA__V1__RESPONSE_CODE__RESPONSE_CODE_OK
#define MESH_WIRE_RESPONSE_NOT_FOUND MESHARA__V1__RESPONSE_CODE__RESPONSE_CODE_NOT_FOUND
#define MESH_WIRE_RESPONSE_ERROR MESHARA__V1__RESPONSE_CODE__RESPONSE_CODE_ERROR
#define MESH_WIRE_RESPONSE_UNAUTHORIZED MESHARA__V1__RESPONSE_CODE__RESPONSE_CODE_UNAUTHORIZED

#define MESH_WIRE_TRUST_UPDATE MESHARA__V1__TRUST_LEVEL__TRUST_LEVEL_UPDATE
#define MESH_WIRE_TRUST_SIGNING MESHARA__V1__TRUST_LEVEL__TRUST_LEVEL_SIGNING
#define MESH_WIRE_TRUST_BOOTSTRAP MESHARA__V1__TRUST_LEVEL__TRUST_LEVEL_BOOTSTRAP
#define MESH_WIRE_TRUST_FULL MESHARA__V1__TRUST_LEVEL__TRUST_LEVEL_FULL

/* How the update messages without a MessageType travel (meshara.proto). */
#define MESH_WIRE_CONTENT_TYPE_UPDATE_NOTICE "application/x-meshara-update-notice"
#define MESH_WIRE_QUERY_UPDATE_LATEST "update-latest"
#define MESH_WIRE_QUERY_UPDATE_MANIFEST "update-manifest"

/* Hello.capabilities bits. */
#define MESH_WIRE_CAP_RELAY        (G_GUINT64_CONSTANT (1) << 0)  /* forwards routed messages */
#define MESH_WIRE_CAP_DHT          (G_GUINT64_CONSTANT (1) << 1)  /* answers DHT requests */
#define MESH_WIRE_CAP_UPDATE_CACHE (G_GUINT64_CONSTANT (1) << 2)  /* serves update chunks */
#define MESH_WIRE_CAP_AUTHORITY    (G_GUINT64_CONSTANT (1) << 3)  /* answers authority queries */

/* Field sizes. */
#define MESH_WIRE_PROTOCOL_VERSION 1
#define MESH_WIRE_ID_LEN 32            /* message IDs, node IDs, SHA-256 */
#define MESH_WIRE_KEY_LEN 32           /* Ed25519 public key */
#define MESH_WIRE_SIG_LEN 64           /* Ed25519 signature */
#define MESH_WIRE_BUNDLE_LEN 129       /* public bundle, crypto/identity.h */
#define MESH_WIRE_SESSION_ID_LEN 16
#define MESH_WIRE_SESSION_INIT_LEN 192 /* Noise X message, crypto/session.h */
#define MESH_WIRE_COUNTER_LEN 8
#define MESH_WIRE_TAG_LEN 16
#define MESH_WIRE_MIN_CIPHERTEXT (MESH_WIRE_COUNTER_LEN + MESH_WIRE_TAG_LEN)
#define MESH_WIRE_QUERY_ID_LEN 16

/* Limits.  Counts are checked while walking the encoding, before
 * protobuf-c allocates the arrays. */
/* BaseMessage bytes besides the payload: fields and routing take under
 * 250 bytes; the rest is room for fields of later revisions. */
#define MESH_WIRE_MAX_ENVELOPE 1024
#define MESH_WIRE_MAX_PAYLOAD (MESH_FRAME_MAX_DEFAULT - MESH_WIRE_MAX_ENVELOPE)
#define MESH_WIRE_MAX_HOPS 32
#define MESH_WIRE_MAX_METADATA 32
#define MESH_WIRE_MAX_METADATA_KEY 64
#define MESH_WIRE_MAX_METADATA_VALUE 1024
#define MESH_WIRE_MAX_CONTENT_TYPE 128
#define MESH_WIRE_MAX_NAME 128
#define MESH_WIRE_MAX_VERSION_LABEL 64
#define MESH_WIRE_MAX_CHANGELOG (64 * 1024)
#define MESH_WIRE_MAX_AUTHORITY_SIGS 16
/* Largest encoded UpdatePackage; bigger ones move as chunks, so this
 * bounds a reassembled package, not a frame. */
#define MESH_WIRE_MAX_UPDATE_SIZE (256u * 1024 * 1024)
#define MESH_WIRE_MIN_CHUNK_SIZE 1024
#define MESH_WIRE_MAX_CHUNK_SIZE (1024 * 1024)
#define MESH_WIRE_DEFAULT_CHUNK_SIZE (64 * 1024)
#define MESH_WIRE_MAX_UPDATE_CHUNKS 8192
#define MESH_WIRE_MAX_CHUNK_REQUEST 256
#define MESH_WIRE_MAX_AUTHORITY_NAME 128
#define MESH_WIRE_MAX_AUTHORITY_DESCRIPTION 1024
#define MESH_WIRE_MAX_AUTHORITY_URL 255
#define MESH_WIRE_MAX_TRUSTED_AUTHORITIES 256
#define MESH_WIRE_TRUST_STORE_VERSION 1
#define MESH_WIRE_MAX_QUERY_TYPE 64
#define MESH_WIRE_MAX_RESPONSE_MESSAGE 256
#define MESH_WIRE_MAX_ROUTE_ENTRIES 4096
#define MESH_WIRE_MAX_ADDRESSES 16
#define MESH_WIRE_MAX_ADDRESS_LEN 255
#define MESH_WIRE_MAX_AGENT 128
/* A peer may not announce a max_frame_size below this. */
#define MESH_WIRE_MIN_PEER_FRAME_SIZE (64 * 1024)
#define MESH_WIRE_MAX_DHT_NODES 32
#define MESH_WIRE_MAX_GOSSIP_IDS 1024
/* Unknown fields are skipped but protobuf-c keeps a copy of each (so that
 * a relay re-encodes them); this bounds them per decoded message, over
 * all nesting levels. */
#define MESH_WIRE_MAX_UNKNOWN_FIELDS 1024
/* Deepest nesting of our schema is 3 (Nodes.nodes.addresses). */
#define MESH_WIRE_MAX_DEPTH 8

/* Default timestamp window. */
#define MESH_WIRE_MAX_FUTURE_MS (G_GUINT64_CONSTANT (5) * 60 * 1000)
#define MESH_WIRE_MAX_PAST_MS (G_GUINT64_CONSTANT (24) * 60 * 60 * 1000)

/* How a message type travels. */
typedef enum {
  MESH_WIRE_LINK = 1 << 0,     /* one link: RoutingInfo absent; with
                                * MESH_WIRE_ROUTED, RoutingInfo optional */
  MESH_WIRE_ROUTED = 1 << 1,   /* RoutingInfo DIRECT or ROUTED */
  MESH_WIRE_FLOODED = 1 << 2,  /* RoutingInfo FLOOD */
  MESH_WIRE_SIGNED = 1 << 3,   /* sender_public_key and signature required */
  MESH_WIRE_INNER = 1 << 4,    /* only as PrivateContent.type */
} MeshWireTypeFlags;

typedef struct {
  guint32 type;
  const char *name;                             /* "BROADCAST" */
  const ProtobufCMessageDescriptor *descriptor; /* of the payload */
  MeshWireTypeFlags flags;
} MeshWireTypeInfo;

/* NULL for types this version does not know (and for UNSPECIFIED). */
const MeshWireTypeInfo *mesh_wire_type_info (guint32 type);

/* "PRIVATE", ..., "UNSPECIFIED", or "UNKNOWN". */
const char *mesh_wire_type_name (guint32 type);

typedef enum {
  MESH_WIRE_DECODE_DEFAULT = 0,
  /* Return a BaseMessage of an unknown type instead of failing with
   * MESHARA_ERROR_UNKNOWN_TYPE, for relays that forward what they cannot
   * read.  Every other rule still applies. */
  MESH_WIRE_DECODE_ALLOW_UNKNOWN_TYPE = 1 << 0,
} MeshWireDecodeFlags;

/* Decode and validate one BaseMessage of len bytes (a frame body).  len
 * above max fails with MESHARA_ERROR_TOO_LARGE before anything is read.
 * Error codes: TRUNCATED (empty, or input ends inside a field), MALFORMED
 * (not a valid encoding), TOO_LARGE (a size or count limit), INVALID (a
 * field breaks a rule), UNSUPPORTED_VERSION, UNKNOWN_TYPE (a MessageType
 * this version does not know; reported only when every other check
 * passed).  The payload is not decoded: see mesh_wire_decode_payload().
 * Returns: (transfer full): free with mesh_wire_free(). */
MeshWireBaseMessage *mesh_wire_decode_base (const guint8 *data, gsize len,
                                            gsize max, GError **error);
MeshWireBaseMessage *mesh_wire_decode_base_full (const guint8 *data, gsize len,
                                                 gsize max,
                                                 MeshWireDecodeFlags flags,
                                                 GError **error);

/* Decode base->payload as the message of base->type.
 * Returns: (transfer full): free with mesh_wire_free(). */
ProtobufCMessage *mesh_wire_decode_payload (const MeshWireBaseMessage *base,
                                            GError **error);

/* Decode and validate any message of the schema, under its size limit
 * (MESH_WIRE_MAX_UPDATE_SIZE for UpdatePackage, MESH_WIRE_MAX_PAYLOAD for
 * the others).  Returns: (transfer full): free with mesh_wire_free(). */
ProtobufCMessage *mesh_wire_decode_message (const ProtobufCMessageDescriptor *desc,
                                            const guint8 *data, gsize len,
                                            GError **error);

/* Typed forms of mesh_wire_decode_message(). */
MeshWirePrivateMessage *mesh_wire_decode_private (const guint8 *data, gsize len, GError **error);
MeshWirePrivateContent *mesh_wire_decode_private_content (const guint8 *data, gsize len, GError **error);
MeshWireAck *mesh_wire_decode_ack (const guint8 *data, gsize len, GError **error);
MeshWireBroadcast *mesh_wire_decode_broadcast (const guint8 *data, gsize len, GError **error);
MeshWireUpdatePackage *mesh_wire_decode_update_package (const guint8 *data, gsize len, GError **error);
MeshWireUpdateAnnouncement *mesh_wire_decode_update_announcement (const guint8 *data, gsize len, GError **error);
MeshWireUpdateRequest *mesh_wire_decode_update_request (const guint8 *data, gsize len, GError **error);
MeshWireUpdateChunk *mesh_wire_decode_update_chunk (const guint8 *data, gsize len, GError **error);
MeshWireQuery *mesh_wire_decode_query (const guint8 *data, gsize len, GError **error);
MeshWireResponse *mesh_wire_decode_response (const guint8 *data, gsize len, GError **error);
MeshWireRouteAdvertisement *mesh_wire_decode_route_advertisement (const guint8 *data, gsize len, GError **error);
MeshWireHello *mesh_wire_decode_hello (const guint8 *data, gsize len, GError **error);
MeshWirePing *mesh_wire_decode_ping (const guint8 *data, gsize len, GError **error);
MeshWirePong *mesh_wire_decode_pong (const guint8 *data, gsize len, GError **error);
MeshWireFindNode *mesh_wire_decode_find_node (const guint8 *data, gsize len, GError **error);
MeshWireFindValue *mesh_wire_decode_find_value (const guint8 *data, gsize len, GError **error);
MeshWireStore *mesh_wire_decode_store (const guint8 *data, gsize len, GError **error);
MeshWireNodes *mesh_wire_decode_nodes (const guint8 *data, gsize len, GError **error);
MeshWireContactRecord *mesh_wire_decode_contact_record (const guint8 *data, gsize len, GError **error);
MeshWireGossipAnnounce *mesh_wire_decode_gossip_announce (const guint8 *data, gsize len, GError **error);
MeshWireGossipPull *mesh_wire_decode_gossip_pull (const guint8 *data, gsize len, GError **error);
MeshWireTrustStore *mesh_wire_decode_trust_store (const guint8 *data, gsize len, GError **error);
MeshWireUpdateManifest *mesh_wire_decode_update_manifest (const guint8 *data, gsize len, GError **error);
MeshWireUpdateNotice *mesh_wire_decode_update_notice (const guint8 *data, gsize len, GError **error);
MeshWireUpdateQuery *mesh_wire_decode_update_query (const guint8 *data, gsize len, GError **error);

/* Validate a message built in memory (or decoded) by the rules the
 * decoders apply; for senders' self-checks and tests. */
gboolean mesh_wire_validate (const ProtobufCMessage *msg, GError **error);

/* Free a message returned by a decoder (NULL is fine).  Not for messages
 * built in memory with the generated __INIT macros. */
void mesh_wire_free (gpointer msg);

/* The timestamp lies within [now_ms - max_past_ms, now_ms + max_future_ms];
 * else MESHARA_ERROR_TIMESTAMP naming field and the exceeded limit. */
gboolean mesh_wire_check_timestamp (const char *field, guint64 timestamp_ms,
                                    guint64 now_ms, guint64 max_future_ms,
                                    guint64 max_past_ms, GError **error);

/* BaseMessage.timestamp_ms against the default window. */
gboolean mesh_wire_check_base_timestamp (const MeshWireBaseMessage *msg,
                                         guint64 now_ms, GError **error);

/* BaseMessage.message_id: SHA-256 of "meshara/1 message-id" (20 bytes),
 * then big-endian version (4 bytes), type (4), timestamp_ms (8), length of
 * sender_public_key (4), sender_public_key, length of payload (4),
 * payload.  Routing is excluded: relays change it. */
void mesh_wire_compute_message_id (const MeshWireBaseMessage *msg,
                                   guint8 out[MESH_WIRE_ID_LEN]);

/* message_id matches the content, else MESHARA_ERROR_INVALID. */
gboolean mesh_wire_check_message_id (const MeshWireBaseMessage *msg,
                                     GError **error);

/* Encoded size of any message. */
gsize mesh_wire_encoded_size (const ProtobufCMessage *msg);

/* Encode into out, which has mesh_wire_encoded_size() bytes; returns that
 * size. */
gsize mesh_wire_encode_into (const ProtobufCMessage *msg, guint8 *out);

/* Returns: (transfer full): the encoding. */
GBytes *mesh_wire_encode (const ProtobufCMessage *msg);

/* Size of the frame (header included) that carries msg. */
gsize mesh_wire_frame_size (const MeshWireBaseMessage *msg);

/* Write the frame carrying msg into out (cap bytes); *written gets its
 * size.  MESHARA_ERROR_TOO_LARGE when the encoding exceeds max_frame,
 * MESHARA_ERROR_INVALID_ARGUMENT when cap is too small. */
gboolean mesh_wire_encode_frame_into (const MeshWireBaseMessage *msg,
                                      gsize max_frame, guint8 *out, gsize cap,
                                      gsize *written, GError **error);

/* Returns: (transfer full): the frame (4-byte big-endian length, then
 * the encoded msg), or NULL with MESHARA_ERROR_TOO_LARGE when the
 * encoding exceeds max_frame. */
GBytes *mesh_wire_encode_frame (const MeshWireBaseMessage *msg,
                                gsize max_frame, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWireBaseMessage, mesh_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWirePrivateMessage, mesh_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWirePrivateContent, mesh_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWireAck, mesh_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWireBroadcast, mesh_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWireUpdatePackage, mesh_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWireUpdateAnnouncement, mesh_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWireUpdateRequest, mesh_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWireUpdateChunk, mesh_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWireQuery, mesh_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWireResponse, mesh_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWireRouteAdvertisement, mesh_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWireHello, mesh_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWirePing, mesh_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWirePong, mesh_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWireFindNode, mesh_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWireFindValue, mesh_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWireStore, mesh_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWireNodes, mesh_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWireContactRecord, mesh_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWireGossipAnnounce, mesh_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWireGossipPull, mesh_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWireTrustStore, mesh_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWireUpdateManifest, mesh_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWireUpdateNotice, mesh_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MeshWireUpdateQuery, mesh_wire_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ProtobufCMessage, mesh_wire_free)

#endif
