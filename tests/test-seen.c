/* Seen-cache: add and contains, aging, the capacity bound with eviction of
 * the oldest, constant memory under a flood, colliding IDs, removal, the
 * map form and its drop function, iteration, and a long randomized run
 * against a plain model. */
#include "config.h"

#include "engine/seen.h"
#include "engine/routes.h"
#include "testutil.h"

#define S(sec) ((uint64_t) (sec) * G_GUINT64_CONSTANT (1000000000))
#define MS(ms) ((uint64_t) (ms) * G_GUINT64_CONSTANT (1000000))

static const uint8_t test_key[MESH_SEEN_KEY_LEN] = {
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
  0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
};

static uint32_t
rng_u32 (TestRng *r)
{
  uint8_t b[4];
  test_rng (r, b, sizeof b);
  return (uint32_t) b[0] | (uint32_t) b[1] << 8 | (uint32_t) b[2] << 16
         | (uint32_t) b[3] << 24;
}

static void
make_id (uint8_t id[MESH_SEEN_ID_LEN], unsigned n)
{
  TestRng r = { .state = 0x5eed0000u + n };
  test_rng (&r, id, MESH_SEEN_ID_LEN);
}

static void
test_basic (void)
{
  g_autoptr (MeshSeen) s = mesh_seen_new (16, S (60), test_key);
  uint8_t a[32], b[32];

  make_id (a, 1);
  make_id (b, 2);
  g_assert_cmpuint (mesh_seen_count (s), ==, 0);
  g_assert_cmpuint (mesh_seen_capacity (s), ==, 16);
  g_assert_false (mesh_seen_contains (s, a, 0));
  g_assert_true (mesh_seen_add (s, a, 0));
  g_assert_false (mesh_seen_add (s, a, 1));
  g_assert_true (mesh_seen_contains (s, a, 2));
  g_assert_false (mesh_seen_contains (s, b, 2));
  g_assert_true (mesh_seen_add (s, b, 3));
  g_assert_true (mesh_seen_contains (s, b, 3));
  g_assert_cmpuint (mesh_seen_count (s), ==, 2);
  /* A set has no values. */
  g_assert_null (mesh_seen_lookup (s, a, 3));
  /* One differing bit is another ID. */
  memcpy (b, a, 32);
  b[31] ^= 1;
  g_assert_false (mesh_seen_contains (s, b, 3));
  g_assert_true (mesh_seen_add (s, b, 3));
  g_assert_cmpuint (mesh_seen_count (s), ==, 3);
  g_assert_cmpuint (mesh_seen_evictions (s), ==, 0);
}

static void
test_aging (void)
{
  g_autoptr (MeshSeen) s = mesh_seen_new (16, S (10), test_key);
  g_autoptr (MeshSeen) forever = mesh_seen_new (16, 0, test_key);
  uint8_t a[32], b[32], c[32];

  make_id (a, 1);
  make_id (b, 2);
  make_id (c, 3);
  g_assert_true (mesh_seen_add (s, a, S (100)));
  g_assert_true (mesh_seen_add (s, b, S (105)));

  /* Aged means gone, even before an expiry pass removes it. */
  g_assert_true (mesh_seen_contains (s, a, S (110) - 1));
  g_assert_false (mesh_seen_contains (s, a, S (110)));
  g_assert_true (mesh_seen_contains (s, b, S (110)));
  g_assert_cmpuint (mesh_seen_count (s), ==, 2);
  g_assert_cmpuint (mesh_seen_expire (s, S (110) - 1), ==, 0);
  g_assert_cmpuint (mesh_seen_expire (s, S (110)), ==, 1);
  g_assert_cmpuint (mesh_seen_count (s), ==, 1);

  /* A repeated add does not renew the time. */
  g_assert_false (mesh_seen_add (s, b, S (114)));
  g_assert_false (mesh_seen_contains (s, b, S (115)));

  /* An add ages out what is due first; an aged ID is new again. */
  g_assert_true (mesh_seen_add (s, a, S (115)));
  g_assert_cmpuint (mesh_seen_count (s), ==, 1);
  g_assert_true (mesh_seen_contains (s, a, S (124)));
  g_assert_cmpuint (mesh_seen_evictions (s), ==, 0);

  /* A clock that steps back is taken as the latest time: c keeps the
   * ring in order and ages with a. */
  g_assert_true (mesh_seen_add (s, c, S (50)));
  g_assert_true (mesh_seen_contains (s, c, S (124)));
  g_assert_false (mesh_seen_contains (s, c, S (125)));
  g_assert_cmpuint (mesh_seen_expire (s, S (125)), ==, 2);
  g_assert_cmpuint (mesh_seen_count (s), ==, 0);

  /* max_age 0: kept until evicted. */
  g_assert_true (mesh_seen_add (forever, a, 0));
  g_assert_true (mesh_seen_contains (forever, a, G_MAXUINT64 - 1));
  g_assert_cmpuint (mesh_seen_expire (forever, G_MAXUINT64 - 1), ==, 0);
  g_assert_false (mesh_seen_add (forever, a, G_MAXUINT64));
}

