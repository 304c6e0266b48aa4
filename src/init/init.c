/* basic-docker-init: the pid 1 of `run --init` containers.
 *
 *   basic-docker-init -- CMD [ARG...]
 *
 * Starts CMD as its child, forwards every catchable signal it receives to it, reaps every
 * process that is reparented to it (so no zombies pile up), and exits with CMD's status
 * (128+N when CMD was killed by signal N). Static and libc-only so it runs in any image.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  int first = 1;
  if (argc > 1 && strcmp(argv[1], "--") == 0) first = 2;
  if (first >= argc) {
    fprintf(stderr, "usage: basic-docker-init -- CMD [ARG...]\n");
    return 2;
  }
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  pid_t child = fork();
  if (child < 0) {
    perror("basic-docker-init: fork");
    return 125;
  }
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    /* A process group of its own, with the terminal if there is one: ^C reaches it. */
    setpgid(0, 0);
    execvp(argv[first], argv + first);
    fprintf(stderr, "basic-docker-init: exec %s: %s\n", argv[first], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&all, &info);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      kill(child, sig);
      continue;
    }
    for (;;) {
      int status;
      pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      if (pid == child) {
        /* Reap whatever is left, then leave with the command's status. */
        while (waitpid(-1, NULL, WNOHANG) > 0) {
        }
        if (WIFEXITED(status)) return WEXITSTATUS(status);
        return 128 + WTERMSIG(status);
      }
    }
  }
}
