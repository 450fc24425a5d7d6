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
//
// No C library: its start-up alone (TLS, relocations, stdio) dirties more
// memory than the rest of the program, and there are a thousand keepers
// on a busy host. A dozen system calls, made directly (x86-64 and arm64).
#include <asm/unistd.h>
#include <linux/fcntl.h>
#include <linux/poll.h>
#include <linux/signalfd.h>
#include <linux/wait.h>

#define MAX_WATCHED 64
#define SIGCHLD_BIT (1UL << (17 - 1))
#define SIG_BLOCK_ 0
#define SIG_SETMASK_ 2
#define EINTR_ 4

// Page tables are most of what a keeper costs: its binary, its stack and
// the vDSO lie in three far-apart parts of the address space, each with
// its own chain of tables (24 KiB). On x86-64 the keeper runs on a stack
// in its own .bss, copies what it keeps of its arguments and environment
// there, and unmaps the kernel's stack and the vDSO (it makes no vDSO
// call and handles no signal): the tables left are those of the binary.
#define KEEPER_STACK 16384
#define KEEPER_STRINGS 32768
#define KEEPER_ENV 1024

#if defined(__x86_64__)
#define RELOCATES 1
char keeper_stack[KEEPER_STACK] __attribute__((aligned(16)));
__asm__(".text\n"
	".global _start\n"
	"_start:\n"
	"	xor %rbp, %rbp\n"
	"	mov %rsp, %rdi\n"
	"	lea keeper_stack+16384(%rip), %rsp\n"
	"	and $-16, %rsp\n"
	"	call keeper_main\n"
	"	hlt\n");

static long sys(long n, long a, long b, long c, long d, long e) {
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__aarch64__)
#define RELOCATES 0
__asm__(".text\n"
	".global _start\n"
	"_start:\n"
	"	mov x29, #0\n"
	"	mov x30, #0\n"
	"	mov x0, sp\n"
	"	bl keeper_main\n"
	"	brk #0\n");

static long sys(long n, long a, long b, long c, long d, long e) {
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4)
			 : "memory", "cc");
	return x0;
}
#else
#error "berth-shim-keeper: x86-64 and arm64 only"
#endif

// The compiler may emit calls to these for struct initialisation.
void *memset(void *s, int c, unsigned long n) {
	unsigned char *p = s;
	while (n--)
		*p++ = (unsigned char)c;
	return s;
}

void *memcpy(void *d, const void *s, unsigned long n) {
	unsigned char *o = d;
	const unsigned char *i = s;
	while (n--)
		*o++ = *i++;
	return d;
}

static __attribute__((noreturn)) void leave(int code) {
	for (;;)
		sys(__NR_exit_group, code, 0, 0, 0, 0);
}

static int parse_fd(const char *s) {
	long v = 0;
	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 1 << 20)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return (int)v;
}

#if RELOCATES
// arena holds the copies (the environment's pointers, then the strings):
// for a usual environment one page.
static char arena[KEEPER_STRINGS] __attribute__((aligned(16)));
static unsigned long arena_used;

// take reserves n bytes of arena, aligned to 8; 0 when they do not fit.
static char *take(unsigned long n) {
	char *p;
	arena_used = (arena_used + 7) & ~7UL;
	if (n > sizeof arena - arena_used)
		return 0;
	p = arena + arena_used;
	arena_used += n;
	return p;
}

// keep copies s into arena; 0 when it does not fit.
static char *keep(const char *s) {
	unsigned long n = 0;
	char *d;
	while (s[n])
		n++;
	if (!(d = take(n + 1)))
		return 0;
	memcpy(d, s, n + 1);
	return d;
}

static int ends_with(const char *s, long n, const char *suffix) {
	long m = 0, i;
	while (suffix[m])
		m++;
	if (n < m)
		return 0;
	for (i = 0; i < m; i++)
		if (s[n - m + i] != suffix[i])
			return 0;
	return 1;
}

static unsigned long parse_hex(const char **p) {
	unsigned long v = 0;
	for (;; (*p)++) {
		char c = **p;
		if (c >= '0' && c <= '9')
			v = v * 16 + (unsigned long)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (unsigned long)(c - 'a' + 10);
		else
			return v;
	}
}

// drop_far_mappings unmaps the kernel's stack and the vDSO (and its
// data pages), found in /proc/self/maps, once nothing points into them.
static void drop_far_mappings(void) {
	// Its own page, given back once read.
	static char maps[4096] __attribute__((aligned(4096)));
	long len = 0, r;
	int fd = (int)sys(__NR_open, (long)"/proc/self/maps", O_RDONLY | O_CLOEXEC, 0, 0, 0);
	const char *line, *end;
	if (fd < 0)
		return;
	while (len < (long)sizeof maps - 1 && (r = sys(__NR_read, fd, (long)maps + len, (long)sizeof maps - 1 - len, 0, 0)) > 0)
		len += r;
	sys(__NR_close, fd, 0, 0, 0, 0);
	if (len >= (long)sizeof maps - 1)
		return; // not the whole of it: leave everything as it is
	for (line = maps; line < maps + len; line = end + 1) {
		const char *p = line;
		unsigned long start, stop;
		for (end = line; end < maps + len && *end != '\n'; end++)
			;
		start = parse_hex(&p);
		if (*p++ != '-')
			continue;
		stop = parse_hex(&p);
		if (ends_with(line, end - line, "[stack]") || ends_with(line, end - line, "[vdso]") ||
		    ends_with(line, end - line, "[vvar]") || ends_with(line, end - line, "[vvar_vclock]"))
			sys(__NR_munmap, (long)start, (long)(stop - start), 0, 0, 0);
	}
	sys(__NR_madvise, (long)maps, sizeof maps, 4 /* MADV_DONTNEED */, 0, 0);
}