static void
test_capacity (void)
{
  const unsigned cap = 1000;
  g_autoptr (MeshSeen) s = mesh_seen_new (cap, S (3600), test_key);
  uint8_t id[32];

  for (unsigned i = 0; i < cap; i++)
    {
      make_id (id, i);
      g_assert_true (mesh_seen_add (s, id, MS (i)));
    }
  g_assert_cmpuint (mesh_seen_count (s), ==, cap);
  for (unsigned i = 0; i < cap; i++)
    {
      make_id (id, i);
      g_assert_true (mesh_seen_contains (s, id, MS (cap)));
    }

  /* Full: each new ID evicts exactly the oldest. */
  make_id (id, cap);
  g_assert_true (mesh_seen_add (s, id, MS (cap)));
  g_assert_cmpuint (mesh_seen_count (s), ==, cap);
  g_assert_cmpuint (mesh_seen_evictions (s), ==, 1);
  make_id (id, 0);
  g_assert_false (mesh_seen_contains (s, id, MS (cap)));
  make_id (id, 1);
  g_assert_true (mesh_seen_contains (s, id, MS (cap)));

  for (unsigned i = cap + 1; i <= cap + 500; i++)
    {
      make_id (id, i);
      g_assert_true (mesh_seen_add (s, id, MS (i)));
    }
  g_assert_cmpuint (mesh_seen_count (s), ==, cap);
  g_assert_cmpuint (mesh_seen_evictions (s), ==, 501);
  for (unsigned i = 0; i <= cap + 500; i++)
    {
      make_id (id, i);
      g_assert_cmpint (mesh_seen_contains (s, id, MS (cap + 500)), ==, i > 500);
    }

  /* Popping takes the oldest too. */
  g_assert_true (mesh_seen_pop_oldest (s));
  make_id (id, 501);
  g_assert_false (mesh_seen_contains (s, id, MS (cap + 500)));
  make_id (id, 502);
  g_assert_true (mesh_seen_contains (s, id, MS (cap + 500)));
  g_assert_cmpuint (mesh_seen_count (s), ==, cap - 1);

  /* Capacity 1 works. */
  {
    g_autoptr (MeshSeen) one = mesh_seen_new (1, 0, test_key);
    uint8_t a[32], b[32];

    make_id (a, 1);
    make_id (b, 2);
    g_assert_true (mesh_seen_add (one, a, 0));
    g_assert_true (mesh_seen_add (one, b, 0));
    g_assert_false (mesh_seen_contains (one, a, 0));
    g_assert_true (mesh_seen_contains (one, b, 0));
    g_assert_cmpuint (mesh_seen_count (one), ==, 1);
  }
}

/* 10x the capacity of random IDs: memory never changes, the newest
 * capacity IDs are all there and nothing older is. */
