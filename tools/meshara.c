/* meshara: the command-line tool.  main() dispatches to one function per
 * subcommand (cmd-*.c); this file also holds the helpers they share. */
#include "config.h"

#include "meshara-tool.h"

#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* One row per subcommand, in the order "meshara --help" lists them. */
static const ToolCommand tool_commands[] = {
  { "keygen", "create a new identity in a data directory", tool_cmd_keygen },
  { "id", "show the public key, node ID and fingerprint of an identity",
    tool_cmd_id },
  { "node", "run a node in the foreground and print what arrives",
    tool_cmd_node },
  { "send", "send a private message through the running node", tool_cmd_send },
  { "broadcast", "broadcast a message through the running node",
    tool_cmd_broadcast },
  { "peers", "show how many peers the running node has", tool_cmd_peers },
  { "demo", "run a small mesh over TLS on loopback and show it working",
    tool_cmd_demo },
  { "sim", "run a simulated network of many nodes and check what arrives",
    tool_cmd_sim },
  { "trust", "add, remove or list the update authorities a node trusts",
    tool_cmd_trust },
  { "publish-update", "sign an update as an authority", tool_cmd_publish_update },
  { "updates", "list the updates a data directory holds and check them",
    tool_cmd_updates },
};

/* The subcommand being run, for the "meshara CMD:" prefix of messages. */
static const char *current_command;

static void
print_usage (FILE *out)
{
  int width = 0;

  for (gsize i = 0; i < G_N_ELEMENTS (tool_commands); i++)
    width = MAX (width, (int) strlen (tool_commands[i].name));

  fprintf (out,
           "Usage: meshara COMMAND [OPTION...] [ARGUMENT...]\n"
           "       meshara --help | --version\n"
           "\n"
           "End-to-end encrypted messaging over a mesh of TLS links.\n"
           "\n"
           "Commands:\n");
  for (gsize i = 0; i < G_N_ELEMENTS (tool_commands); i++)
    fprintf (out, "  %-*s  %s\n", width, tool_commands[i].name,
             tool_commands[i].summary);
  fprintf (out,
           "\n"
           "Run 'meshara COMMAND --help' for the options of a command.\n");
}

static const ToolCommand *
find_command (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (tool_commands); i++)
    if (strcmp (tool_commands[i].name, name) == 0)
      return &tool_commands[i];
  return NULL;
}

/* A command's output is only delivered once stdout is flushed; a full
 * disk or a closed pipe must not pass for success. */
static int
finish_output (int status)
{
  if (fflush (stdout) != 0 || ferror (stdout))
    {
      int saved_errno = errno;
      fprintf (stderr, "meshara%s%s: writing output: %s\n",
               current_command ? " " : "",
               current_command ? current_command : "",
               g_strerror (saved_errno));
      return TOOL_EXIT_FAILURE;
    }
  return status;
}

static int
run_command (const ToolCommand *command, int argc, char **argv)
{
  char *prgname;

  current_command = command->name;
  /* GOption prints the program name in its usage line. */
  prgname = g_strdup_printf ("meshara %s", command->name);
  g_set_prgname (prgname);
  g_free (prgname);

  return finish_output (command->run (argc, argv));
}

static int
unknown_command (const char *name)
{
  fprintf (stderr, "meshara: unknown command '%s'\n\n", name);
  print_usage (stderr);
  return TOOL_EXIT_USAGE;
}

int
main (int argc, char **argv)
{
  const ToolCommand *command;
  const char *name;

  setlocale (LC_ALL, "");

  if (argc < 2)
    {
      print_usage (stderr);
      return TOOL_EXIT_USAGE;
    }

  name = argv[1];
  if (strcmp (name, "help") == 0 && argc > 2)
    {
      /* "meshara help CMD" is "meshara CMD --help". */
      char *help_argv[] = { argv[2], (char *) "--help", NULL };

      if (argc > 3)
        {
          fprintf (stderr, "meshara: help takes at most one command\n");
          return TOOL_EXIT_USAGE;
        }
      command = find_command (argv[2]);
      if (command == NULL)
        return unknown_command (argv[2]);
      return run_command (command, 2, help_argv);
    }
  if (strcmp (name, "help") == 0 || strcmp (name, "--help") == 0
      || strcmp (name, "-h") == 0)
    {
      print_usage (stdout);
      return finish_output (TOOL_EXIT_OK);
    }
  if (strcmp (name, "--version") == 0 || strcmp (name, "-V") == 0)
    {
      printf ("meshara %s (libmeshara %s)\n", PACKAGE_VERSION,
              meshara_version_string ());
      return finish_output (TOOL_EXIT_OK);
    }
  if (name[0] == '-')
    {
      fprintf (stderr, "meshara: unknown option '%s' (options follow the "
               "command)\n\n", name);
      print_usage (stderr);
      return TOOL_EXIT_USAGE;
    }

  command = find_command (name);
  if (command == NULL)
    return unknown_command (name);
  return run_command (command, argc - 1, argv + 1);
}

