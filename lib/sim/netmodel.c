/* The network model of the simulator: randomness, link timing, partitions
 * and topology (see netmodel.h). */
#include "config.h"

#include "sim/netmodel.h"

#include <meshara/meshara-error.h>
#include <string.h>

/* ---- Randomness */

static uint64_t
splitmix64 (uint64_t *x)
{
  uint64_t z = (*x += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

void
mesh_sim_rng_init (MeshSimRng *rng, uint64_t seed)
{
  uint64_t x = seed;

  /* splitmix64 never yields four zero words in a row, the one state
   * xoshiro cannot leave. */
  for (int i = 0; i < 4; i++)
    rng->s[i] = splitmix64 (&x);
}

static inline uint64_t
rotl (uint64_t x, int k)
{
  return (x << k) | (x >> (64 - k));
}

uint64_t
mesh_sim_rng_next (MeshSimRng *rng)
{
  uint64_t *s = rng->s;
  uint64_t result = rotl (s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;

  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl (s[3], 45);
  return result;
}

uint64_t
mesh_sim_rng_below (MeshSimRng *rng, uint64_t n)
{
  /* Lemire's multiply-and-reject: the high word of x * n is uniform once
   * the low words below 2^64 mod n are drawn again. */
  unsigned __int128 m;
  uint64_t low;

  g_return_val_if_fail (n > 0, 0);
  m = (unsigned __int128) mesh_sim_rng_next (rng) * n;
  low = (uint64_t) m;
  if (low < n)
    {
      uint64_t threshold = -n % n;
      while (low < threshold)
        {
          m = (unsigned __int128) mesh_sim_rng_next (rng) * n;
          low = (uint64_t) m;
        }
    }
  return (uint64_t) (m >> 64);
}

double
mesh_sim_rng_double (MeshSimRng *rng)
{
  return (double) (mesh_sim_rng_next (rng) >> 11) * 0x1.0p-53;
}

void
mesh_sim_rng_fill (void *user_data, uint8_t *buf, size_t n)
{
  MeshSimRng *rng = user_data;

  while (n >= 8)
    {
      uint64_t v = GUINT64_TO_LE (mesh_sim_rng_next (rng));
      memcpy (buf, &v, 8);
      buf += 8;
      n -= 8;
    }
  if (n > 0)
    {
      uint64_t v = GUINT64_TO_LE (mesh_sim_rng_next (rng));
      memcpy (buf, &v, n);
    }
}

void
mesh_sim_rng_shuffle (MeshSimRng *rng, uint32_t *a, size_t n)
{
  for (size_t i = n; i > 1; i--)
    {
      size_t j = (size_t) mesh_sim_rng_below (rng, i);
      uint32_t t = a[i - 1];
      a[i - 1] = a[j];
      a[j] = t;
    }
}

/* ---- Links */

void
mesh_sim_link_params_init (MeshSimLinkParams *params)
{
  params->latency_ns = MESH_SIM_DEFAULT_LATENCY_NS;
  params->jitter_ns = MESH_SIM_DEFAULT_JITTER_NS;
  params->loss = 0.0;
  params->bandwidth_bps = MESH_SIM_DEFAULT_BANDWIDTH_BPS;
}

gboolean
mesh_sim_link_params_check (const MeshSimLinkParams *params, GError **error)
{
  if (params->latency_ns > MESH_SIM_MAX_DELAY_NS)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "link latency of %" G_GUINT64_FORMAT " ns exceeds the "
                   "maximum of %" G_GUINT64_FORMAT " ns", params->latency_ns,
                   MESH_SIM_MAX_DELAY_NS);
      return FALSE;
    }
  if (params->jitter_ns > MESH_SIM_MAX_DELAY_NS)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "link jitter of %" G_GUINT64_FORMAT " ns exceeds the "
                   "maximum of %" G_GUINT64_FORMAT " ns", params->jitter_ns,
                   MESH_SIM_MAX_DELAY_NS);
      return FALSE;
    }
  /* Written so that NaN fails too. */
  if (!(params->loss >= 0.0 && params->loss <= 1.0))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "link loss probability %g is outside [0, 1]",
                   params->loss);
      return FALSE;
    }
  if (params->bandwidth_bps != 0
      && params->bandwidth_bps < MESH_SIM_MIN_BANDWIDTH_BPS)
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "link bandwidth of %" G_GUINT64_FORMAT " bit/s is below "
                   "the minimum of %d bit/s (0 means unlimited)",
                   params->bandwidth_bps, MESH_SIM_MIN_BANDWIDTH_BPS);
      return FALSE;
    }
  return TRUE;
}