static void
test_flood_memory (void)
{
  const unsigned cap = MESH_SEEN_DEFAULT_CAPACITY;
  g_autoptr (MeshSeen) s = mesh_seen_new (cap, S (600), test_key);
  TestRng r = { .state = 77 };
  size_t mem0 = mesh_seen_memory (s);
  uint8_t id[32];
  guint64 state_at_tail;

  /* At most 56 bytes per entry, plus the structure. */
  g_assert_cmpuint (mem0, <=, (size_t) cap * 56 + 256);
  g_test_message ("seen-cache of %u IDs: %zu bytes (%.1f per entry)", cap,
                  mem0, (double) mem0 / cap);

  for (unsigned i = 0; i < 9 * cap; i++)
    {
      test_rng (&r, id, sizeof id);
      g_assert_true (mesh_seen_add (s, id, i));
      if (i % 65536 == 0)
        g_assert_cmpuint (mesh_seen_memory (s), ==, mem0);
    }
  state_at_tail = r.state;
  for (unsigned i = 0; i < cap; i++)
    {
      test_rng (&r, id, sizeof id);
      g_assert_true (mesh_seen_add (s, id, 9 * cap + i));
    }
  g_assert_cmpuint (mesh_seen_memory (s), ==, mem0);
  g_assert_cmpuint (mesh_seen_count (s), ==, cap);
  g_assert_cmpuint (mesh_seen_evictions (s), ==, 9 * (uint64_t) cap);

  /* The last cap IDs are present... */
  r.state = state_at_tail;
  for (unsigned i = 0; i < cap; i++)
    {
      test_rng (&r, id, sizeof id);
      g_assert_true (mesh_seen_contains (s, id, 10 * cap));
    }
  /* ...and the ones before them are not. */
  r.state = 77;
  for (unsigned i = 0; i < 1000; i++)
    {
      test_rng (&r, id, sizeof id);
      g_assert_false (mesh_seen_contains (s, id, 10 * cap));
    }
}

/* The index hash is keyed SipHash-1-3 (checked against the reference in
 * routes.c, itself checked against published vectors). */
static void
test_hash (void)
{
  g_autoptr (MeshSeen) s = mesh_seen_new (1u << 20, 0, test_key);
  size_t slots = mesh_seen_index_slots (s);
  uint8_t id[32];

  g_assert_cmpuint (slots, ==, 1u << 21);
  for (unsigned i = 0; i < 1000; i++)
    {
      make_id (id, i);
      g_assert_cmpuint (mesh_seen_home_slot (s, id), ==,
                        mesh_routes_siphash13 (test_key, id, 32) & (slots - 1));
    }
}

/* IDs that an attacker who knew the key would choose: all with one home
 * slot.  They still work (they only cost probe length), and under another
 * key they scatter. */
