/* The seen-cache.
 *
 * Layout: ring[cap] holds the entries in insertion order (ID and time, 40
 * bytes), from head (oldest) for used positions.  index[] is a power of
 * two of at least 2 * cap slots, so it is at most half full: a present ID
 * is found 1.5 slots from home on average and an absent one ends at an
 * empty slot after 2.5.  A slot holds 32 bits of the keyed hash (its home
 * and a tag that spares most wrong ID comparisons) and the ring position.
 *
 * An entry removed from the middle of the ring (mesh_seen_remove) leaves
 * its index slot at once and its ring position as a dead mark until the
 * head passes it, so the ring is never compacted; dead positions still
 * count towards the capacity, which keeps the bound simple.  Index
 * deletion shifts the rest of the cluster back (no tombstones), so probe
 * chains never lengthen with churn. */
#include "config.h"

#include "engine/seen.h"
#include "engine/siphash.h"
#include "crypto/util.h"

#include <string.h>

/* added_ns of a ring position whose entry has left. */
#define SEEN_DEAD UINT64_MAX

typedef struct {
  uint8_t id[MESH_SEEN_ID_LEN];
  uint64_t added_ns;
} SeenEntry;

typedef struct {
  uint32_t hash;   /* low 32 bits of SipHash-1-3: home = hash & mask */
  uint32_t pos;    /* ring position + 1; 0 = empty slot */
} SeenSlot;

G_STATIC_ASSERT (sizeof (SeenEntry) == 40);
G_STATIC_ASSERT (sizeof (MeshSeenIter) > 0);

struct MeshSeen {
  SeenEntry *ring;
  void **values;          /* maps only, else NULL */
  SeenSlot *index;
  size_t cap;             /* ring positions */
  size_t head;            /* oldest position */
  size_t used;            /* positions from head, dead ones included */
  size_t live;            /* entries held */
  size_t mask;            /* index slots - 1 */
  uint64_t max_age_ns;    /* 0: no aging */
  uint64_t last_ns;       /* latest time added; keeps the ring in order */
  uint64_t evictions;
  MeshSeenDropFunc drop;
  void *drop_data;
  uint64_t sip[4];        /* SipHash state after keying */
};

/* Every add and lookup hashes: SipHash-1-3 from the keyed state. */
static inline uint32_t
seen_hash (const MeshSeen *s, const uint8_t id[MESH_SEEN_ID_LEN])
{
  return (uint32_t) mesh_siphash13_id32 (s->sip, id);
}

static inline gboolean
seen_aged (const MeshSeen *s, uint64_t added_ns, uint64_t now_ns)
{
  return s->max_age_ns != 0 && now_ns >= added_ns
         && now_ns - added_ns >= s->max_age_ns;
}

static inline size_t
ring_pos (const MeshSeen *s, size_t k)
{
  size_t p = s->head + k;
  return p >= s->cap ? p - s->cap : p;
}

/* The index slot holding id, or SIZE_MAX.  The index is at most half
 * full, so the probe ends at an empty slot. */
static inline size_t
index_find (const MeshSeen *s, const uint8_t id[MESH_SEEN_ID_LEN],
            uint32_t h)
{
  size_t i = h & s->mask;

  for (;;)
    {
      const SeenSlot *sl = &s->index[i];

      if (sl->pos == 0)
        return SIZE_MAX;
      if (sl->hash == h
          && memcmp (s->ring[sl->pos - 1].id, id, MESH_SEEN_ID_LEN) == 0)
        return i;
      i = (i + 1) & s->mask;
    }
}

/* Empty slot i and move later members of its cluster back into the gap
 * when that brings them no further from home. */
static void
index_delete (MeshSeen *s, size_t i)
{
  size_t j = i;

  for (;;)
    {
      size_t home;

      j = (j + 1) & s->mask;
      if (s->index[j].pos == 0)
        break;
      home = s->index[j].hash & s->mask;
      /* The entry at j may fill the gap at i unless its home lies
       * cyclically in (i, j]. */
      if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
        {
          s->index[i] = s->index[j];
          i = j;
        }
    }
  s->index[i].pos = 0;
  s->index[i].hash = 0;
}

/* Take the live entry at ring position pos out of the index. */
static void
index_delete_pos (MeshSeen *s, size_t pos)
{
  uint32_t h = seen_hash (s, s->ring[pos].id);
  size_t i = h & s->mask;

  while (s->index[i].pos != pos + 1)
    i = (i + 1) & s->mask;
  index_delete (s, i);
}

static void
drop_value (MeshSeen *s, size_t pos)
{
  void *v;

  if (s->values == NULL)
    return;
  v = s->values[pos];
  s->values[pos] = NULL;
  if (s->drop)
    s->drop (s->drop_data, s->ring[pos].id, v);
}