gboolean
mesh_sim_link_transmit (const MeshSimLinkParams *params, MeshSimDirection *dir,
                        MeshSimRng *rng, uint64_t now_ns, size_t size,
                        uint64_t *arrival_ns)
{
  uint64_t start = MAX (now_ns, dir->busy_until);
  uint64_t arrival;

  if (params->bandwidth_bps > 0)
    {
      unsigned __int128 bits = (unsigned __int128) size * 8 * 1000000000u;
      start += (uint64_t) ((bits + params->bandwidth_bps - 1)
                           / params->bandwidth_bps);
    }
  dir->busy_until = start;

  if (params->loss > 0.0 && mesh_sim_rng_double (rng) < params->loss)
    return FALSE;

  arrival = start + params->latency_ns;
  if (params->jitter_ns > 0)
    arrival += mesh_sim_rng_below (rng, params->jitter_ns + 1);
  arrival = MAX (arrival, dir->last_arrival);
  dir->last_arrival = arrival;
  *arrival_ns = arrival;
  return TRUE;
}

uint64_t
mesh_sim_link_close_arrival (const MeshSimLinkParams *params,
                             const MeshSimDirection *dir, uint64_t now_ns)
{
  return MAX (MAX (now_ns, dir->busy_until) + params->latency_ns,
              dir->last_arrival);
}

/* ---- Partitions */

struct MeshSimPartition {
  uint32_t n_nodes;
  uint8_t *group;
  /* Bit t of blocked[f]: group f -> group t is blocked. */
  uint64_t blocked[MESH_SIM_MAX_GROUPS];
  /* Blocked node pairs, from << 32 | to, sorted for binary search. */
  GArray *pairs;
  gboolean any_group_block;
};

MeshSimPartition *
mesh_sim_partition_new (uint32_t n_nodes)
{
  MeshSimPartition *p = g_new0 (MeshSimPartition, 1);

  p->n_nodes = n_nodes;
  p->group = g_new0 (uint8_t, MAX (n_nodes, 1));
  p->pairs = g_array_new (FALSE, FALSE, sizeof (uint64_t));
  return p;
}

void
mesh_sim_partition_free (MeshSimPartition *p)
{
  if (p == NULL)
    return;
  g_array_unref (p->pairs);
  g_free (p->group);
  g_free (p);
}

void
mesh_sim_partition_set_group (MeshSimPartition *p, uint32_t node,
                              unsigned group)
{
  g_return_if_fail (node < p->n_nodes);
  g_return_if_fail (group < MESH_SIM_MAX_GROUPS);
  p->group[node] = (uint8_t) group;
}

unsigned
mesh_sim_partition_get_group (const MeshSimPartition *p, uint32_t node)
{
  g_return_val_if_fail (node < p->n_nodes, 0);
  return p->group[node];
}

void
mesh_sim_partition_block_groups (MeshSimPartition *p, unsigned from,
                                 unsigned to, gboolean symmetric)
{
  g_return_if_fail (from < MESH_SIM_MAX_GROUPS && to < MESH_SIM_MAX_GROUPS);
  p->blocked[from] |= G_GUINT64_CONSTANT (1) << to;
  if (symmetric)
    p->blocked[to] |= G_GUINT64_CONSTANT (1) << from;
  p->any_group_block = TRUE;
}

static gboolean
find_pair (const GArray *pairs, uint64_t key, guint *pos)
{
  guint lo = 0, hi = pairs->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      uint64_t v = g_array_index (pairs, uint64_t, mid);

      if (v == key)
        {
          *pos = mid;
          return TRUE;
        }
      if (v < key)
        lo = mid + 1;
      else
        hi = mid;
    }
  *pos = lo;
  return FALSE;
}

static void
block_pair (MeshSimPartition *p, uint32_t from, uint32_t to)
{
  uint64_t key = (uint64_t) from << 32 | to;
  guint pos;

  if (!find_pair (p->pairs, key, &pos))
    g_array_insert_val (p->pairs, pos, key);
}

void
mesh_sim_partition_block_nodes (MeshSimPartition *p, uint32_t from,
                                uint32_t to, gboolean symmetric)
{
  g_return_if_fail (from < p->n_nodes && to < p->n_nodes);
  block_pair (p, from, to);
  if (symmetric)
    block_pair (p, to, from);
}

void
mesh_sim_partition_heal (MeshSimPartition *p)
{
  memset (p->blocked, 0, sizeof p->blocked);
  memset (p->group, 0, MAX (p->n_nodes, 1));
  g_array_set_size (p->pairs, 0);
  p->any_group_block = FALSE;
}

gboolean
mesh_sim_partition_blocks (const MeshSimPartition *p, uint32_t from,
                           uint32_t to)
{
  guint pos;

  if (from >= p->n_nodes || to >= p->n_nodes)
    return FALSE;
  if (p->any_group_block
      && (p->blocked[p->group[from]] >> p->group[to] & 1))
    return TRUE;
  return p->pairs->len > 0
         && find_pair (p->pairs, (uint64_t) from << 32 | to, &pos);
}

gboolean
mesh_sim_partition_active (const MeshSimPartition *p)
{
  return p->any_group_block || p->pairs->len > 0;
}

/* ---- Topology */

static inline uint64_t
edge_key (uint32_t a, uint32_t b)
{
  return a < b ? (uint64_t) a << 32 | b : (uint64_t) b << 32 | a;
}