static void
test_colliding (void)
{
  const unsigned cap = 1024, n = 256;
  g_autoptr (MeshSeen) s = mesh_seen_new (cap, 0, test_key);
  uint8_t other_key[16];
  g_autoptr (MeshSeen) s2 = NULL;
  uint8_t (*ids)[32] = g_malloc ((size_t) n * 32);
  g_autoptr (GHashTable) homes = g_hash_table_new (NULL, NULL);
  TestRng r = { .state = 5 };
  size_t target, tries = 0;
  uint8_t id[32];

  g_assert_cmpuint (mesh_seen_index_slots (s), ==, 2048);
  test_rng (&r, id, sizeof id);
  target = mesh_seen_home_slot (s, id);
  for (unsigned k = 0; k < n; tries++)
    {
      test_rng (&r, id, sizeof id);
      if (mesh_seen_home_slot (s, id) == target)
        memcpy (ids[k++], id, 32);
    }
  g_test_message ("%u colliding IDs from %zu tries", n, tries);

  for (unsigned k = 0; k < n; k++)
    g_assert_true (mesh_seen_add (s, ids[k], k));
  for (unsigned k = 0; k < n; k++)
    g_assert_false (mesh_seen_add (s, ids[k], n));
  /* Remove every other one from the middle of the cluster. */
  for (unsigned k = 0; k < n; k += 2)
    g_assert_true (mesh_seen_remove (s, ids[k]));
  for (unsigned k = 0; k < n; k++)
    g_assert_cmpint (mesh_seen_contains (s, ids[k], n), ==, k % 2 == 1);
  g_assert_cmpuint (mesh_seen_count (s), ==, n / 2);
  /* Fill with ordinary IDs until all colliding ones are evicted. */
  for (unsigned i = 0; i < 2 * cap; i++)
    {
      make_id (id, i);
      mesh_seen_add (s, id, n + i);
      if (i == cap / 2)
        for (unsigned k = 1; k < n; k += 2)
          g_assert_true (mesh_seen_contains (s, ids[k], n + i));
    }
  for (unsigned k = 0; k < n; k++)
    g_assert_false (mesh_seen_contains (s, ids[k], 3 * cap));
  g_assert_cmpuint (mesh_seen_count (s), ==, cap);
  for (unsigned i = cap; i < 2 * cap; i++)
    {
      make_id (id, i);
      g_assert_true (mesh_seen_contains (s, id, 3 * cap));
    }

  /* Another key, another layout. */
  for (unsigned i = 0; i < 16; i++)
    other_key[i] = (uint8_t) (0xa0 + i);
  s2 = mesh_seen_new (cap, 0, other_key);
  for (unsigned k = 0; k < n; k++)
    g_hash_table_add (homes, GSIZE_TO_POINTER (mesh_seen_home_slot (s2, ids[k]) + 1));
  g_assert_cmpuint (g_hash_table_size (homes), >, n * 3 / 4);

  /* IDs that look alike (one byte apart, sharing long prefixes) are
   * distinct entries. */
  {
    g_autoptr (MeshSeen) s3 = mesh_seen_new (cap, 0, test_key);
    uint8_t base[32] = { 0 };

    for (unsigned pos = 0; pos < 32; pos++)
      for (unsigned v = 1; v <= 16; v++)
        {
          memset (id, 0, sizeof id);
          id[pos] = (uint8_t) v;
          g_assert_true (mesh_seen_add (s3, id, 0));
        }
    g_assert_true (mesh_seen_add (s3, base, 0));
    g_assert_cmpuint (mesh_seen_count (s3), ==, 32 * 16 + 1);
    for (unsigned pos = 0; pos < 32; pos++)
      {
        memset (id, 0, sizeof id);
        id[pos] = 17;
        g_assert_false (mesh_seen_contains (s3, id, 0));
        id[pos] = 16;
        g_assert_true (mesh_seen_contains (s3, id, 0));
      }
  }
  g_free (ids);
}

static void
test_remove (void)
{
  g_autoptr (MeshSeen) s = mesh_seen_new (4, S (10), test_key);
  uint8_t id[8][32];

  for (unsigned i = 0; i < 8; i++)
    make_id (id[i], i);
  g_assert_false (mesh_seen_remove (s, id[0]));
  for (unsigned i = 0; i < 4; i++)
    g_assert_true (mesh_seen_add (s, id[i], S (i)));
  g_assert_true (mesh_seen_remove (s, id[1]));
  g_assert_false (mesh_seen_remove (s, id[1]));
  g_assert_false (mesh_seen_contains (s, id[1], S (4)));
  g_assert_cmpuint (mesh_seen_count (s), ==, 3);
  /* The dead position in the middle still holds its place: the ring is
   * full, so the next add moves the head, evicting id[0]. */
  g_assert_true (mesh_seen_add (s, id[4], S (4)));
  g_assert_false (mesh_seen_contains (s, id[0], S (4)));
  g_assert_cmpuint (mesh_seen_evictions (s), ==, 1);
  /* The next one frees the dead position without evicting anyone. */
  g_assert_true (mesh_seen_add (s, id[5], S (5)));
  g_assert_cmpuint (mesh_seen_evictions (s), ==, 1);
  g_assert_cmpuint (mesh_seen_count (s), ==, 4);
  for (unsigned i = 2; i <= 5; i++)
    g_assert_true (mesh_seen_contains (s, id[i], S (5)));
  /* The newest and the oldest: the ends are trimmed at once. */
  g_assert_true (mesh_seen_remove (s, id[5]));
  g_assert_true (mesh_seen_remove (s, id[2]));
  g_assert_cmpuint (mesh_seen_count (s), ==, 2);
  g_assert_true (mesh_seen_add (s, id[1], S (6)));
  g_assert_true (mesh_seen_add (s, id[0], S (6)));
  g_assert_cmpuint (mesh_seen_evictions (s), ==, 1);
  g_assert_cmpuint (mesh_seen_count (s), ==, 4);
  /* Removed and re-added IDs age from their new time. */
  g_assert_cmpuint (mesh_seen_expire (s, S (14)), ==, 2);
  g_assert_true (mesh_seen_contains (s, id[1], S (15)));
  g_assert_false (mesh_seen_contains (s, id[1], S (16)));
  while (mesh_seen_pop_oldest (s))
    ;
  g_assert_cmpuint (mesh_seen_count (s), ==, 0);
}

