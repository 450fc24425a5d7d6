// berth-shim-keeper holds the place of a hibernated shim
// (internal/shim/hibernate_linux.go): an idle Go shim costs about 0.9 MiB,
// this program a few pages. It keeps the shim's descriptors open by doing
// nothing with them, and as soon as anything needs the shim (a connection
// on its socket, output from the container, a waiting client hanging up,
// a child's exit) it execs the shim again, which takes everything over.
//
//   berth-shim-keeper EXE-FD STATE-DIR FD...
//
// EXE-FD is an O_PATH descriptor of the shim's binary (the one that
// hibernated, even if the file was replaced since); each FD is watched for
// input and hang-up. Waking runs `berth-shim resume STATE-DIR` from
// EXE-FD with the same descriptors, environment and signal mask.
//
// It reaps nothing: the exited child stays a zombie for the shim, whose
// status it is to record.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_WATCHED 64

static void on_child(int sig) { (void)sig; }

static int parse_fd(const char *s) {
	char *end;
	long v;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < 0 || v > 1 << 20)
		return -1;
	return (int)v;
}

// child_exited reports a child that has exited, without reaping it.
static int child_exited(void) {
	siginfo_t si;
	memset(&si, 0, sizeof si);
	if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
		return errno != ECHILD && errno != EINTR;
	return si.si_pid != 0;
}

int main(int argc, char **argv) {
	struct pollfd watched[MAX_WATCHED];
	sigset_t chld, original, waiting;
	struct sigaction sa;
	int exe, n, i;

	if (argc < 3 || argc - 3 > MAX_WATCHED)
		return 2;
	exe = parse_fd(argv[1]);
	if (exe < 0)
		return 2;
	n = argc - 3;
	for (i = 0; i < n; i++) {
		watched[i].fd = parse_fd(argv[3 + i]);
		if (watched[i].fd < 0)
			return 2;
		watched[i].events = POLLIN | POLLRDHUP;
	}

	// SIGCHLD is blocked except inside ppoll: an exit between the look
	// for exited children and the wait is not missed.
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &original);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	waiting = original;
	sigdelset(&waiting, SIGCHLD);

	for (;;) {
		int r;
		if (child_exited())
			break;
		r = ppoll(watched, (nfds_t)n, NULL, &waiting);
		if (r > 0 || (r < 0 && errno != EINTR))
			break;
	}

	// The shim need not keep its binary open: close-on-exec, which
	// execveat allows for a binary (not a script).
	fcntl(exe, F_SETFD, FD_CLOEXEC);
	signal(SIGCHLD, SIG_DFL);
	sigprocmask(SIG_SETMASK, &original, NULL);
	{
		char *args[] = {"berth-shim", "resume", argv[2], NULL};
		struct timespec pause = {0, 100 * 1000 * 1000};
		// A failure is transient (memory) or final (the binary is
		// gone): try for a while. Should it never work, this process
		// exits, the state lock is free, and the daemon settles the
		// container as a shim that died (see package shim).
		for (i = 0; i < 100; i++) {
			syscall(SYS_execveat, exe, "", args, environ, AT_EMPTY_PATH);
			nanosleep(&pause, NULL);
		}
	}
	return 1;
}