typedef struct {
  uint32_t *edges;
  size_t n, cap;
  GHashTable *set;     /* of pointers into keys */
  gint64 *keys;
} EdgeList;

static gboolean
edge_exists (const EdgeList *l, uint32_t a, uint32_t b)
{
  gint64 key = (gint64) edge_key (a, b);
  return g_hash_table_contains (l->set, &key);
}

static void
edge_add (EdgeList *l, uint32_t a, uint32_t b)
{
  g_assert (l->n < l->cap);
  l->keys[l->n] = (gint64) edge_key (a, b);
  g_hash_table_add (l->set, &l->keys[l->n]);
  l->edges[2 * l->n] = MIN (a, b);
  l->edges[2 * l->n + 1] = MAX (a, b);
  l->n++;
}

uint32_t *
mesh_sim_topology_random (uint32_t n, uint32_t degree, MeshSimRng *rng,
                          size_t *n_edges)
{
  EdgeList l = { 0 };
  uint32_t *order, *stubs;
  size_t n_stubs;

  *n_edges = 0;
  if (n < 2)
    return g_new0 (uint32_t, 2);

  if (degree >= n - 1)
    {
      size_t m = (size_t) n * (n - 1) / 2, k = 0;
      uint32_t *edges = g_new (uint32_t, 2 * m);

      for (uint32_t a = 0; a < n; a++)
        for (uint32_t b = a + 1; b < n; b++)
          {
            edges[2 * k] = a;
            edges[2 * k + 1] = b;
            k++;
          }
      *n_edges = m;
      return edges;
    }
  degree = MAX (degree, 2);

  l.cap = (size_t) n + (size_t) n * (degree - 2) / 2 + 1;
  l.edges = g_new (uint32_t, 2 * l.cap);
  l.keys = g_new (gint64, l.cap);
  l.set = g_hash_table_new (g_int64_hash, g_int64_equal);

  order = g_new (uint32_t, n);
  for (uint32_t i = 0; i < n; i++)
    order[i] = i;
  mesh_sim_rng_shuffle (rng, order, n);
  for (uint32_t i = 0; i < n; i++)
    {
      uint32_t a = order[i], b = order[(i + 1) % n];
      if (!edge_exists (&l, a, b))
        edge_add (&l, a, b);
    }

  n_stubs = (size_t) n * (degree - 2);
  stubs = g_new (uint32_t, MAX (n_stubs, 1));
  for (size_t i = 0; i < n_stubs; i++)
    stubs[i] = (uint32_t) (i / (degree - 2));
  mesh_sim_rng_shuffle (rng, stubs, n_stubs);

  for (size_t i = 0; i + 1 < n_stubs; i += 2)
    {
      uint32_t a = stubs[i];

      if (stubs[i + 1] == a || edge_exists (&l, a, stubs[i + 1]))
        {
          /* Swap in a later stub that makes a valid pair; late in the
           * list there may be none, and the pair is dropped: those nodes
           * end one short of the degree. */
          for (int attempt = 0; attempt < 64 && i + 2 < n_stubs; attempt++)
            {
              size_t j = i + 2 + (size_t) mesh_sim_rng_below (rng, n_stubs - i - 2);
              if (stubs[j] != a && !edge_exists (&l, a, stubs[j]))
                {
                  uint32_t t = stubs[j];
                  stubs[j] = stubs[i + 1];
                  stubs[i + 1] = t;
                  break;
                }
            }
          if (stubs[i + 1] == a || edge_exists (&l, a, stubs[i + 1]))
            continue;
        }
      edge_add (&l, a, stubs[i + 1]);
    }

  g_free (stubs);
  g_free (order);
  g_hash_table_unref (l.set);
  g_free (l.keys);
  *n_edges = l.n;
  return l.edges;
}

static uint32_t
uf_find (uint32_t *parent, uint32_t x)
{
  while (parent[x] != x)
    {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
  return x;
}

gboolean
mesh_sim_topology_connected (uint32_t n, const uint32_t *edges, size_t n_edges,
                             const gboolean *skip)
{
  uint32_t *parent = g_new (uint32_t, MAX (n, 1));
  uint32_t root = UINT32_MAX;
  gboolean connected = TRUE;

  for (uint32_t i = 0; i < n; i++)
    parent[i] = i;
  for (size_t e = 0; e < n_edges; e++)
    {
      uint32_t a = edges[2 * e], b = edges[2 * e + 1];
      if (skip != NULL && (skip[a] || skip[b]))
        continue;
      parent[uf_find (parent, a)] = uf_find (parent, b);
    }
  for (uint32_t i = 0; i < n && connected; i++)
    {
      uint32_t r;

      if (skip != NULL && skip[i])
        continue;
      r = uf_find (parent, i);
      if (root == UINT32_MAX)
        root = r;
      else if (r != root)
        connected = FALSE;
    }
  g_free (parent);
  return connected;
}