typedef struct {
  GHashTable *dropped;   /* value -> times dropped */
  unsigned drops;
} DropLog;

static void
log_drop (void *user_data, const uint8_t *id, void *value)
{
  DropLog *log = user_data;
  unsigned n = GPOINTER_TO_UINT (g_hash_table_lookup (log->dropped, value));

  /* Each value leaves once, with its own ID (id[0] == value here). */
  g_assert_cmpuint (id[0], ==, GPOINTER_TO_UINT (value) & 0xff);
  g_hash_table_insert (log->dropped, value, GUINT_TO_POINTER (n + 1));
  log->drops++;
}

static void
tagged_id (uint8_t id[32], unsigned v)
{
  make_id (id, v);
  id[0] = (uint8_t) v;
}

static void
test_map (void)
{
  DropLog log = { g_hash_table_new (NULL, NULL), 0 };
  MeshSeen *m = mesh_seen_new_map (8, S (10), test_key, log_drop, &log);
  g_autoptr (MeshSeen) set = mesh_seen_new (8, S (10), test_key);
  uint8_t id[32];

  /* Values cost memory only in the map form. */
  g_assert_cmpuint (mesh_seen_memory (m), ==, mesh_seen_memory (set) + 8 * sizeof (void *));

  for (unsigned v = 1; v <= 8; v++)
    {
      tagged_id (id, v);
      g_assert_true (mesh_seen_insert (m, id, GUINT_TO_POINTER (v), S (v)));
    }
  tagged_id (id, 3);
  g_assert_true (mesh_seen_lookup (m, id, S (9)) == GUINT_TO_POINTER (3));
  /* Present: the stored value stays. */
  g_assert_false (mesh_seen_insert (m, id, GUINT_TO_POINTER (99), S (9)));
  g_assert_true (mesh_seen_lookup (m, id, S (9)) == GUINT_TO_POINTER (3));
  /* Aged: no value, though still held. */
  g_assert_null (mesh_seen_lookup (m, id, S (13)));
  g_assert_cmpuint (log.drops, ==, 0);

  /* Eviction drops the oldest. */
  tagged_id (id, 9);
  g_assert_true (mesh_seen_insert (m, id, GUINT_TO_POINTER (9), S (10)));
  g_assert_cmpuint (log.drops, ==, 1);
  g_assert_true (g_hash_table_contains (log.dropped, GUINT_TO_POINTER (1)));
  /* Removal drops. */
  tagged_id (id, 5);
  g_assert_true (mesh_seen_remove (m, id));
  g_assert_cmpuint (log.drops, ==, 2);
  g_assert_true (g_hash_table_contains (log.dropped, GUINT_TO_POINTER (5)));
  /* Expiry drops 2, 3 and 4 (aged at 14 s). */
  g_assert_cmpuint (mesh_seen_expire (m, S (14)), ==, 3);
  g_assert_cmpuint (log.drops, ==, 5);
  /* Free drops the rest: 6, 7, 8, 9. */
  mesh_seen_free (m);
  g_assert_cmpuint (log.drops, ==, 9);
  for (unsigned v = 1; v <= 9; v++)
    g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (log.dropped,
                                                             GUINT_TO_POINTER (v))),
                      ==, 1);
  g_hash_table_unref (log.dropped);
}