/* Messages */

static void
print_message (const char *format, va_list args)
{
  char *message = g_strdup_vprintf (format, args);

  if (current_command != NULL)
    fprintf (stderr, "meshara %s: %s\n", current_command, message);
  else
    fprintf (stderr, "meshara: %s\n", message);
  g_free (message);
}

int
tool_error (const char *format, ...)
{
  va_list args;

  va_start (args, format);
  print_message (format, args);
  va_end (args);
  return TOOL_EXIT_FAILURE;
}

int
tool_usage_error (const char *format, ...)
{
  va_list args;

  va_start (args, format);
  print_message (format, args);
  va_end (args);
  fprintf (stderr, "Try 'meshara %s --help' for its options.\n",
           current_command ? current_command : "");
  return TOOL_EXIT_USAGE;
}

/* Options */

GOptionContext *
tool_option_context_new (const char *parameters, const char *summary,
                         const char *description, const GOptionEntry *entries)
{
  GOptionContext *context = g_option_context_new (parameters);

  g_option_context_add_main_entries (context, entries, NULL);
  if (summary != NULL)
    g_option_context_set_summary (context, summary);
  if (description != NULL)
    g_option_context_set_description (context, description);
  return context;
}

gboolean
tool_parse_options (GOptionContext *context, int *argc, char ***argv)
{
  GError *error = NULL;

  if (g_option_context_parse (context, argc, argv, &error))
    return TRUE;
  tool_usage_error ("%s", error->message);
  g_error_free (error);
  return FALSE;
}

int
tool_parse_data_options (GOptionContext *context, int *argc, char ***argv,
                         char *const *data_dir)
{
  if (!tool_parse_options (context, argc, argv))
    return TOOL_EXIT_USAGE;
  if (*argc > 1)
    return tool_usage_error ("unexpected argument '%s'", (*argv)[1]);
  if (*data_dir == NULL || **data_dir == '\0')
    return tool_usage_error ("--data DIR is required");
  return 0;
}

/* Files */

char *
tool_keystore_path (const char *data_dir)
{
  return g_build_filename (data_dir, TOOL_KEYSTORE_NAME, NULL);
}

/* Quote a path for a command line shown to the user only when it needs
 * it, so the common case stays readable. */
static char *
shell_word (const char *s)
{
  if (*s == '\0' || s[strspn (s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "abcdefghijklmnopqrstuvwxyz"
                                 "0123456789_./+-=:,@%")] != '\0')
    return g_shell_quote (s);
  return g_strdup (s);
}

/* Passphrases */

static void
wipe (void *p, gsize n)
{
#ifdef HAVE_EXPLICIT_BZERO
  explicit_bzero (p, n);
#else
  volatile unsigned char *v = p;
  while (n--)
    *v++ = 0;
#endif
}

/* Terminal state to restore if a signal ends the process while echo is
 * off; otherwise the user's shell would be left typing blind. */
static struct termios saved_termios;
static volatile sig_atomic_t echo_disabled;

static const int restore_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

static void
restore_echo_on_signal (int sig)
{
  if (echo_disabled)
    tcsetattr (STDIN_FILENO, TCSAFLUSH, &saved_termios);
  /* SA_RESETHAND put the default action back: this ends the process
   * once the handler returns. */
  raise (sig);
}

/* Read one line from the terminal on stdin with echo off into BUF (SIZE
 * bytes, NUL-terminated).  read(2) byte by byte so that no copy of the
 * passphrase lingers in a stdio buffer. */
