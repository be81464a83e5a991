/* A program outside the tree, built only with `pkg-config --cflags --libs
 * meshara`: two nodes on 127.0.0.1 exchange a private message over TLS.
 * Exit 0 when the message arrived intact and was acknowledged, 1 with a
 * reason otherwise. */
#include <meshara/meshara.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEADLINE_S 20

typedef struct {
  GMainLoop *loop;
  char *received;
  gboolean delivered;
  const char *waiting_for;
} State;

static void
on_private (MesharaNode *node, const char *sender, const char *message_id,
            GBytes *data, gpointer user_data)
{
  State *st = user_data;
  gsize len;
  const char *p = g_bytes_get_data (data, &len);

  st->received = g_strndup (p, len);
  if (st->delivered)
    g_main_loop_quit (st->loop);
}

static void
on_delivered (MesharaNode *node, const char *message_id, guint64 latency_us,
              gpointer user_data)
{
  State *st = user_data;

  st->delivered = TRUE;
  if (st->received)
    g_main_loop_quit (st->loop);
}

static void
on_peer (MesharaNode *node, const char *key, gpointer user_data)
{
  State *st = user_data;

  if (st->waiting_for && strcmp (st->waiting_for, "link") == 0)
    g_main_loop_quit (st->loop);
}

static gboolean
on_deadline (gpointer user_data)
{
  State *st = user_data;

  fprintf (stderr, "consumer: no %s within %d s\n", st->waiting_for,
           DEADLINE_S);
  exit (1);
}

int
main (void)
{
  State st = { 0 };
  MesharaNode *a, *b;
  GError *error = NULL;
  char *b_key, *address, *id;
  const char *text = "hello from a program outside the tree";

  printf ("libmeshara %s\n", meshara_version_string ());
  st.loop = g_main_loop_new (NULL, FALSE);
  a = meshara_node_new (meshara_identity_new ());
  b = meshara_node_new (meshara_identity_new ());
  meshara_node_set_listen_address (a, "127.0.0.1:0");
  meshara_node_set_listen_address (b, "127.0.0.1:0");
  if (!meshara_node_start (a, &error) || !meshara_node_start (b, &error))
    {
      fprintf (stderr, "consumer: start: %s\n", error->message);
      return 1;
    }
  g_signal_connect (b, "private-message", G_CALLBACK (on_private), &st);
  g_signal_connect (a, "delivered", G_CALLBACK (on_delivered), &st);
  g_signal_connect (a, "peer-connected", G_CALLBACK (on_peer), &st);
  g_timeout_add_seconds (DEADLINE_S, on_deadline, &st);

  b_key = meshara_identity_get_public_key (meshara_node_get_identity (b));
  address = g_strdup_printf ("127.0.0.1:%u", meshara_node_get_port (b));
  if (!meshara_node_add_peer (a, address, b_key, &error))
    {
      fprintf (stderr, "consumer: add peer: %s\n", error->message);
      return 1;
    }
  st.waiting_for = "link";
  g_main_loop_run (st.loop);

  id = meshara_node_send_private (a, b_key, (const guint8 *) text,
                                  strlen (text), &error);
  if (id == NULL)
    {
      fprintf (stderr, "consumer: send: %s\n", error->message);
      return 1;
    }
  st.waiting_for = "message and acknowledgment";
  g_main_loop_run (st.loop);
  if (strcmp (st.received, text) != 0)
    {
      fprintf (stderr, "consumer: received \"%s\", sent \"%s\"\n",
               st.received, text);
      return 1;
    }
  printf ("private message %s delivered and acknowledged\n", id);

  meshara_node_stop (a);
  meshara_node_stop (b);
  g_object_unref (a);
  g_object_unref (b);
  g_free (id);
  g_free (address);
  g_free (b_key);
  g_free (st.received);
  g_main_loop_unref (st.loop);
  return 0;
}
