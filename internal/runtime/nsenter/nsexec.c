// The pre-Go-runtime stage of a container's init (and of exec'd processes).
//
// setns(2) into a mount namespace, and into a user namespace, is refused to
// a multi-threaded process, and the Go runtime starts threads before main.
// So the namespace work happens here, in a constructor that runs before the
// Go runtime, while the process still has a single thread. See README.md.
//
// It runs only when _BERTH_INITPIPE names a socket fd; every other start of
// the binary pays for one getenv.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

// Keep in step with bootstrap.go.
#define BOOTSTRAP_MAGIC 0x48545242u // "BRTH"
enum {
	REC_CLONE_FLAGS = 1,
	REC_NS_PATH = 2,
	REC_TIME_OFFSETS = 3,
	REC_CGROUP_V1 = 4,
};
enum {
	MSG_USERMAP_REQ = 1,
	MSG_USERMAP_ACK = 2,
	MSG_CHILD_PID = 3,
	MSG_ERROR = 4,
};
#define MSG_TEXT 256
struct msg {
	uint32_t type;
	int32_t arg;
	char text[MSG_TEXT];
};

#define MAX_PATHS 16
#define MAX_CGROUPS 32
#define MAX_BOOTSTRAP (64 * 1024)

static int syncfd = -1;

static int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EPIPE;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void send_msg(uint32_t type, int32_t arg, const char *text)
{
	struct msg m;
	memset(&m, 0, sizeof(m));
	m.type = type;
	m.arg = arg;
	if (text)
		strncpy(m.text, text, MSG_TEXT - 1);
	write_full(syncfd, &m, sizeof(m));
}

// bail reports the failure, with errno's text, to the Go parent and exits.
// The parent turns it into the create or exec error.
static void bail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void bail(const char *fmt, ...)
{
	int saved = errno;
	char text[MSG_TEXT];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n >= 0 && n < (int)sizeof(text) && saved != 0)
		snprintf(text + n, sizeof(text) - (size_t)n, ": %s", strerror(saved));
	send_msg(MSG_ERROR, saved, text);
	_exit(1);
}

struct nspath {
	uint32_t type;
	const char *path;
	int fd;
};

struct bootstrap {
	char *buf;
	uint32_t cloneflags;
	struct nspath paths[MAX_PATHS];
	int npaths;
	const char *timeoffsets;
	const char *cgroupv1[MAX_CGROUPS];
	int ncgroupv1;
};

static void read_bootstrap(struct bootstrap *b)
{
	uint32_t hdr[2];
	if (read_full(syncfd, hdr, sizeof(hdr)) < 0)
		bail("nsenter: read bootstrap header");
	if (hdr[0] != BOOTSTRAP_MAGIC) {
		errno = 0;
		bail("nsenter: bad bootstrap magic %#x", hdr[0]);
	}
	if (hdr[1] > MAX_BOOTSTRAP) {
		errno = 0;
		bail("nsenter: bootstrap of %u bytes is too large", hdr[1]);
	}
	b->buf = malloc(hdr[1] + 1);
	if (!b->buf)
		bail("nsenter: allocate bootstrap");
	if (read_full(syncfd, b->buf, hdr[1]) < 0)
		bail("nsenter: read bootstrap");
	b->buf[hdr[1]] = '\0';

	// Records: u16 type, u16 pad, u32 length, then length bytes. Strings
	// carry their own NUL so they can be used in place.
	uint32_t off = 0;
	while (off + 8 <= hdr[1]) {
		uint16_t type;
		uint32_t len;
		memcpy(&type, b->buf + off, 2);
		memcpy(&len, b->buf + off + 4, 4);
		off += 8;
		if (len > hdr[1] - off) {
			errno = 0;
			bail("nsenter: truncated bootstrap record %u", type);
		}
		char *data = b->buf + off;
		switch (type) {
		case REC_CLONE_FLAGS:
			if (len != 4) {
				errno = 0;
				bail("nsenter: bad clone flags record");
			}
			memcpy(&b->cloneflags, data, 4);
			break;
		case REC_NS_PATH:
			if (len < 6 || data[len - 1] != '\0') {
				errno = 0;
				bail("nsenter: bad namespace path record");
			}
			if (b->npaths == MAX_PATHS) {
				errno = 0;
				bail("nsenter: too many namespace paths");
			}
			memcpy(&b->paths[b->npaths].type, data, 4);
			b->paths[b->npaths].path = data + 4;
			b->paths[b->npaths].fd = -1;
			b->npaths++;
			break;
		case REC_TIME_OFFSETS:
			if (len < 1 || data[len - 1] != '\0') {
				errno = 0;
				bail("nsenter: bad time offsets record");
			}
			b->timeoffsets = data;
			break;
		case REC_CGROUP_V1:
			if (len < 2 || data[len - 1] != '\0' || data[0] != '/') {
				errno = 0;
				bail("nsenter: bad cgroup record");
			}
			if (b->ncgroupv1 == MAX_CGROUPS) {
				errno = 0;
				bail("nsenter: too many cgroups");
			}
			b->cgroupv1[b->ncgroupv1++] = data;
			break;
		default:
			errno = 0;
			bail("nsenter: unknown bootstrap record %u", type);
		}
		off += len;
	}
}

static const char *nsname(uint32_t type)
{
	switch (type) {
	case CLONE_NEWUSER: return "user";
	case CLONE_NEWIPC: return "ipc";
	case CLONE_NEWUTS: return "uts";
	case CLONE_NEWNET: return "net";
	case CLONE_NEWPID: return "pid";
	case CLONE_NEWNS: return "mnt";
	case CLONE_NEWCGROUP: return "cgroup";
	case CLONE_NEWTIME: return "time";
	}
	return "unknown";
}