static void
test_iter (void)
{
  g_autoptr (MeshSeen) m = mesh_seen_new_map (6, 0, test_key, NULL, NULL);
  MeshSeenIter it;
  const uint8_t *p;
  uint64_t t;
  void *v;
  unsigned expect;
  uint8_t id[32];

  mesh_seen_iter_init (&it, m);
  g_assert_null (mesh_seen_iter_next (&it, NULL, NULL));

  /* Wrap the ring: 10 inserts into 6 positions leave 5..10. */
  for (unsigned v0 = 1; v0 <= 10; v0++)
    {
      tagged_id (id, v0);
      mesh_seen_insert (m, id, GUINT_TO_POINTER (v0), S (v0));
    }
  expect = 10;
  mesh_seen_iter_init (&it, m);
  while ((p = mesh_seen_iter_next (&it, &t, &v)))
    {
      g_assert_cmpuint (GPOINTER_TO_UINT (v), ==, expect);
      g_assert_cmpuint (p[0], ==, expect);
      g_assert_cmpuint (t, ==, S (expect));
      expect--;
    }
  g_assert_cmpuint (expect, ==, 4);

  /* Removing during the walk (the current entry and others) is safe. */
  expect = 0;
  mesh_seen_iter_init (&it, m);
  while ((p = mesh_seen_iter_next (&it, NULL, &v)))
    {
      unsigned val = GPOINTER_TO_UINT (v);

      expect++;
      if (val == 9)
        {
          tagged_id (id, 7);
          g_assert_true (mesh_seen_remove (m, id));
          g_assert_true (mesh_seen_pop_oldest (m));  /* 5 */
        }
      g_assert_cmpuint (val, !=, 7);
      g_assert_cmpuint (val, !=, 5);
      if (val % 2 == 0)
        {
          memcpy (id, p, 32);
          g_assert_true (mesh_seen_remove (m, id));
        }
    }
  /* 10, 9, 8, 6 visited; 9 is all that is left. */
  g_assert_cmpuint (expect, ==, 4);
  g_assert_cmpuint (mesh_seen_count (m), ==, 1);
  tagged_id (id, 9);
  g_assert_true (mesh_seen_contains (m, id, 0));
}

/* Random operations checked against a model of the documented behaviour:
 * a queue of (ID, time, live) positions of fixed capacity, and a table of
 * the live ones. */
typedef struct {
  unsigned n;
  uint64_t t;
  gboolean live;
} ModelPos;

typedef struct {
  GQueue q;
  GHashTable *live;   /* n + 1 -> ModelPos */
  uint64_t max_age;
} Model;

static void
model_pop (Model *m, gboolean from_tail)
{
  ModelPos *p = from_tail ? g_queue_pop_tail (&m->q) : g_queue_pop_head (&m->q);

  if (p->live)
    g_hash_table_remove (m->live, GUINT_TO_POINTER (p->n + 1));
  g_free (p);
}

/* Pop dead and aged positions from the head; returns the live ones. */
static size_t
model_expire (Model *m, uint64_t now)
{
  size_t n = 0;

  while (!g_queue_is_empty (&m->q))
    {
      ModelPos *h = g_queue_peek_head (&m->q);
      if (h->live && now - h->t < m->max_age)
        break;
      n += h->live;
      model_pop (m, FALSE);
    }
  return n;
}