static gboolean
read_noecho (const char *prompt, char *buf, gsize size, GError **error)
{
  struct sigaction action, old_actions[G_N_ELEMENTS (restore_signals)];
  struct termios noecho;
  gsize len = 0;
  char c = 0;
  gboolean too_long = FALSE, at_eof = FALSE;
  int read_errno = 0;

  if (tcgetattr (STDIN_FILENO, &saved_termios) != 0)
    {
      int saved_errno = errno;
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                   "cannot read the terminal settings: %s",
                   g_strerror (saved_errno));
      return FALSE;
    }

  memset (&action, 0, sizeof action);
  action.sa_handler = restore_echo_on_signal;
  action.sa_flags = SA_RESETHAND;
  sigemptyset (&action.sa_mask);
  for (gsize i = 0; i < G_N_ELEMENTS (restore_signals); i++)
    sigaction (restore_signals[i], &action, &old_actions[i]);

  noecho = saved_termios;
  noecho.c_lflag &= ~(tcflag_t) ECHO;
  echo_disabled = 1;
  /* TCSAFLUSH drops anything typed before the prompt appears; the prompt
   * comes after it, so an answer to the prompt is never dropped. */
  tcsetattr (STDIN_FILENO, TCSAFLUSH, &noecho);
  fputs (prompt, stderr);
  fflush (stderr);

  for (;;)
    {
      ssize_t n = read (STDIN_FILENO, &c, 1);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          read_errno = errno;
          break;
        }
      if (n == 0)
        {
          at_eof = TRUE;
          break;
        }
      if (c == '\n')
        break;
      if (len + 1 < size)
        buf[len++] = c;
      else
        too_long = TRUE;
    }
  buf[len] = '\0';
  wipe (&c, sizeof c);

  tcsetattr (STDIN_FILENO, TCSAFLUSH, &saved_termios);
  echo_disabled = 0;
  for (gsize i = 0; i < G_N_ELEMENTS (restore_signals); i++)
    sigaction (restore_signals[i], &old_actions[i], NULL);
  /* The newline the user typed was not echoed. */
  fputc ('\n', stderr);

  if (read_errno != 0)
    g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_IO,
                 "cannot read the passphrase from the terminal: %s",
                 g_strerror (read_errno));
  else if (too_long)
    g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                 "passphrase longer than %" G_GSIZE_FORMAT " bytes", size - 1);
  else if (at_eof && len == 0)
    g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_PASSPHRASE_REQUIRED,
                 "no passphrase entered");
  else
    return TRUE;

  wipe (buf, size);
  return FALSE;
}

char *
tool_passphrase_get (const char *prompt, gboolean confirm, const char *hint,
                     ToolPassphraseSource *source, GError **error)
{
  const char *env = g_getenv (TOOL_PASSPHRASE_ENV);
  char *first, *second;

  if (env != NULL)
    {
      if (*env == '\0')
        {
          g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                       "%s is set but empty; set it to a passphrase%s",
                       TOOL_PASSPHRASE_ENV, hint ? hint : "");
          return NULL;
        }
      if (source != NULL)
        *source = TOOL_PASSPHRASE_FROM_ENV;
      return g_strdup (env);
    }

  if (!isatty (STDIN_FILENO))
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_PASSPHRASE_REQUIRED,
                   "%s is unset and stdin is not a terminal to ask for a "
                   "passphrase; set %s%s", TOOL_PASSPHRASE_ENV,
                   TOOL_PASSPHRASE_ENV, hint ? hint : "");
      return NULL;
    }

  first = g_malloc0 (TOOL_PASSPHRASE_MAX + 1);
  if (!read_noecho (prompt, first, TOOL_PASSPHRASE_MAX + 1, error))
    {
      g_free (first);
      return NULL;
    }
  if (*first == '\0')
    {
      g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                   "an empty passphrase is refused; enter one%s",
                   hint ? hint : "");
      g_free (first);
      return NULL;
    }

  if (confirm)
    {
      gboolean same;

      second = g_malloc0 (TOOL_PASSPHRASE_MAX + 1);
      if (!read_noecho ("Repeat the passphrase: ", second,
                        TOOL_PASSPHRASE_MAX + 1, error))
        {
          tool_passphrase_free (first);
          g_free (second);
          return NULL;
        }
      same = strcmp (first, second) == 0;
      tool_passphrase_free (second);
      if (!same)
        {
          g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_INVALID_ARGUMENT,
                       "the two passphrases differ");
          tool_passphrase_free (first);
          return NULL;
        }
    }

  if (source != NULL)
    *source = TOOL_PASSPHRASE_FROM_TERMINAL;
  return first;
}

