/* The driver shared by the fuzz targets.
 *
 * - Normal build: a make-check program that replays every file in
 *   $(srcdir)/fuzz/<target>.in/ (seed corpus) and <target>.repro/ (inputs
 *   that once crashed) and prints TAP.  Arguments starting with "--" (the
 *   test driver passes --tap) are ignored; other arguments name files to
 *   run instead, for triage.
 * - AFL++ (afl-clang-fast/afl-clang-lto without -fsanitize=fuzzer):
 *   persistent mode with the test case in shared memory.
 * - libFuzzer (MESH_FUZZ_ENGINE defined, see fuzz/local.mk): the engine
 *   brings main().  Started with --tap, as make check does, the target
 *   still replays its corpus and exits (from LLVMFuzzerInitialize), so a
 *   tree whose targets were linked with the engine keeps a working make
 *   check instead of one that fuzzes forever. */
#include "config.h"

#include "fuzz.h"

#if defined(__AFL_FUZZ_TESTCASE_LEN) && !defined(MESH_FUZZ_ENGINE)

#include <unistd.h>

__AFL_FUZZ_INIT ();

int
main (int argc, char **argv)
{
  unsigned char *buf;

  __AFL_INIT ();
  buf = __AFL_FUZZ_TESTCASE_BUF;
  while (__AFL_LOOP (100000))
    LLVMFuzzerTestOneInput (buf, (size_t) __AFL_FUZZ_TESTCASE_LEN);
  return 0;
}

#else

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

static gint
compare_paths (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Files of dir (hidden ones skipped), appended to files. */
static void
collect (GPtrArray *files, const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      char *path;

      if (name[0] == '.')
        continue;
      path = g_build_filename (dir, name, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (files, path);
      else
        g_free (path);
    }
  g_dir_close (d);
}

/* Run the files named in argv (skipping options), or the corpus. */
static int
replay (int argc, char **argv, const char *option_prefix)
{
  GPtrArray *files = g_ptr_array_new_with_free_func (g_free);
  gsize prefix = strlen (FUZZ_SRCDIR) + 1;
  int failed = 0;

  for (int i = 1; i < argc; i++)
    if (strncmp (argv[i], option_prefix, strlen (option_prefix)) != 0)
      g_ptr_array_add (files, g_strdup (argv[i]));

  if (files->len == 0)
    {
      collect (files, FUZZ_SRCDIR "/" FUZZ_TARGET ".in");
      collect (files, FUZZ_SRCDIR "/" FUZZ_TARGET ".repro");
      g_ptr_array_sort (files, compare_paths);
    }
  else
    prefix = 0;

  if (files->len == 0)
    {
      printf ("1..0 # SKIP no corpus in %s/%s.in\n", FUZZ_SRCDIR, FUZZ_TARGET);
      g_ptr_array_unref (files);
      return 0;
    }

  printf ("1..%u\n", files->len);
  for (guint i = 0; i < files->len; i++)
    {
      const char *path = files->pdata[i];
      const char *shown = strlen (path) > prefix ? path + prefix : path;
      GError *error = NULL;
      gchar *data;
      gsize len;

      if (!g_file_get_contents (path, &data, &len, &error))
        {
          printf ("not ok %u - %s # %s\n", i + 1, shown, error->message);
          g_clear_error (&error);
          failed = 1;
          continue;
        }
      /* Named before it runs: a crash then points at its input. */
      printf ("# %s (%" G_GSIZE_FORMAT " bytes)\n", shown, len);
      fflush (stdout);
      LLVMFuzzerTestOneInput ((const uint8_t *) data, len);
      g_free (data);
      printf ("ok %u - %s\n", i + 1, shown);
    }
  g_ptr_array_unref (files);
  return failed;
}

#if defined(MESH_FUZZ_ENGINE)

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  for (int i = 1; i < *argc; i++)
    if (strcmp ((*argv)[i], "--tap") == 0)
      /* Engine flags start with one dash. */
      exit (replay (*argc, *argv, "-"));
  return 0;
}

#else

int
main (int argc, char **argv)
{
  return replay (argc, argv, "--");
}

#endif
#endif
