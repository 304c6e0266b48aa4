/* bd-probe: answers what a process inside a container sees. Static, so it runs in any image.
 *   bd-probe syscall NAME   prints "ok" or the errno name of calling NAME harmlessly
 *   bd-probe caps           prints CapEff as hex from /proc/self/status
 *   bd-probe forks N        forks up to N sleeping children, prints how many forks succeeded
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char* ErrnoName(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOSYS: return "ENOSYS";
    case EINVAL: return "EINVAL";
    case ENOKEY: return "ENOKEY";
    default: return "OTHER";
  }
}

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "syscall") == 0) {
    long r = -1;
    if (strcmp(argv[2], "keyctl") == 0) {
      r = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0);
    } else if (strcmp(argv[2], "unshare") == 0) {
      r = syscall(SYS_unshare, CLONE_NEWUTS);
    } else if (strcmp(argv[2], "add_key") == 0) {
      r = syscall(SYS_add_key, "user", "bd-probe", "x", 1, -3);
    } else if (strcmp(argv[2], "getpid") == 0) {
      r = syscall(SYS_getpid);
    } else {
      fprintf(stderr, "unknown syscall %s\n", argv[2]);
      return 2;
    }
    printf("%s\n", r >= 0 ? "ok" : ErrnoName(errno));
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "caps") == 0) {
    FILE* f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
      if (strncmp(line, "CapEff:", 7) == 0) {
        printf("%s", line + 8);
        return 0;
      }
    }
    return 1;
  }
  if (argc == 3 && strcmp(argv[1], "forks") == 0) {
    int n = atoi(argv[2]), ok = 0;
    for (int i = 0; i < n; ++i) {
      pid_t pid = fork();
      if (pid == 0) {
        pause();
        _exit(0);
      }
      if (pid > 0) ++ok;
    }
    printf("%d\n", ok);
    fflush(stdout);
    kill(0, SIGKILL);  /* the children (and this process) */
    return 0;
  }
  fprintf(stderr, "usage: bd-probe syscall NAME | caps | forks N\n");
  return 2;
}