void
tool_passphrase_free (char *passphrase)
{
  if (passphrase == NULL)
    return;
  wipe (passphrase, strlen (passphrase));
  g_free (passphrase);
}

/* Identities */

static void
set_no_identity_error (GError **error, const char *data_dir)
{
  char *word = shell_word (data_dir);

  g_set_error (error, MESHARA_ERROR, MESHARA_ERROR_NOT_FOUND,
               "no identity in %s (run: meshara keygen --data %s)",
               data_dir, word);
  g_free (word);
}

MesharaIdentity *
tool_identity_load (const char *data_dir, GError **error)
{
  MesharaIdentity *identity = NULL;
  ToolPassphraseSource source = TOOL_PASSPHRASE_FROM_ENV;
  GError *local_error = NULL;
  char *path, *prompt = NULL, *passphrase = NULL;

  path = tool_keystore_path (data_dir);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      set_no_identity_error (error, data_dir);
      goto out;
    }

  /* An unencrypted development keystore opens without a passphrase;
   * only an encrypted one is worth a prompt. */
  identity = meshara_identity_load (path, NULL, &local_error);
  if (identity != NULL)
    goto out;
  if (!g_error_matches (local_error, MESHARA_ERROR,
                        MESHARA_ERROR_PASSPHRASE_REQUIRED))
    goto fail;
  g_clear_error (&local_error);

  prompt = g_strdup_printf ("Passphrase for %s: ", path);
  passphrase = tool_passphrase_get (prompt, FALSE, NULL, &source,
                                    &local_error);
  if (passphrase == NULL)
    {
      g_prefix_error (&local_error, "%s is encrypted: ", path);
      goto fail;
    }

  identity = meshara_identity_load (path, passphrase, &local_error);
  tool_passphrase_free (passphrase);
  if (identity != NULL)
    goto out;
  if (source == TOOL_PASSPHRASE_FROM_ENV
      && g_error_matches (local_error, MESHARA_ERROR,
                          MESHARA_ERROR_WRONG_PASSPHRASE))
    {
      char *message = g_strdup_printf ("%s (the passphrase came from %s)",
                                       local_error->message,
                                       TOOL_PASSPHRASE_ENV);
      g_free (local_error->message);
      local_error->message = message;
    }

fail:
  /* The file may vanish between the check and the load. */
  if (g_error_matches (local_error, MESHARA_ERROR, MESHARA_ERROR_NOT_FOUND))
    {
      g_clear_error (&local_error);
      set_no_identity_error (&local_error, data_dir);
    }
  g_propagate_error (error, local_error);
out:
  g_free (prompt);
  g_free (path);
  return identity;
}

/* Append S to OUT as a JSON string literal. */
static void
append_json_string (GString *out, const char *s)
{
  g_string_append_c (out, '"');
  for (; *s != '\0'; s++)
    {
      unsigned char c = (unsigned char) *s;

      if (c == '"' || c == '\\')
        {
          g_string_append_c (out, '\\');
          g_string_append_c (out, (char) c);
        }
      else if (c < 0x20)
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_c (out, (char) c);
    }
  g_string_append_c (out, '"');
}

void
tool_identity_print (MesharaIdentity *identity, gboolean json)
{
  char *public_key = meshara_identity_get_public_key (identity);
  char *node_id = meshara_identity_get_node_id_hex (identity);
  char *fingerprint = meshara_identity_get_fingerprint (identity);

  if (json)
    {
      GString *out = g_string_new ("{\"public_key\": ");

      append_json_string (out, public_key);
      g_string_append (out, ", \"node_id\": ");
      append_json_string (out, node_id);
      g_string_append (out, ", \"fingerprint\": ");
      append_json_string (out, fingerprint);
      g_string_append (out, "}\n");
      fputs (out->str, stdout);
      g_string_free (out, TRUE);
    }
  else
    {
      /* The key alone on the first line, so "| head -n1" yields exactly
       * what a peer needs to pin this node. */
      printf ("%s\n", public_key);
      printf ("node-id: %s\n", node_id);
      printf ("fingerprint: %s\n", fingerprint);
    }

  g_free (public_key);
  g_free (node_id);
  g_free (fingerprint);
}
