#include "config.h"

#include "engine/link.h"
#include "wire/frame.h"

#include <string.h>

void
mesh_bucket_init (MeshTokenBucket *b, double rate, double burst, uint64_t now_ns)
{
  b->rate = rate;
  b->burst = burst;
  b->tokens = burst;
  b->last_ns = now_ns;
}

gboolean
mesh_bucket_take (MeshTokenBucket *b, double n, uint64_t now_ns)
{
  /* A clock that went backwards refills nothing. */
  if (now_ns > b->last_ns)
    {
      b->tokens += (double) (now_ns - b->last_ns) * 1e-9 * b->rate;
      if (b->tokens > b->burst)
        b->tokens = b->burst;
      b->last_ns = now_ns;
    }
  if (b->tokens < n)
    return FALSE;
  b->tokens -= n;
  return TRUE;
}

MeshLink *
mesh_link_new (MeshLinkId id, const MeshPublicBundle *peer,
               const MeshEngineConfig *config, uint64_t now_ns)
{
  MeshLink *link = g_new0 (MeshLink, 1);

  link->id = id;
  link->peer = *peer;
  link->connected_ns = now_ns;
  link->last_seen_ns = now_ns;
  link->pong_ns = now_ns;
  link->peer_max_frame = MESH_FRAME_MAX_DEFAULT;
  /* One second of burst at the configured rates. */
  mesh_bucket_init (&link->frames_bucket, config->peer_frames_per_s,
                    config->peer_frames_per_s, now_ns);
  mesh_bucket_init (&link->bytes_bucket, (double) config->peer_bytes_per_s,
                    (double) config->peer_bytes_per_s, now_ns);
  mesh_bucket_init (&link->accepts_bucket, config->session_accepts_per_s,
                    config->session_accepts_per_s, now_ns);
  link->next_ping_ns = now_ns + config->ping_interval_ns;
  return link;
}

void
mesh_link_free (MeshLink *link)
{
  if (link == NULL)
    return;
  g_strfreev (link->peer_addresses);
  g_free (link->peer_agent);
  g_free (link);
}

gboolean
mesh_link_admit (MeshLink *link, size_t len, uint64_t now_ns)
{
  /* Check both before taking from either, so that a frame refused for
   * its size does not use up a frame token. */
  if (!mesh_bucket_take (&link->frames_bucket, 1, now_ns))
    goto over;
  if (!mesh_bucket_take (&link->bytes_bucket, (double) len, now_ns))
    {
      link->frames_bucket.tokens += 1;
      goto over;
    }
  return TRUE;

over:
  link->dropped_rate++;
  mesh_link_reputation_add (link, MESH_LINK_REPUTATION_RATE);
  return FALSE;
}

gboolean
mesh_link_reputation_add (MeshLink *link, int32_t delta)
{
  int32_t r = link->reputation + delta;

  link->reputation = CLAMP (r, MESH_LINK_REPUTATION_MIN, MESH_LINK_REPUTATION_MAX);
  return link->reputation <= MESH_LINK_REPUTATION_MIN;
}

void
mesh_link_rtt_sample (MeshLink *link, uint64_t rtt_ns)
{
  if (link->rtt_ns == 0)
    link->rtt_ns = rtt_ns;
  else
    link->rtt_ns = link->rtt_ns - link->rtt_ns / 8 + rtt_ns / 8;
  if (link->rtt_ns == 0)
    link->rtt_ns = 1;
}

size_t
mesh_link_max_frame (const MeshLink *link, size_t own_max)
{
  return MIN (own_max, (size_t) link->peer_max_frame);
}

void
mesh_link_set_peer_info (MeshLink *link, char **addresses, size_t n,
                         const char *agent)
{
  g_strfreev (link->peer_addresses);
  link->peer_addresses = g_new0 (char *, n + 1);
  for (size_t i = 0; i < n; i++)
    link->peer_addresses[i] = g_strdup (addresses[i]);
  g_free (link->peer_agent);
  link->peer_agent = g_strdup (agent ? agent : "");
}
