package shim

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// PoolConfig describes the shims a Pool keeps ready.
type PoolConfig struct {
	ShimBinary  string // as Config.ShimBinary
	Runtime     string // Berth's runtime binary: each pooled shim keeps a warm one
	RuntimeRoot string // its --root
	// CgroupParent, when set, is the cgroupsPath parent of the daemon's
	// containers: each warm runtime keeps a spare init there.
	CgroupParent string
	Size         int // shims kept waiting; 0 means 1
	Logger       *slog.Logger
}

// Pool keeps shims started ahead of the containers they will supervise,
// each with a warm runtime in itself (see pooled, warm_linux.go): a
// container start then skips two process starts, the shim's and the
// runtime's, which are most of what a start costs below the daemon. The pool refills in the
// background when asked (Refill), once the container that used a pooled
// shim runs; a start that finds it empty (a burst) launches a shim as
// Start does.
//
// A pooled shim holds a socket to the daemon: when the daemon closes the
// pool, or dies, the shim sees the hang-up and exits (its spare init
// with it), so nothing is left behind.
type Pool struct {
	cfg PoolConfig
	bin string
	log *slog.Logger

	mu       sync.Mutex
	idle     []*pooledShim
	starting int
	closed   bool
	wg       sync.WaitGroup
}

type pooledShim struct {
	conn *os.File // the daemon's end: the assignment goes out, the report comes back
}

// NewPool starts filling a pool.
func NewPool(cfg PoolConfig) (*Pool, error) {
	if cfg.Size <= 0 {
		cfg.Size = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	bin, err := shimBinary(cfg.ShimBinary)
	if err != nil {
		return nil, err
	}
	p := &Pool{cfg: cfg, bin: bin, log: cfg.Logger}
	p.refill()
	return p, nil
}

// Start is shim.Start through a pooled shim when one is waiting (and cfg
// uses the pool's shim binary).
func (p *Pool) Start(ctx context.Context, cfg Config) (*Client, error) {
	return p.start(ctx, cfg, nil)
}

// StartAhead is Start for a container made before anyone waits for it: a
// pooled shim creates it at the background priority it waited at, until
// hurry closes (someone waits for it now) or its first call. A shim
// started the usual way has normal priority from the first.
func (p *Pool) StartAhead(ctx context.Context, cfg Config, hurry <-chan struct{}) (*Client, error) {
	cfg.Ahead = true
	return p.start(ctx, cfg, hurry)
}

func (p *Pool) start(ctx context.Context, cfg Config, hurry <-chan struct{}) (*Client, error) {
	if cfg.ShimBinary != p.cfg.ShimBinary {
		return Start(ctx, cfg)
	}
	ps := p.take()
	if ps == nil {
		return Start(ctx, cfg)
	}
	defer ps.conn.Close()
	if _, err := prepare(cfg); err != nil {
		return nil, err
	}
	// A container made ahead keeps the socket open towards the shim for
	// one byte more, the hurry, which returns the shim to normal priority
	// (the shim watches for it until it reports).
	hurried := false
	if hurry != nil {
		select {
		case <-hurry:
			hurried = true
		default:
		}
	}
	if err := ps.assign(cfg.StateDir, hurried, hurry != nil && !hurried); err != nil {
		// The pooled shim died (killed by someone): start one the usual way.
		p.log.Warn("pooled shim", "err", err)
		return Start(ctx, cfg)
	}
	if hurry != nil && !hurried {
		created, finished := make(chan struct{}), make(chan struct{})
		defer func() {
			close(created)
			<-finished
		}()
		go func() {
			defer close(finished)
			select {
			case <-hurry:
				_, _ = ps.conn.Write([]byte{'!'})
			case <-created:
			}
			_ = shutdownWrite(ps.conn)
		}()
	}
	return awaitReady(ctx, cfg, ps.conn, 0)
}

// Close ends the pool's waiting shims and stops refilling.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, ps := range idle {
		ps.dismiss()
	}
	p.wg.Wait()
	return nil
}

// dismissGrace bounds the wait for a dismissed shim to exit.
const dismissGrace = 2 * time.Second

// dismiss hangs up on an unassigned shim and waits, briefly, for it to
// exit: its end of the socket closes with it. The shim and its warm
// runtime work in the exec root; a daemon that returns from Close while
// they still do would let them write there after it let go of the
// directory (its tmpfs unmounted, a test's directory removed).
func (ps *pooledShim) dismiss() {
	defer ps.conn.Close()
	if err := shutdownWrite(ps.conn); err != nil {
		return
	}
	ps.conn.SetReadDeadline(time.Now().Add(dismissGrace))
	var b [64]byte
	for {
		if _, err := ps.conn.Read(b[:]); err != nil {
			return
		}
	}
}

func (p *Pool) take() *pooledShim {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) == 0 {
		return nil
	}
	ps := p.idle[0]
	p.idle = p.idle[1:]
	return ps
}

// Refill starts, in the background, the shims the pool lacks. Start
// does not: launching a shim and its warm runtime costs a few
// milliseconds of CPU, which on a small host would slow the very start
// that used the pooled shim; the caller refills once that container runs.
func (p *Pool) Refill() { p.refill() }

// refill starts the shims the pool lacks.
func (p *Pool) refill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for !p.closed && len(p.idle)+p.starting < p.cfg.Size {
		p.starting++
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			ps, err := p.launch()
			p.mu.Lock()
			p.starting--
			if err == nil && !p.closed {
				p.idle = append(p.idle, ps)
				ps = nil
			}
			p.mu.Unlock()
			if err != nil {
				p.log.Warn("start a pooled shim", "err", err)
			}
			if ps != nil {
				ps.dismiss()
			}
		}()
	}
}

func (p *Pool) launch() (*pooledShim, error) {
	// The daemon's end is non-blocking, for the poller (read deadlines);
	// the shim's blocks, for its plain reads.
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, os.NewSyscallError("socketpair", err)
	}
	if err := unix.SetNonblock(fds[1], false); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, os.NewSyscallError("fcntl", err)
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "pool"), os.NewFile(uintptr(fds[1]), "pool")
	defer theirs.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		mine.Close()
		return nil, err
	}
	defer devnull.Close()
	files := []uintptr{devnull.Fd(), devnull.Fd(), devnull.Fd(), theirs.Fd()}
	args := []string{p.cfg.Runtime, p.cfg.RuntimeRoot}
	if p.cfg.CgroupParent != "" {
		args = append(args, p.cfg.CgroupParent)
	}
	launcher, err := launch(p.bin, files, "pool", args...)
	if err != nil {
		mine.Close()
		return nil, fmt.Errorf("start %s: %w", p.bin, err)
	}
	if launcher > 0 {
		reapLauncher(launcher)
	}
	return &pooledShim{conn: mine}, nil
}

// assign sends the shim its state directory, and the hurry byte if
// hurried, and closes the sending side unless keepOpen (a hurry may follow).
func (ps *pooledShim) assign(dir string, hurried, keepOpen bool) error {
	msg := dir + "\n"
	if hurried {
		msg += "!"
	}
	if _, err := ps.conn.Write([]byte(msg)); err != nil {
		return err
	}
	if keepOpen {
		return nil
	}
	return shutdownWrite(ps.conn)
}

// shutdownWrite shuts f's sending side down. Through SyscallConn, not Fd:
// Fd would put f in blocking mode, and its read deadlines would stop
// working.
func shutdownWrite(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Shutdown(int(fd), unix.SHUT_WR) }); err != nil {
		return err
	}
	return serr
}