static void
test_random_vs_model (void)
{
  const unsigned cap = 512, universe = 1500;
  Model m = { G_QUEUE_INIT, g_hash_table_new (NULL, NULL), 3000 };
  g_autoptr (MeshSeen) s = mesh_seen_new (cap, m.max_age, test_key);
  TestRng r = { .state = 1234 };
  uint64_t now = 0, last = 0, evictions = 0, aged = 0;
  unsigned steps = g_test_quick () ? 100000 : 400000;

  for (unsigned step = 0; step < steps; step++)
    {
      uint32_t x = rng_u32 (&r);
      unsigned n = rng_u32 (&r) % universe;
      uint8_t id[32];
      ModelPos *found;

      make_id (id, n);
      /* Mostly small steps (the set fills and evicts), now and then a
       * jump (entries age). */
      now += (x & 0x3ff) == 0 ? 2500 : x % 4;
      found = g_hash_table_lookup (m.live, GUINT_TO_POINTER (n + 1));

      switch (x >> 29)
        {
        case 0: case 1: case 2: case 3:  /* add: expire first */
          aged += model_expire (&m, now);
          found = g_hash_table_lookup (m.live, GUINT_TO_POINTER (n + 1));
          if (found == NULL)
            {
              ModelPos *p = g_new (ModelPos, 1);

              if (m.q.length == cap)
                {
                  evictions++;
                  model_pop (&m, FALSE);
                }
              last = MAX (last, now);
              p->n = n;
              p->t = last;
              p->live = TRUE;
              g_queue_push_tail (&m.q, p);
              g_hash_table_insert (m.live, GUINT_TO_POINTER (n + 1), p);
            }
          g_assert_cmpint (mesh_seen_add (s, id, now), ==, found == NULL);
          break;
        case 4: case 5:  /* contains */
          g_assert_cmpint (mesh_seen_contains (s, id, now), ==,
                           found != NULL && now - found->t < m.max_age);
          break;
        case 6:  /* remove */
          g_assert_cmpint (mesh_seen_remove (s, id), ==, found != NULL);
          if (found)
            {
              found->live = FALSE;
              g_hash_table_remove (m.live, GUINT_TO_POINTER (n + 1));
              while (!g_queue_is_empty (&m.q)
                     && !((ModelPos *) g_queue_peek_head (&m.q))->live)
                model_pop (&m, FALSE);
              while (!g_queue_is_empty (&m.q)
                     && !((ModelPos *) g_queue_peek_tail (&m.q))->live)
                model_pop (&m, TRUE);
            }
          break;
        default:  /* expire, rarely, so that aged entries linger */
          if (x % 16 == 0)
            {
              size_t n_aged = model_expire (&m, now);
              g_assert_cmpuint (mesh_seen_expire (s, now), ==, n_aged);
              aged += n_aged;
            }
          break;
        }

      if (step % 1024 == 0)
        {
          g_assert_cmpuint (mesh_seen_count (s), ==, g_hash_table_size (m.live));
          g_assert_cmpuint (mesh_seen_evictions (s), ==, evictions);
        }
    }
  g_assert_cmpuint (evictions, >, 0);
  g_assert_cmpuint (aged, >, 0);
  g_queue_clear_full (&m.q, g_free);
  g_hash_table_unref (m.live);
}

static void
test_speed (void)
{
  const unsigned cap = MESH_SEEN_DEFAULT_CAPACITY, n = 400000;
  g_autoptr (MeshSeen) s = mesh_seen_new (cap, S (600), test_key);
  uint8_t (*ids)[32] = g_malloc ((size_t) n * 32);
  TestRng r = { .state = 9 };
  gint64 t0, t1, t2;
  unsigned hits = 0;

  test_rng (&r, (uint8_t *) ids, (size_t) n * 32);
  t0 = g_get_monotonic_time ();
  for (unsigned i = 0; i < n; i++)
    mesh_seen_add (s, ids[i], i);
  t1 = g_get_monotonic_time ();
  for (unsigned i = 0; i < n; i++)
    hits += mesh_seen_contains (s, ids[i], n);
  t2 = g_get_monotonic_time ();
  /* Only the newest cap are held: the count is exact, the time is for
   * information (not asserted: machines differ). */
  g_assert_cmpuint (hits, ==, cap);
  g_test_message ("add (full, evicting) %.0f ns, contains %.0f ns",
                  (t1 - t0) * 1000.0 / n, (t2 - t1) * 1000.0 / n);
  g_free (ids);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/seen/basic", test_basic);
  g_test_add_func ("/seen/aging", test_aging);
  g_test_add_func ("/seen/capacity", test_capacity);
  g_test_add_func ("/seen/flood-memory", test_flood_memory);
  g_test_add_func ("/seen/hash", test_hash);
  g_test_add_func ("/seen/colliding", test_colliding);
  g_test_add_func ("/seen/remove", test_remove);
  g_test_add_func ("/seen/map", test_map);
  g_test_add_func ("/seen/iter", test_iter);
  g_test_add_func ("/seen/random-vs-model", test_random_vs_model);
  g_test_add_func ("/seen/speed", test_speed);
  return g_test_run ();
}
