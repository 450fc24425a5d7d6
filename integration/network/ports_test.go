package network_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testenv/nettest"
)

// TestPublishedPort: busybox httpd published with -p answers on the
// host's 127.0.0.1 (hairpin), on the host's address as seen from a client
// host (its own namespace joined by a veth pair), and from another
// container; a port bound to 127.0.0.1 answers only there; docker port
// lists the bindings; a UDP port delivers; and nothing answers once the
// container is gone.
func TestPublishedPort(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	client := nettest.NewClientHost(t)
	hp, lp := freePort(t), freePort(t)
	web := e.httpd("hello-published", "-p", fmt.Sprintf("%d:80", hp))
	local := e.httpd("hello-local", "-p", fmt.Sprintf("127.0.0.1:%d:80", lp))

	host := nettest.NewHostClient()
	fromClient := client.HTTPClient(5 * time.Second)
	want := map[string]string{
		"host 127.0.0.1":             fmt.Sprintf("http://127.0.0.1:%d/", hp),
		"client host to host's veth": fmt.Sprintf("http://%s:%d/", client.HostAddr, hp),
	}
	eventually(t, "published port answers on 127.0.0.1", func() error {
		_, err := get(host, want["host 127.0.0.1"])
		return err
	})
	for what, url := range want {
		c := host
		if strings.HasPrefix(what, "client") {
			c = fromClient
		}
		if got, err := get(c, url); err != nil || got != "hello-published" {
			t.Errorf("%s: GET %s = %q, %v; want hello-published", what, url, got, err)
		}
	}
	// Another container reaches it through the host's address on the
	// default bridge (the gateway).
	url := fmt.Sprintf("http://%s:%d/", e.d.BridgeGateway, hp)
	if got := e.must("run", "--rm", "busybox", "timeout", "3", "wget", "-qO-", url); got != "hello-published" {
		t.Errorf("from a container: wget %s = %q", url, got)
	}

	// 127.0.0.1 only.
	if got, err := get(host, fmt.Sprintf("http://127.0.0.1:%d/", lp)); err != nil || got != "hello-local" {
		t.Errorf("127.0.0.1-bound port: %q, %v", got, err)
	}
	if got, err := get(fromClient, fmt.Sprintf("http://%s:%d/", client.HostAddr, lp)); err == nil {
		t.Errorf("a port published on 127.0.0.1 answered the client host: %q", got)
	}

	if got := e.must("port", web); got != fmt.Sprintf("80/tcp -> 0.0.0.0:%d", hp) {
		t.Errorf("docker port %s = %q", web, got)
	}
	if got := e.must("port", local, "80"); got != fmt.Sprintf("127.0.0.1:%d", lp) {
		t.Errorf("docker port %s 80 = %q", local, got)
	}

	// UDP: a datagram to the published port reaches the container and
	// the answer comes back, from the host and from the client host.
	up := freeUDPPort(t)
	e.must("run", "-d", "-p", fmt.Sprintf("%d:9000/udp", up),
		"-v", udpechoDir+":/opt/udp:ro", "busybox", "/opt/udp/udpecho", "9000")
	for what, dial := range map[string]func(context.Context, string, string) (net.Conn, error){
		"host 127.0.0.1":      (&net.Dialer{}).DialContext,
		"client host to veth": client.Dial,
	} {
		addr := fmt.Sprintf("127.0.0.1:%d", up)
		if what != "host 127.0.0.1" {
			addr = fmt.Sprintf("%s:%d", client.HostAddr, up)
		}
		eventually(t, what+": UDP echo through "+addr, func() error { return udpEcho(dial, addr) })
	}

	e.must("rm", "-f", web, local)
	if got, err := get(host, fmt.Sprintf("http://127.0.0.1:%d/", hp)); err == nil {
		t.Errorf("the port still answers after rm: %q", got)
	}
	if got, err := get(fromClient, fmt.Sprintf("http://%s:%d/", client.HostAddr, hp)); err == nil {
		t.Errorf("the port still answers the client host after rm: %q", got)
	}
	e.removeAll()
}

// TestPublishAll: -P publishes every port the image exposes on a free
// host port of the ephemeral range, a different one per container; docker
// port shows them and each answers with its own page.
func TestPublishAll(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.must("import", "--change", `CMD ["sh"]`, "--change", "EXPOSE 80", "--change", "EXPOSE 8080/tcp", busyboxTar, "web:1")
	lo, hi := ephemeralRange(t)
	host := nettest.NewHostClient()
	seen := map[string]string{}
	for i := range 2 {
		name := e.name()
		e.must("run", "-d", "-P", "--name", name, "web:1", "sh", "-c", fmt.Sprintf(
			"mkdir /tmp/a /tmp/b; echo p80-%d > /tmp/a/index.html; echo p8080-%d > /tmp/b/index.html; "+
				"httpd -p 80 -h /tmp/a; exec httpd -f -p 8080 -h /tmp/b", i, i))
		ports := map[string]string{}
		for _, line := range strings.Split(e.must("port", name), "\n") {
			cport, addr, ok := strings.Cut(line, " -> ")
			if !ok {
				t.Fatalf("docker port %s: bad line %q", name, line)
			}
			if strings.HasPrefix(addr, "[::]") {
				continue // an IPv6 line, when the engine publishes on IPv6 too
			}
			ports[cport] = addr
		}
		if len(ports) != 2 || ports["80/tcp"] == "" || ports["8080/tcp"] == "" {
			t.Fatalf("docker port %s = %v, want 80/tcp and 8080/tcp", name, ports)
		}
		for cport, addr := range ports {
			ip, hp, _ := strings.Cut(addr, ":")
			n, err := strconv.Atoi(hp)
			if ip != "0.0.0.0" || err != nil || n < lo || n > hi {
				t.Errorf("%s %s published on %q: want 0.0.0.0 and a port in %d-%d", name, cport, addr, lo, hi)
			}
			if other, dup := seen[hp]; dup {
				t.Errorf("host port %s given twice (%s and %s %s)", hp, other, name, cport)
			}
			seen[hp] = name + " " + cport
			if inspect := strconv.Itoa(int(e.hostPort(name, cport))); inspect != hp {
				t.Errorf("inspect's host port for %s %s is %s, docker port says %s", name, cport, inspect, hp)
			}
			want := fmt.Sprintf("p%s-%d", strings.TrimSuffix(cport, "/tcp"), i)
			url := "http://127.0.0.1:" + hp + "/"
			eventually(t, "GET "+url, func() error {
				got, err := get(host, url)
				if err == nil && got != want {
					err = fmt.Errorf("got %q, want %q", got, want)
				}
				return err
			})
		}
	}
	e.removeAll()
}

// ephemeralRange is the kernel's ip_local_port_range, where -P's ports
// come from.
func ephemeralRange(t *testing.T) (int, int) {
	t.Helper()
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(data))
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		t.Fatalf("ip_local_port_range: %q", data)
	}
	return lo, hi
}

// udpEcho sends a datagram to addr and wants udpecho's answer.
func udpEcho(dial func(context.Context, string, string) (net.Conn, error), addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := dial(ctx, "udp4", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("datagram")); err != nil {
		return err
	}
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	if got := string(buf[:n]); got != "echo: datagram" {
		return fmt.Errorf("answer %q", got)
	}
	return nil
}

// freeUDPPort is a UDP port nothing listens on right now.
func freeUDPPort(t *testing.T) uint16 {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return uint16(pc.LocalAddr().(*net.UDPAddr).Port)
}