// join_namespaces enters every namespace named by path. All are opened
// first, since entering the mount namespace changes what a path means. The
// user namespace goes first, so that we hold capabilities over the others;
// the mount namespace goes last.
static void join_namespaces(struct bootstrap *b)
{
	static const uint32_t order[] = {
		CLONE_NEWUSER, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET,
		CLONE_NEWPID, CLONE_NEWCGROUP, CLONE_NEWTIME, CLONE_NEWNS,
	};
	for (int i = 0; i < b->npaths; i++) {
		b->paths[i].fd = open(b->paths[i].path, O_RDONLY | O_CLOEXEC);
		if (b->paths[i].fd < 0)
			bail("nsenter: open %s namespace %s", nsname(b->paths[i].type), b->paths[i].path);
	}
	for (size_t o = 0; o < sizeof(order) / sizeof(order[0]); o++) {
		for (int i = 0; i < b->npaths; i++) {
			if (b->paths[i].type != order[o])
				continue;
			if (setns(b->paths[i].fd, (int)b->paths[i].type) < 0)
				bail("nsenter: join %s namespace %s", nsname(b->paths[i].type), b->paths[i].path);
			close(b->paths[i].fd);
			b->paths[i].fd = -1;
		}
	}
}

// join_cgroups moves this process into the container's cgroup v1
// hierarchies without the kernel's global cgroup_threadgroup_rwsem: moving
// another process (a pid written to cgroup.procs) takes that lock for
// writing and, whenever it was idle, waits for an RCU grace period, 10 to
// 20 ms on a quiet host. A single-threaded process writing "0" to a
// hierarchy's tasks file moves itself without it. (The runtime forked us
// straight into the cgroup2 cgroup with clone3 CLONE_INTO_CGROUP, which
// does not take it either.)
static void join_cgroups(struct bootstrap *b)
{
	char path[4096];
	for (int i = 0; i < b->ncgroupv1; i++) {
		if (snprintf(path, sizeof(path), "%s/tasks", b->cgroupv1[i]) >= (int)sizeof(path)) {
			errno = ENAMETOOLONG;
			bail("nsenter: cgroup path %s", b->cgroupv1[i]);
		}
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			bail("nsenter: open %s", path);
		if (write_full(fd, "0", 1) < 0)
			bail("nsenter: join cgroup %s", b->cgroupv1[i]);
		close(fd);
	}
}

static void await_usermap(void)
{
	struct msg m;
	// The runtime writes the maps of the process that unshared, this one.
	send_msg(MSG_USERMAP_REQ, getpid(), NULL);
	if (read_full(syncfd, &m, sizeof(m)) < 0)
		bail("nsenter: wait for id mappings");
	if (m.type != MSG_USERMAP_ACK) {
		errno = 0;
		bail("nsenter: unexpected message %u while waiting for id mappings", m.type);
	}
	// Become root of the new namespace when it maps a root; without one
	// the process keeps its full capability set there anyway.
	if (setresgid(0, 0, 0) < 0 && errno != EINVAL)
		bail("nsenter: setresgid(0) in user namespace");
	if (setresuid(0, 0, 0) < 0 && errno != EINVAL)
		bail("nsenter: setresuid(0) in user namespace");
}

static void write_time_offsets(const char *offsets)
{
	int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		bail("nsenter: open /proc/self/timens_offsets");
	if (write_full(fd, offsets, strlen(offsets)) < 0)
		bail("nsenter: write time namespace offsets");
	close(fd);
}

__attribute__((constructor)) static void berth_nsenter(void)
{
	const char *env = getenv("_BERTH_INITPIPE");
	if (env == NULL || *env == '\0')
		return;
	char *end;
	long fd = strtol(env, &end, 10);
	if (*end != '\0' || fd < 0 || fd > 1 << 20) {
		fprintf(stderr, "nsenter: bad _BERTH_INITPIPE %s\n", env);
		_exit(1);
	}
	syncfd = (int)fd;

	struct bootstrap b;
	memset(&b, 0, sizeof(b));
	read_bootstrap(&b);

	// Host paths: before any namespace changes what they mean, and before
	// a user namespace takes away the right to write them.
	join_cgroups(&b);
	join_namespaces(&b);

	if (b.cloneflags & CLONE_NEWUSER) {
		if (unshare(CLONE_NEWUSER) < 0)
			bail("nsenter: unshare user namespace");
		await_usermap();
	}
	// This process is already in the container's cgroups, so a new cgroup
	// namespace is rooted at them.
	uint32_t rest = b.cloneflags & ~(uint32_t)CLONE_NEWUSER;
	if (rest != 0 && unshare((int)rest) < 0)
		bail("nsenter: unshare namespaces %#x", rest);
	if ((rest & CLONE_NEWTIME) && b.timeoffsets)
		write_time_offsets(b.timeoffsets);

	// Pid and time namespaces take effect for children only, so the init
	// is a child. CLONE_PARENT makes it a sibling of this process: the
	// runtime that started us can wait for it directly, and this
	// intermediate process simply exits.
	pid_t child = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
	if (child < 0)
		bail("nsenter: clone init");
	if (child == 0) {
		free(b.buf);
		// Go on into the Go runtime, now inside every namespace.
		return;
	}
	send_msg(MSG_CHILD_PID, child, NULL);
	_exit(0);
}