/* Free the head position; a live entry there leaves the set.  The entry
 * is marked dead so that iterators passing over it skip it. */
static void
pop_head (MeshSeen *s, gboolean evicted)
{
  size_t pos = s->head;
  SeenEntry *e = &s->ring[pos];

  s->head = pos + 1 == s->cap ? 0 : pos + 1;
  s->used--;
  if (e->added_ns == SEEN_DEAD)
    return;
  e->added_ns = SEEN_DEAD;
  index_delete_pos (s, pos);
  s->live--;
  if (evicted)
    s->evictions++;
  drop_value (s, pos);
}

/* Release dead positions at both ends of the ring. */
static void
trim_dead (MeshSeen *s)
{
  while (s->used > 0 && s->ring[s->head].added_ns == SEEN_DEAD)
    {
      s->head = s->head + 1 == s->cap ? 0 : s->head + 1;
      s->used--;
    }
  while (s->used > 0 && s->ring[ring_pos (s, s->used - 1)].added_ns == SEEN_DEAD)
    s->used--;
}

static MeshSeen *
seen_new (uint32_t capacity, uint64_t max_age_ns,
          const uint8_t hash_key[MESH_SEEN_KEY_LEN], gboolean map,
          MeshSeenDropFunc drop, void *user_data)
{
  MeshSeen *s;
  size_t slots = 2;

  g_return_val_if_fail (capacity >= 1 && capacity <= MESH_SEEN_MAX_CAPACITY,
                        NULL);
  g_return_val_if_fail (hash_key != NULL, NULL);

  while (slots < 2 * (size_t) capacity)
    slots <<= 1;

  s = g_new0 (MeshSeen, 1);
  s->cap = capacity;
  /* Not cleared: a position is written before it is read.  Large blocks
   * come from mmap, so untouched pages cost no resident memory. */
  s->ring = g_new (SeenEntry, capacity);
  s->index = g_new0 (SeenSlot, slots);
  if (map)
    s->values = g_new0 (void *, capacity);
  s->mask = slots - 1;
  s->max_age_ns = max_age_ns;
  s->drop = drop;
  s->drop_data = user_data;
  mesh_siphash_key (hash_key, s->sip);
  return s;
}

MeshSeen *
mesh_seen_new (uint32_t capacity, uint64_t max_age_ns,
               const uint8_t hash_key[MESH_SEEN_KEY_LEN])
{
  return seen_new (capacity, max_age_ns, hash_key, FALSE, NULL, NULL);
}

MeshSeen *
mesh_seen_new_map (uint32_t capacity, uint64_t max_age_ns,
                   const uint8_t hash_key[MESH_SEEN_KEY_LEN],
                   MeshSeenDropFunc drop, void *user_data)
{
  return seen_new (capacity, max_age_ns, hash_key, TRUE, drop, user_data);
}

void
mesh_seen_free (MeshSeen *s)
{
  if (s == NULL)
    return;
  if (s->values && s->drop)
    for (size_t k = 0; k < s->used; k++)
      {
        size_t pos = ring_pos (s, k);
        if (s->ring[pos].added_ns != SEEN_DEAD)
          s->drop (s->drop_data, s->ring[pos].id, s->values[pos]);
      }
  g_free (s->ring);
  g_free (s->values);
  g_free (s->index);
  mesh_wipe (s->sip, sizeof s->sip);
  g_free (s);
}

gboolean
mesh_seen_contains (const MeshSeen *s, const uint8_t id[MESH_SEEN_ID_LEN],
                    uint64_t now_ns)
{
  size_t i;

  g_return_val_if_fail (s != NULL && id != NULL, FALSE);

  i = index_find (s, id, seen_hash (s, id));
  return i != SIZE_MAX
         && !seen_aged (s, s->ring[s->index[i].pos - 1].added_ns, now_ns);
}

void *
mesh_seen_lookup (const MeshSeen *s, const uint8_t id[MESH_SEEN_ID_LEN],
                  uint64_t now_ns)
{
  size_t i, pos;

  g_return_val_if_fail (s != NULL && id != NULL, NULL);

  if (s->values == NULL)
    return NULL;
  i = index_find (s, id, seen_hash (s, id));
  if (i == SIZE_MAX)
    return NULL;
  pos = s->index[i].pos - 1;
  return seen_aged (s, s->ring[pos].added_ns, now_ns) ? NULL : s->values[pos];
}

size_t
mesh_seen_expire (MeshSeen *s, uint64_t now_ns)
{
  size_t n = 0;

  g_return_val_if_fail (s != NULL, 0);

  while (s->used > 0)
    {
      uint64_t t = s->ring[s->head].added_ns;

      if (t != SEEN_DEAD)
        {
          if (!seen_aged (s, t, now_ns))
            break;
          n++;
        }
      pop_head (s, FALSE);
    }
  return n;
}