// relocate copies the state directory and the environment off the
// kernel's stack and unmaps it; the environment is returned, or the
// original one (nothing unmapped) when it does not fit.
static char **relocate(char **argv, char **envp, char **state_dir) {
	char **env, *dir;
	int i, n = 0;
	while (envp[n])
		n++;
	if (n > KEEPER_ENV || !(env = (char **)take((unsigned long)(n + 1) * sizeof(char *))) || !(dir = keep(argv[2])))
		return envp;
	for (i = 0; i < n; i++) {
		if (!(env[i] = keep(envp[i])))
			return envp;
	}
	env[n] = 0;
	*state_dir = dir;
	drop_far_mappings();
	return env;
}
#endif

// child_exited reports a child that has exited, without reaping it.
static int child_exited(void) {
	union {
		char bytes[128];
		struct {
			int signo, err, code, pad;
			int pid;
		} f;
	} si;
	long r;
	memset(&si, 0, sizeof si);
	r = sys(__NR_waitid, P_ALL, 0, (long)&si, WEXITED | WNOHANG | WNOWAIT, 0);
	if (r < 0)
		return r != -10 /* ECHILD */ && r != -EINTR_;
	return si.f.pid != 0;
}

__attribute__((noreturn, used)) void keeper_main(long *sp) {
	struct pollfd watched[MAX_WATCHED + 1];
	unsigned long chld = SIGCHLD_BIT, original = 0;
	struct signalfd_siginfo drained;
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	char **envp = argv + argc + 1;
	char *state_dir;
	int exe, n, i, sfd;

	if (argc < 3 || argc - 3 > MAX_WATCHED)
		leave(2);
	exe = parse_fd(argv[1]);
	if (exe < 0)
		leave(2);
	n = (int)argc - 3;
	for (i = 0; i < n; i++) {
		watched[i].fd = parse_fd(argv[3 + i]);
		if (watched[i].fd < 0)
			leave(2);
		watched[i].events = POLLIN | POLLRDHUP;
		watched[i].revents = 0;
	}
	state_dir = argv[2];
#if RELOCATES
	envp = relocate(argv, envp, &state_dir);
	argv = 0; // gone with the kernel's stack
#endif

	// SIGCHLD is blocked and read from a signalfd: an exit between the
	// look for exited children and the wait is not missed, and no
	// handler (nor its return trampoline) is needed.
	sys(__NR_rt_sigprocmask, SIG_BLOCK_, (long)&chld, (long)&original, 8, 0);
	sfd = (int)sys(__NR_signalfd4, -1, (long)&chld, 8, SFD_CLOEXEC | SFD_NONBLOCK, 0);
	if (sfd >= 0) {
		watched[n].fd = sfd;
		watched[n].events = POLLIN;
		watched[n].revents = 0;
	}

	for (;;) {
		long r;
		int other = 0;
		if (child_exited())
			break;
		r = sys(__NR_ppoll, (long)watched, sfd >= 0 ? n + 1 : n, 0, 0, 8);
		if (r < 0 && r != -EINTR_)
			break;
		for (i = 0; i < n; i++)
			other |= watched[i].revents;
		if (other)
			break;
		if (sfd >= 0 && watched[n].revents)
			// A SIGCHLD: look again (a child that stopped is no
			// reason to wake).
			while (sys(__NR_read, sfd, (long)&drained, sizeof drained, 0, 0) > 0)
				;
	}

	sys(__NR_rt_sigprocmask, SIG_SETMASK_, (long)&original, 0, 8, 0);
	// The shim need not keep its binary open: close-on-exec, which
	// execveat allows for a binary (not a script).
	sys(__NR_fcntl, exe, F_SETFD, FD_CLOEXEC, 0, 0);
	{
		char *args[] = {"berth-shim", "resume", state_dir, 0};
		struct timespec {
			long sec, nsec;
		} pause = {0, 100 * 1000 * 1000};
		// A failure is transient (memory) or final (the binary is
		// gone): try for a while. Should it never work, this process
		// exits, the state lock is free, and the daemon settles the
		// container as a shim that died (see package shim).
		for (i = 0; i < 100; i++) {
			sys(__NR_execveat, exe, (long)"", (long)args, (long)envp, AT_EMPTY_PATH);
			sys(__NR_nanosleep, (long)&pause, 0, 0, 0, 0);
		}
	}
	leave(1);
}
