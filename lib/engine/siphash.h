/* SipHash (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012) for the engine's hash tables, whose keys (node and message IDs)
 * peers choose: keyed with a per-node random key, so colliding IDs cannot
 * be prepared.  The tables hash 32-byte IDs with SipHash-1-3 from a state
 * keyed once (routes.c, seen.c); routes.c also has the general forms. */
#ifndef MESH_ENGINE_SIPHASH_H
#define MESH_ENGINE_SIPHASH_H

#include <glib.h>
#include <stdint.h>
#include <string.h>

#define MESH_SIPHASH_KEY_LEN 16

#define MESH_SIP_ROTL64(x, b) (uint64_t) (((x) << (b)) | ((x) >> (64 - (b))))

#define MESH_SIPROUND(v0, v1, v2, v3) \
  do { \
    v0 += v1; v1 = MESH_SIP_ROTL64 (v1, 13); v1 ^= v0; v0 = MESH_SIP_ROTL64 (v0, 32); \
    v2 += v3; v3 = MESH_SIP_ROTL64 (v3, 16); v3 ^= v2; \
    v0 += v3; v3 = MESH_SIP_ROTL64 (v3, 21); v3 ^= v0; \
    v2 += v1; v1 = MESH_SIP_ROTL64 (v1, 17); v1 ^= v2; v2 = MESH_SIP_ROTL64 (v2, 32); \
  } while (0)

static inline uint64_t
mesh_sip_load_le64 (const uint8_t *p)
{
  uint64_t v;
  memcpy (&v, p, sizeof v);
  return GUINT64_FROM_LE (v);
}

/* The state after keying, computed once per table. */
static inline void
mesh_siphash_key (const uint8_t key[MESH_SIPHASH_KEY_LEN], uint64_t v[4])
{
  uint64_t k0 = mesh_sip_load_le64 (key), k1 = mesh_sip_load_le64 (key + 8);
  v[0] = k0 ^ 0x736f6d6570736575ULL;
  v[1] = k1 ^ 0x646f72616e646f6dULL;
  v[2] = k0 ^ 0x6c7967656e657261ULL;
  v[3] = k1 ^ 0x7465646279746573ULL;
}

/* SipHash-1-3 of exactly 32 bytes from a keyed state: the same value as
 * mesh_routes_siphash13 over those bytes, at half its cost. */
static inline uint64_t
mesh_siphash13_id32 (const uint64_t state[4], const uint8_t id[32])
{
  uint64_t v0 = state[0], v1 = state[1], v2 = state[2], v3 = state[3], m;

  for (int i = 0; i < 32; i += 8)
    {
      m = mesh_sip_load_le64 (id + i);
      v3 ^= m;
      MESH_SIPROUND (v0, v1, v2, v3);
      v0 ^= m;
    }
  m = (uint64_t) 32 << 56;
  v3 ^= m;
  MESH_SIPROUND (v0, v1, v2, v3);
  v0 ^= m;
  v2 ^= 0xff;
  MESH_SIPROUND (v0, v1, v2, v3);
  MESH_SIPROUND (v0, v1, v2, v3);
  MESH_SIPROUND (v0, v1, v2, v3);
  return v0 ^ v1 ^ v2 ^ v3;
}

#endif