static gboolean
seen_put (MeshSeen *s, const uint8_t id[MESH_SEEN_ID_LEN], void *value,
          uint64_t now_ns)
{
  uint32_t h;
  size_t pos, i;
  uint64_t t;

  mesh_seen_expire (s, now_ns);
  h = seen_hash (s, id);
  if (index_find (s, id, h) != SIZE_MAX)
    return FALSE;
  if (s->used == s->cap)
    pop_head (s, TRUE);

  /* Keep times in ring order even if the caller's clock stepped back. */
  t = MAX (now_ns, s->last_ns);
  if (t == SEEN_DEAD)
    t = SEEN_DEAD - 1;
  s->last_ns = t;

  pos = ring_pos (s, s->used);
  memcpy (s->ring[pos].id, id, MESH_SEEN_ID_LEN);
  s->ring[pos].added_ns = t;
  if (s->values)
    s->values[pos] = value;
  s->used++;
  s->live++;

  i = h & s->mask;
  while (s->index[i].pos != 0)
    i = (i + 1) & s->mask;
  s->index[i].hash = h;
  s->index[i].pos = (uint32_t) pos + 1;
  return TRUE;
}

gboolean
mesh_seen_add (MeshSeen *s, const uint8_t id[MESH_SEEN_ID_LEN],
               uint64_t now_ns)
{
  g_return_val_if_fail (s != NULL && id != NULL, FALSE);
  return seen_put (s, id, NULL, now_ns);
}

gboolean
mesh_seen_insert (MeshSeen *s, const uint8_t id[MESH_SEEN_ID_LEN],
                  void *value, uint64_t now_ns)
{
  g_return_val_if_fail (s != NULL && id != NULL, FALSE);
  return seen_put (s, id, value, now_ns);
}

gboolean
mesh_seen_remove (MeshSeen *s, const uint8_t id[MESH_SEEN_ID_LEN])
{
  size_t i, pos;

  g_return_val_if_fail (s != NULL && id != NULL, FALSE);

  i = index_find (s, id, seen_hash (s, id));
  if (i == SIZE_MAX)
    return FALSE;
  pos = s->index[i].pos - 1;
  index_delete (s, i);
  s->ring[pos].added_ns = SEEN_DEAD;
  s->live--;
  drop_value (s, pos);
  trim_dead (s);
  return TRUE;
}

gboolean
mesh_seen_pop_oldest (MeshSeen *s)
{
  g_return_val_if_fail (s != NULL, FALSE);

  trim_dead (s);
  if (s->used == 0)
    return FALSE;
  pop_head (s, FALSE);
  trim_dead (s);
  return TRUE;
}

size_t
mesh_seen_count (const MeshSeen *s)
{
  g_return_val_if_fail (s != NULL, 0);
  return s->live;
}

size_t
mesh_seen_capacity (const MeshSeen *s)
{
  g_return_val_if_fail (s != NULL, 0);
  return s->cap;
}

size_t
mesh_seen_memory (const MeshSeen *s)
{
  g_return_val_if_fail (s != NULL, 0);
  return sizeof *s + s->cap * sizeof (SeenEntry)
         + (s->mask + 1) * sizeof (SeenSlot)
         + (s->values ? s->cap * sizeof (void *) : 0);
}

uint64_t
mesh_seen_evictions (const MeshSeen *s)
{
  g_return_val_if_fail (s != NULL, 0);
  return s->evictions;
}

void
mesh_seen_iter_init (MeshSeenIter *it, const MeshSeen *s)
{
  g_return_if_fail (it != NULL && s != NULL);

  it->set = s;
  it->left = s->used;
  it->pos = s->used ? ring_pos (s, s->used - 1) : 0;
}

const uint8_t *
mesh_seen_iter_next (MeshSeenIter *it, uint64_t *added_ns, void **value)
{
  const MeshSeen *s;

  g_return_val_if_fail (it != NULL && it->set != NULL, NULL);

  s = it->set;
  while (it->left > 0)
    {
      size_t pos = it->pos;
      const SeenEntry *e = &s->ring[pos];

      it->left--;
      it->pos = pos == 0 ? s->cap - 1 : pos - 1;
      if (e->added_ns == SEEN_DEAD)
        continue;
      if (added_ns)
        *added_ns = e->added_ns;
      if (value)
        *value = s->values ? s->values[pos] : NULL;
      return e->id;
    }
  return NULL;
}

size_t
mesh_seen_home_slot (const MeshSeen *s, const uint8_t id[MESH_SEEN_ID_LEN])
{
  g_return_val_if_fail (s != NULL && id != NULL, 0);
  return seen_hash (s, id) & s->mask;
}

size_t
mesh_seen_index_slots (const MeshSeen *s)
{
  g_return_val_if_fail (s != NULL, 0);
  return s->mask + 1;
}
